//! Advice for `rnats check` about accounts and mappings that nats-server
//! takes without a word but that probably do not do what was meant:
//! overlapping mapping sources (which one wins depends, in nats-server, on
//! Go's map order at each start), weights that leave a remainder, and
//! weights that drop messages. Never an error, and never seen by `-t` (see
//! [`super::Loaded::advice`]).

use super::context::Builder;
use super::diag::Diagnostic;
use super::source::Span;
use crate::options::*;

/// Whether some subject matches both filters.
pub fn overlap(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(s), Some(t)) if s == "*" || t == "*" || s == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The advice for one account's (or `$G`'s) mappings, each with the
/// position of its source.
pub fn mappings(b: &mut Builder, built: &[(&MappingOptions, Span)]) {
    for (i, (m, at)) in built.iter().enumerate() {
        if let Some((first, first_at)) = built[..i].iter().find(|(e, _)| overlap(&e.source, &m.source)) {
            b.advice.push(
                Diagnostic::warning(
                    "mapping-overlap",
                    Some(*at),
                    format!(
                        "mapping sources `{}` and `{}` overlap: nats-server maps a subject matching both with \
                         either one, chosen anew at each start",
                        first.source, m.source
                    ),
                )
                .with_help(
                    "rnats always tries a literal source first, then wildcard sources in file order; make the \
                     sources disjoint to get the same result on both servers",
                ),
            );
            b.advice.push(Diagnostic::note(
                "mapping-overlap",
                Some(*first_at),
                format!("`{}` is defined here", first.source),
            ));
        }
        weights(b, m, *at);
    }
}

/// A weighted list that does not add up to 100, per cluster scope.
fn weights(b: &mut Builder, m: &MappingOptions, at: Span) {
    let listed = m.destinations.iter().any(|d| d.subject == m.source);
    let mut scopes: Vec<Option<&str>> = m.destinations.iter().map(|d| d.cluster.as_deref()).collect();
    scopes.dedup();
    for scope in scopes {
        let total: u32 = m.destinations.iter().filter(|d| d.cluster.as_deref() == scope).map(|d| d.weight as u32).sum();
        if total >= 100 {
            continue;
        }
        let rest = 100 - total;
        let within = scope.map_or(String::new(), |c| format!(" in cluster `{c}`"));
        if listed {
            b.advice.push(
                Diagnostic::warning(
                    "mapping-loss",
                    Some(at),
                    format!(
                        "the weights of `{}`{within} add up to {total}%: as the source itself is listed, the other \
                         {rest}% of its messages are dropped (artificial loss)",
                        m.source
                    ),
                )
                .with_help("if the loss is not meant, raise the weights to 100 or leave the source out of the list"),
            );
        } else {
            b.diags.push(Diagnostic::note(
                "mapping-remainder",
                Some(at),
                format!(
                    "the weights of `{}`{within} add up to {total}%: the other {rest}% of its messages stay on `{}`",
                    m.source, m.source
                ),
            ));
        }
    }
}

/// `no_auth_user` naming a user with a bcrypt password: nats-server cannot
/// log a client in as that user without credentials (nats-server#6928).
pub fn bcrypt_no_auth_user(b: &mut Builder, span: Option<Span>, opts: &Options) {
    let Some(name) = &opts.no_auth_user else { return };
    let users = opts.authorization.users.iter().chain(opts.accounts.iter().flat_map(|a| a.users.iter()));
    let bcrypt = users
        .filter(|u| u.user.as_deref() == Some(name))
        .any(|u| u.password.as_ref().is_some_and(|p| p.expose().starts_with("$2")));
    if bcrypt {
        b.advice.push(
            Diagnostic::warning(
                "no-auth-user-bcrypt",
                span,
                format!(
                    "no_auth_user `{name}` has a bcrypt password: nats-server may refuse the clients it should admit \
                     as this user (nats-server#6928)"
                ),
            )
            .with_help("rnats admits them; for nats-server too, give this user a plain password"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::overlap;

    #[test]
    fn overlaps() {
        assert!(overlap("a.*", "a.b"));
        assert!(overlap("a.>", "*.b.c"));
        assert!(overlap("a.*.c", "a.b.*"));
        assert!(!overlap("a.*", "a.b.c"));
        assert!(!overlap("a.>", "a"));
        assert!(!overlap("a.b", "a.c"));
    }
}
