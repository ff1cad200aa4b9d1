//! Query strings read the way nats-server's handlers read them (Go's
//! `r.URL.Query().Get` and `strconv`), with its exact 400 texts, so tools that
//! show the server's message show the same one.
//!
//! - pairs are split on `&`; a pair holding `;` or a bad `%` escape is
//!   dropped (Go 1.17+); `+` is a space; the first value of a key wins;
//! - booleans are `strconv.ParseBool`'s (`1 t T TRUE true True`, and the
//!   false ones), integers `strconv.Atoi`'s, ids `strconv.ParseUint`'s;
//! - an empty value counts as absent.

use crate::server::errors::go_quote;

/// A parsed query string.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or_default().split('&') {
            if pair.is_empty() || pair.contains(';') {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if let (Some(k), Some(v)) = (unescape(k), unescape(v)) {
                pairs.push((k, v));
            }
        }
        Query { pairs }
    }

    /// A query made of `pairs` (the system account's request options).
    pub fn from_pairs(pairs: &[(String, String)]) -> Query {
        Query { pairs: pairs.to_vec() }
    }

    /// The first value of `key`, or "" (Go's `Values.Get`).
    pub fn get(&self, key: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    /// `decodeBool`: absent or empty is false.
    pub fn bool(&self, key: &str) -> Result<bool, String> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(false);
        }
        parse_bool(v).ok_or_else(|| {
            format!("Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax", q(v))
        })
    }

    /// `decodeInt`: absent or empty is 0.
    pub fn int(&self, key: &str) -> Result<i64, String> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        parse_int(v).map_err(|why| format!("Error decoding int for '{key}': strconv.Atoi: parsing {}: {why}", q(v)))
    }

    /// `decodeUint64`: absent or empty is 0.
    pub fn uint(&self, key: &str) -> Result<u64, String> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        parse_uint(v)
            .map_err(|why| format!("Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: {why}", q(v)))
    }

    /// `decodeSubs`: `detail` (any case) asks for details, else a boolean.
    pub fn subs(&self) -> Result<Subs, String> {
        if self.get("subs").eq_ignore_ascii_case("detail") {
            return Ok(Subs::Detail);
        }
        Ok(if self.bool("subs")? { Subs::List } else { Subs::None })
    }
}

/// How much of each connection's subscriptions a reply lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Subs {
    #[default]
    None,
    /// `subscriptions_list`: the subjects.
    List,
    /// `subscriptions_list_detail`: subject, queue, sid, counts.
    Detail,
}

fn q(v: &str) -> String {
    go_quote(v.as_bytes())
}

/// `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.Atoi` on a 64-bit platform: an optional sign, then decimal
/// digits only.
fn parse_int(v: &str) -> Result<i64, &'static str> {
    let (neg, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    let magnitude: u128 = digits
        .bytes()
        .try_fold(0u128, |acc, b| {
            let next = acc * 10 + (b - b'0') as u128;
            // Past this, the value is out of range whatever follows.
            (next <= u64::MAX as u128 * 10).then_some(next)
        })
        .ok_or("value out of range")?;
    if neg {
        if magnitude > i64::MAX as u128 + 1 {
            return Err("value out of range");
        }
        Ok((magnitude as i128).wrapping_neg() as i64)
    } else if magnitude > i64::MAX as u128 {
        Err("value out of range")
    } else {
        Ok(magnitude as i64)
    }
}

/// `strconv.ParseUint(v, 10, 64)`: decimal digits only, no sign.
fn parse_uint(v: &str) -> Result<u64, &'static str> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    let mut n: u64 = 0;
    for b in v.bytes() {
        n = n.checked_mul(10).and_then(|n| n.checked_add((b - b'0') as u64)).ok_or("value out of range")?;
    }
    Ok(n)
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` on a bad
/// escape. Bytes that are not UTF-8 are replaced (Go keeps them; no handler
/// can make use of them).
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let hi = b.get(i + 1).copied().and_then(hex)?;
                let lo = b.get(i + 2).copied().and_then(hex)?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.PathUnescape` of a request path (`%2F` stays a byte `/`, as in
/// Go, which then matches no route).
pub fn unescape_path(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    unescape(&s.replace('+', "%2B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_query_rules() {
        let q = Query::parse(Some("limit=1&limit=x&sort=%zz&a=x;y&subs=DETAIL&s=a+b&e="));
        assert_eq!(q.get("limit"), "1", "first value wins");
        assert_eq!(q.get("sort"), "", "a bad escape drops the pair");
        assert_eq!(q.get("a"), "", "a pair with ';' is dropped");
        assert_eq!(q.subs(), Ok(Subs::Detail));
        assert_eq!(q.get("s"), "a b");
        assert_eq!(q.int("e"), Ok(0), "empty is absent");
    }

    #[test]
    fn go_error_texts() {
        let q = Query::parse(Some(
            "limit=x&offset=1.5&cid=-1&auth=yes&big=99999999999999999999&plus=+5&neg=-9223372036854775808&under=1_0",
        ));
        assert_eq!(
            q.int("limit").unwrap_err(),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            q.int("offset").unwrap_err(),
            "Error decoding int for 'offset': strconv.Atoi: parsing \"1.5\": invalid syntax"
        );
        assert_eq!(
            q.uint("cid").unwrap_err(),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(
            q.bool("auth").unwrap_err(),
            "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            q.int("big").unwrap_err(),
            "Error decoding int for 'big': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            q.int("plus").unwrap_err(),
            "Error decoding int for 'plus': strconv.Atoi: parsing \" 5\": invalid syntax"
        );
        assert_eq!(q.int("neg"), Ok(i64::MIN));
        assert!(q.int("under").is_err());
        assert_eq!(Query::parse(Some("n=-0")).int("n"), Ok(0));
        assert_eq!(Query::parse(Some("n=%2B7")).int("n"), Ok(7));
        assert_eq!(Query::parse(Some("c=18446744073709551615")).uint("c"), Ok(u64::MAX));
        assert!(Query::parse(Some("c=18446744073709551616")).uint("c").unwrap_err().ends_with("value out of range"));
    }
}
