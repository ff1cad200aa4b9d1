//! The connect-time restrictions of a user JWT, as the reference checks
//! them: the nonce signature, `src` networks, `times` windows (in
//! `times_location`), `allowed_connection_types`, and when the connection
//! must be closed (the earlier of `exp` and the end of the current window).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, ZonedDateTime};

use super::codec::{go_quote_list, signature_decode};
use super::types::{load_location, parse_clock, Cidr, TimeRange};
use super::{ClaimsData, ConnectionType, UserClaims};

/// Why a nonce signature was refused (texts of the reference's debug lines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Signature missing")]
    Missing,
    #[error("Signature not valid base64")]
    NotBase64,
    #[error("User nkey not valid: {0}")]
    BadUserKey(String),
    #[error("Signature not verified")]
    NotVerified,
}

/// Checks CONNECT's `sig` over the server's nonce with the user's key (the
/// JWT's subject). `sig` is base64url, or standard base64 with padding.
pub fn verify_nonce_signature(user_key: &str, nonce: &[u8], sig: Option<&str>) -> Result<(), SignatureError> {
    let sig = match sig {
        None | Some("") => return Err(SignatureError::Missing),
        Some(s) => s,
    };
    let sig = signature_decode(sig).ok_or(SignatureError::NotBase64)?;
    let key = nkeys::KeyPair::from_public_key(user_key).map_err(|e| SignatureError::BadUserKey(e.to_string()))?;
    key.verify(nonce, &sig).map_err(|_| SignatureError::NotVerified)
}

/// The reference's `validateSrc`: no `src` allows every address; otherwise
/// the client's address must be in one of the networks (a network that does
/// not parse refuses the login).
pub fn validate_src(user: &UserClaims, client: Option<IpAddr>) -> bool {
    let src = &user.src().0;
    if src.is_empty() {
        return true;
    }
    let Some(ip) = client else {
        return false;
    };
    for cidr in src {
        match Cidr::parse(cidr) {
            None => return false,
            Some(net) if net.contains(ip) => return true,
            Some(_) => {}
        }
    }
    false
}

/// The zone the `times` are in; `None` when `times_location` is unknown.
fn zone_of(user: &UserClaims) -> Option<TimeZone> {
    let locale = &user.limits().user.locale;
    if locale.is_empty() {
        Some(TimeZone::system())
    } else {
        load_location(locale).ok()
    }
}

/// `start..end` of `range` on `date` in `tz`, as Go's `time.Date` builds them.
fn window_on(range: &TimeRange, date: Date, tz: &TimeZone) -> Option<(ZonedDateTime, ZonedDateTime)> {
    let (sh, sm, ss) = parse_clock(&range.start)?;
    let (eh, em, es) = parse_clock(&range.end)?;
    let start = date.at(sh, sm, ss, 0).to_zoned_datetime(tz.clone()).ok()?;
    let end = date.at(eh, em, es, 0).to_zoned_datetime(tz.clone()).ok()?;
    Some((start, end))
}

fn until(end: &ZonedDateTime, now: Timestamp) -> Duration {
    Duration::try_from(end.timestamp().duration_since(now)).unwrap_or_default()
}

/// The reference's `validateTimeRangeAt`: is `now` strictly inside the
/// window (which may cross midnight), and for how long.
fn in_window(start: &ZonedDateTime, end: &ZonedDateTime, now: Timestamp) -> Option<Duration> {
    let (s, e) = (start.timestamp(), end.timestamp());
    if s < now && e > now {
        return Some(until(end, now));
    }
    if s > e {
        if e > now {
            return Some(until(end, now));
        }
        let next_end = end.checked_add(1.day()).ok()?;
        if s < now && next_end.timestamp() > now {
            return Some(until(&next_end, now));
        }
    }
    None
}

/// The reference's `validateTimesAt`: `(allowed, valid_for)`. No `times`:
/// allowed with no end. Otherwise allowed if `now` is inside a window, for
/// the longest time left among the windows it is in.
pub fn validate_times_at(user: &UserClaims, now: Timestamp) -> (bool, Option<Duration>) {
    let times = &user.limits().user.times;
    if times.is_empty() {
        return (true, None);
    }
    let Some(tz) = zone_of(user) else {
        return (false, None);
    };
    let today = now.to_zoned_datetime(tz.clone()).date();
    let mut best: Option<Duration> = None;
    for range in times {
        let Some((start, end)) = window_on(range, today, &tz) else {
            return (false, None);
        };
        if let Some(left) = in_window(&start, &end, now) {
            if best.is_none_or(|b| left > b) {
                best = Some(left);
            }
        }
    }
    (best.is_some(), best)
}

/// How long a connection may stay (the reference's `setExpiration`): until
/// `exp` (whole seconds from `now`), or the end of the connect window if
/// that comes first; `None` when neither is set.
pub fn expires_in(claims: &ClaimsData, valid_for: Option<Duration>, now: Timestamp) -> Option<Duration> {
    let valid_for = valid_for.filter(|d| !d.is_zero());
    if claims.expires == 0 {
        return valid_for;
    }
    let now = now.as_second();
    let to_exp = Duration::from_secs(claims.expires.saturating_sub(now).max(0) as u64);
    match valid_for {
        Some(v) if v < to_exp => Some(v),
        _ => Some(to_exp),
    }
}

/// The reference's `convertAllowedConnectionTypes`: the known types (upper
/// case), and the unknown ones as its error text (`invalid connection types
/// ["X"]`). An empty set allows every type.
pub fn allowed_connection_types(list: &[String]) -> (BTreeSet<ConnectionType>, Option<String>) {
    let mut known = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in list {
        match ConnectionType::parse(name) {
            Some(t) => {
                known.insert(t);
            }
            None => unknown.push(name.to_uppercase()),
        }
    }
    let err = (!unknown.is_empty()).then(|| format!("invalid connection types {}", go_quote_list(&unknown)));
    (known, err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::CidrList;
    use nkeys::KeyPair;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn user_with_times(times: &[(&str, &str)], locale: &str) -> UserClaims {
        let mut u = UserClaims::new("UX");
        u.nats.permission_limits.limits.user.times =
            times.iter().map(|(s, e)| TimeRange { start: s.to_string(), end: e.to_string() }).collect();
        u.nats.permission_limits.limits.user.locale = locale.into();
        u
    }

    #[test]
    fn nonce_signatures() {
        let user = KeyPair::new_user();
        let nonce = b"fake-nonce-1234";
        let sig = user.sign(nonce).unwrap();
        let url = crate::server::jwt::codec::b64url_encode(&sig);
        assert_eq!(verify_nonce_signature(&user.public_key(), nonce, Some(&url)), Ok(()));
        use base64::Engine as _;
        let std = base64::engine::general_purpose::STANDARD.encode(&sig);
        assert_eq!(verify_nonce_signature(&user.public_key(), nonce, Some(&std)), Ok(()));
        assert_eq!(verify_nonce_signature(&user.public_key(), nonce, None), Err(SignatureError::Missing));
        assert_eq!(verify_nonce_signature(&user.public_key(), nonce, Some("")), Err(SignatureError::Missing));
        assert_eq!(
            verify_nonce_signature(&user.public_key(), nonce, Some("***")).unwrap_err().to_string(),
            "Signature not valid base64"
        );
        assert_eq!(
            verify_nonce_signature(&user.public_key(), b"other nonce", Some(&url)).unwrap_err().to_string(),
            "Signature not verified"
        );
        assert!(matches!(verify_nonce_signature("UBAD", nonce, Some(&url)), Err(SignatureError::BadUserKey(_))));
    }

    #[test]
    fn src_networks() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let mut u = UserClaims::new("UX");
        assert!(validate_src(&u, None));
        u.nats.permission_limits.limits.user.src = CidrList(vec!["10.0.0.0/8".into(), "127.0.0.1/32".into()]);
        assert!(validate_src(&u, ip("127.0.0.1")));
        assert!(validate_src(&u, ip("10.2.3.4")));
        assert!(!validate_src(&u, ip("192.168.0.1")));
        assert!(!validate_src(&u, None));
        // A bad network refuses, even when a later one would match.
        u.nats.permission_limits.limits.user.src = CidrList(vec!["bad".into(), "0.0.0.0/0".into()]);
        assert!(!validate_src(&u, ip("127.0.0.1")));
    }

    #[test]
    fn times_in_a_zone() {
        let u = user_with_times(&[("09:00:00", "17:00:00")], "America/New_York");
        // 2026-01-15 12:00 in New York is 17:00 UTC.
        let (ok, left) = validate_times_at(&u, ts("2026-01-15T17:00:00Z"));
        assert!(ok);
        assert_eq!(left, Some(Duration::from_secs(5 * 3600)));
        assert_eq!(validate_times_at(&u, ts("2026-01-15T23:00:00Z")), (false, None));
        // The window's ends are outside it.
        assert!(!validate_times_at(&u, ts("2026-01-15T14:00:00Z")).0);
        assert_eq!(validate_times_at(&UserClaims::new("UX"), ts("2026-01-15T14:00:00Z")), (true, None));
    }

    #[test]
    fn times_across_midnight_and_overlaps() {
        let u = user_with_times(&[("22:00:00", "06:00:00")], "UTC");
        assert_eq!(validate_times_at(&u, ts("2026-03-01T05:00:00Z")), (true, Some(Duration::from_secs(3600))));
        assert_eq!(
            validate_times_at(&u, ts("2026-03-01T23:30:00Z")),
            (true, Some(Duration::from_secs(6 * 3600 + 1800)))
        );
        assert_eq!(validate_times_at(&u, ts("2026-03-01T12:00:00Z")), (false, None));
        // Among overlapping windows, the longest time left wins.
        let u = user_with_times(&[("08:00:00", "10:00:00"), ("08:30:00", "12:00:00")], "UTC");
        assert_eq!(validate_times_at(&u, ts("2026-03-01T09:00:00Z")), (true, Some(Duration::from_secs(3 * 3600))));
        // An unknown zone or a bad range refuses.
        let u = user_with_times(&[("08:00:00", "10:00:00")], "Nowhere/Land");
        assert_eq!(validate_times_at(&u, ts("2026-03-01T09:00:00Z")), (false, None));
        let u = user_with_times(&[("8", "10:00:00")], "UTC");
        assert_eq!(validate_times_at(&u, ts("2026-03-01T09:00:00Z")), (false, None));
    }

    #[test]
    fn expiry_is_the_earlier_of_exp_and_the_window() {
        let now = Timestamp::from_second(1_000).unwrap();
        let exp = |e| ClaimsData { expires: e, ..Default::default() };
        assert_eq!(expires_in(&exp(0), None, now), None);
        assert_eq!(expires_in(&exp(0), Some(Duration::from_secs(5)), now), Some(Duration::from_secs(5)));
        assert_eq!(expires_in(&exp(1_010), None, now), Some(Duration::from_secs(10)));
        assert_eq!(expires_in(&exp(1_010), Some(Duration::from_secs(5)), now), Some(Duration::from_secs(5)));
        assert_eq!(expires_in(&exp(1_010), Some(Duration::from_secs(50)), now), Some(Duration::from_secs(10)));
        // Already past: close now.
        assert_eq!(expires_in(&exp(900), None, now), Some(Duration::ZERO));
    }

    #[test]
    fn connection_type_lists() {
        let (known, err) = allowed_connection_types(&["websocket".into(), "STANDARD".into()]);
        assert_eq!(known.into_iter().collect::<Vec<_>>(), [ConnectionType::Standard, ConnectionType::Websocket]);
        assert_eq!(err, None);
        let (known, err) = allowed_connection_types(&["quic".into(), "MQTT".into(), "x".into()]);
        assert_eq!(known.len(), 1);
        assert_eq!(err.unwrap(), "invalid connection types [\"QUIC\" \"X\"]");
    }
}
