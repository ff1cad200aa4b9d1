//! The building blocks the claim types share (Go's `types.go`): subjects as
//! the library validates them, permissions, user and NATS limits, time
//! ranges, source CIDRs, and info fields.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ValidationResults;

/// A list of strings (Go's `StringList`).
pub type StringList = Vec<String>;
/// A list of tags (Go's `TagList`; writers lower-case them, readers do not).
pub type TagList = Vec<String>;

pub(crate) fn is_zero(n: &i64) -> bool {
    *n == 0
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Go's `StringList.Add`: appends unless present or empty.
pub(crate) fn list_add(list: &mut StringList, item: &str) {
    if !item.is_empty() && !list.iter().any(|s| s == item) {
        list.push(item.to_string());
    }
}

// ---------------------------------------------------------------- subjects

/// Go's `Subject.Validate`: not empty, no spaces, no leading, trailing or
/// doubled `.` (the library's rules, looser than the server's).
pub(crate) fn validate_subject(subject: &str, vr: &mut ValidationResults) {
    if subject.is_empty() {
        vr.add_error("subject cannot be empty");
        return;
    }
    let q = crate::server::errors::go_quote(subject);
    if subject.contains(' ') {
        vr.add_error(format!("subject {q} cannot have spaces"));
    }
    if subject.starts_with('.') || subject.ends_with('.') {
        vr.add_error(format!("subject {q} cannot start or end with a `.`"));
    }
    if subject.contains("..") {
        vr.add_error(format!("subject {q} cannot contain consecutive `.`"));
    }
}

/// Go's `Subject.HasWildCards`.
pub(crate) fn has_wildcards(subject: &str) -> bool {
    subject.ends_with(".>")
        || subject.contains(".*.")
        || subject.ends_with(".*")
        || subject.starts_with("*.")
        || subject == "*"
        || subject == ">"
}

/// Go's `Subject.IsContainedIn`: `subject` is covered by `other`.
pub(crate) fn is_contained_in(subject: &str, other: &str) -> bool {
    let others: Vec<&str> = other.split('.').collect();
    let mine: Vec<&str> = subject.split('.').collect();
    let last_is_fwc = others.last() == Some(&">");
    if mine.len() > others.len() && !last_is_fwc {
        return false;
    }
    if mine.len() < others.len() {
        return false;
    }
    for (i, tok) in others.iter().enumerate() {
        if i == others.len() - 1 && *tok == ">" {
            return true;
        }
        if *tok != mine[i] && *tok != "*" {
            return false;
        }
    }
    true
}

pub(crate) fn count_token_wildcards(subject: &str) -> usize {
    if subject == "*" {
        return 1;
    }
    subject.split('.').filter(|t| *t == "*").count()
}

/// `$<n>` tokens of a renaming subject.
fn reference_index(token: &str) -> Option<usize> {
    let digits = token.strip_prefix('$')?;
    if digits.is_empty() {
        return None;
    }
    // Go's strconv.Atoi: an optional sign, then digits.
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A negative reference parses in Go and is never above the count.
    if digits.starts_with('-') {
        return Some(0);
    }
    unsigned.parse::<i64>().ok().map(|n| n as usize)
}

/// Go's `RenamingSubject.Validate` (an import's `local_subject`).
pub(crate) fn validate_renaming_subject(subject: &str, from: &str, vr: &mut ValidationResults) {
    validate_subject(subject, vr);
    if from.is_empty() {
        vr.add_error("subject cannot be empty");
    }
    if subject.contains(' ') {
        vr.add_error(format!("subject {} cannot have spaces", crate::server::errors::go_quote(subject)));
    }
    let matches_suffix = |s: &str| s == ">" || s.ends_with(".>");
    if matches_suffix(subject) != matches_suffix(from) {
        vr.add_error("both, renaming subject and subject, need to end or not end in >");
    }
    let from_count = count_token_wildcards(from);
    let mut ref_count = 0;
    for token in subject.split('.') {
        if token == "*" {
            ref_count += 1;
        }
        if token.len() < 2 {
            continue;
        }
        if let Some(idx) = reference_index(token) {
            if idx > from_count {
                vr.add_error(format!(
                    "Reference ${idx} in {} reference * in {} that do not exist",
                    crate::server::errors::go_quote(subject),
                    crate::server::errors::go_quote(from)
                ));
            } else {
                ref_count += 1;
            }
        }
    }
    if ref_count != from_count {
        vr.add_error("subject does not contain enough * or reference wildcards $[0-9]");
    }
}

/// Go's `RenamingSubject.ToSubject`: `$<n>` tokens become `*`.
pub(crate) fn renaming_to_subject(subject: &str) -> String {
    if !subject.contains('$') {
        return subject.to_string();
    }
    subject
        .split('.')
        .map(|t| if t.len() > 1 && reference_index(t).is_some() { "*" } else { t })
        .collect::<Vec<_>>()
        .join(".")
}

// ------------------------------------------------------------ permissions

/// Allow and deny lists of subjects (`sub` entries may carry a queue:
/// `"subject queue"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: StringList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: StringList,
}

impl Permission {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    fn validate(&self, vr: &mut ValidationResults, permit_queue: bool) {
        for subject in self.allow.iter().chain(&self.deny) {
            check_permission(vr, subject, permit_queue);
        }
    }
}

fn check_permission(vr: &mut ValidationResults, subject: &str, permit_queue: bool) {
    let tokens: Vec<&str> = subject.split(' ').collect();
    match tokens.len() {
        1 => validate_subject(tokens[0], vr),
        2 => {
            validate_subject(tokens[0], vr);
            validate_subject(tokens[1], vr);
            if !permit_queue {
                vr.add_error(format!("Permission Subject \"{subject}\" is not allowed to contain queue"));
            }
        }
        _ => vr.add_error(format!("Permission Subject \"{subject}\" contains too many spaces")),
    }
}

/// `allow_responses`: replies to received requests may be published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponsePermission {
    #[serde(rename = "max")]
    pub max_msgs: i64,
    /// Nanoseconds (Go's `time.Duration`).
    #[serde(rename = "ttl")]
    pub ttl_nanos: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permissions {
    #[serde(rename = "pub")]
    pub publish: Permission,
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    #[serde(rename = "resp", skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponsePermission>,
}

impl Permissions {
    pub(crate) fn validate(&self, vr: &mut ValidationResults) {
        self.subscribe.validate(vr, true);
        self.publish.validate(vr, false);
    }

    /// False when nothing is set, in which case the server applies the
    /// account's default permissions (`buildPermissionsFromJwt` returns nil).
    pub fn is_specified(&self) -> bool {
        !self.publish.is_empty() || !self.subscribe.is_empty() || self.response.is_some()
    }
}

// ------------------------------------------------------------------ limits

/// Connection, message and byte limits; `-1` is unlimited, `0` is unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsLimits {
    #[serde(skip_serializing_if = "is_zero")]
    pub subs: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub data: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub payload: i64,
}

impl NatsLimits {
    pub const UNLIMITED: NatsLimits = NatsLimits { subs: -1, data: -1, payload: -1 };

    pub fn is_unlimited(&self) -> bool {
        *self == NatsLimits::UNLIMITED
    }
}

/// A daily connect window, `HH:MM:SS` each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeRange {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub end: String,
}

/// Parses a wall-clock time as Go's `time.Parse("15:04:05", ...)` does: an
/// hour of one or two digits, two-digit minutes and seconds, an optional
/// fraction of a second (ignored).
pub(crate) fn parse_clock(text: &str) -> Option<(i8, i8, i8)> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).filter(|c| c.is_ascii_digit()).map(|c| (c - b'0') as i8);
    let mut i = 0;
    let mut hour = digit(i)?;
    i += 1;
    if let Some(d) = digit(i) {
        hour = hour * 10 + d;
        i += 1;
    }
    if hour >= 24 || b.get(i) != Some(&b':') {
        return None;
    }
    let minute = digit(i + 1)? * 10 + digit(i + 2)?;
    if minute >= 60 || b.get(i + 3) != Some(&b':') {
        return None;
    }
    let second = digit(i + 4)? * 10 + digit(i + 5)?;
    if second >= 60 {
        return None;
    }
    i += 6;
    if matches!(b.get(i), Some(b'.' | b',')) && digit(i + 1).is_some() {
        i += 1;
        while digit(i).is_some() {
            i += 1;
        }
    }
    (i == b.len()).then_some((hour, minute, second))
}

impl TimeRange {
    fn validate(&self, vr: &mut ValidationResults) {
        if self.start.is_empty() {
            vr.add_error("time ranges start must contain a start");
        } else if parse_clock(&self.start).is_none() {
            vr.add_error(format!("start in time range is invalid {}", crate::server::errors::go_quote(&self.start)));
        }
        if self.end.is_empty() {
            vr.add_error("time ranges end must contain an end");
        } else if parse_clock(&self.end).is_none() {
            vr.add_error(format!("end in time range is invalid {}", crate::server::errors::go_quote(&self.end)));
        }
    }
}

/// Source networks a user may connect from. In JSON either a list or one
/// comma-separated string (which, as in Go, is lower-cased, trimmed and
/// de-duplicated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(pub Vec<String>);

impl CidrList {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Go's `CIDRList.Set`.
    pub fn set(&mut self, values: &str) {
        self.0.clear();
        for v in values.to_lowercase().split(',') {
            let v = v.trim().to_lowercase();
            if !v.is_empty() && !self.0.contains(&v) {
                self.0.push(v);
            }
        }
    }
}

impl Serialize for CidrList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CidrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CidrList, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            Text(String),
        }
        Ok(match Form::deserialize(d)? {
            Form::List(list) => CidrList(list),
            Form::Text(text) => {
                let mut list = CidrList::default();
                list.set(&text);
                list
            }
        })
    }
}

/// A parsed network of a `src` list, normalised as Go's `net.IPNet` compares
/// (IPv4-mapped IPv6 networks and addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    v4: bool,
    bits: u128,
    prefix: u32,
}

fn normalise(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (true, u32::from(v4) as u128),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (true, u32::from(v4) as u128),
            None => (false, u128::from(v6)),
        },
    }
}

impl Cidr {
    /// Go's `net.ParseCIDR`: an address without zone, `/`, a decimal prefix
    /// length that fits the address.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (addr, mask) = text.split_once('/')?;
        let ip: IpAddr = addr.parse().ok()?;
        if mask.is_empty() || !mask.bytes().all(|b| b.is_ascii_digit()) || mask.len() > 8 {
            return None;
        }
        let n: u32 = mask.parse().ok()?;
        let width = if ip.is_ipv4() { 32 } else { 128 };
        if n > width {
            return None;
        }
        let mapped = matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        let (v4, bits) = normalise(ip);
        let prefix = if mapped { n.saturating_sub(96) } else { n };
        Some(Cidr { v4, bits, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (v4, bits) = normalise(ip);
        if v4 != self.v4 {
            return false;
        }
        let width = if v4 { 32 } else { 128 };
        if self.prefix == 0 {
            return true;
        }
        let shift = width - self.prefix;
        (bits >> shift) == (self.bits >> shift)
    }
}

/// Where and when a user may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserLimits {
    #[serde(skip_serializing_if = "CidrList::is_empty")]
    pub src: CidrList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    /// IANA zone the `times` are in (server local time when empty).
    #[serde(rename = "times_location", skip_serializing_if = "String::is_empty")]
    pub locale: String,
}

/// A user's (or scope template's) limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    #[serde(flatten)]
    pub user: UserLimits,
    #[serde(flatten)]
    pub nats: NatsLimits,
}

/// Loads an IANA zone as Go's `time.LoadLocation` does (`""` and `UTC` are
/// UTC, `Local` is the system zone).
pub(crate) fn load_location(name: &str) -> Result<jiff::tz::TimeZone, String> {
    match name {
        "" | "UTC" => Ok(jiff::tz::TimeZone::UTC),
        "Local" => Ok(jiff::tz::TimeZone::system()),
        _ => jiff::tz::TimeZone::get(name).map_err(|_| format!("unknown time zone {name}")),
    }
}

impl Limits {
    pub(crate) fn validate(&self, vr: &mut ValidationResults) {
        for cidr in &self.user.src.0 {
            if Cidr::parse(cidr).is_none() {
                vr.add_error(format!("invalid cidr {} in user src limits", crate::server::errors::go_quote(cidr)));
            }
        }
        for t in &self.user.times {
            t.validate(vr);
        }
        if !self.user.locale.is_empty() {
            if let Err(e) = load_location(&self.user.locale) {
                vr.add_error(format!("could not parse iana time zone by name: {e}"));
            }
        }
    }
}

// -------------------------------------------------------------------- info

/// Longest description or info URL the library accepts.
pub const MAX_INFO_LENGTH: usize = 8 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Info {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
}

/// The parts of a URL the library's checks look at, split as Go's
/// `url.Parse` does for the URLs these claims carry.
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub has_user: bool,
    pub hostname: &'a str,
    pub path: &'a str,
}

pub(crate) fn split_url(text: &str) -> Result<UrlParts<'_>, String> {
    let no_fragment = text.split('#').next().unwrap_or("");
    let (rest, _query) = no_fragment.split_once('?').unwrap_or((no_fragment, ""));
    let mut parts = UrlParts { scheme: "", has_user: false, hostname: "", path: rest };
    let scheme_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')));
    let after_scheme = match scheme_end {
        Some(0) if rest.starts_with(':') => {
            return Err(format!("parse {}: missing protocol scheme", crate::server::errors::go_quote(text)))
        }
        Some(end) if rest.as_bytes()[end] == b':' && rest.as_bytes()[0].is_ascii_alphabetic() => {
            parts.scheme = &rest[..end];
            &rest[end + 1..]
        }
        _ => return Ok(parts),
    };
    parts.path = after_scheme;
    if let Some(authority_and_path) = after_scheme.strip_prefix("//") {
        let slash = authority_and_path.find('/').unwrap_or(authority_and_path.len());
        let authority = &authority_and_path[..slash];
        parts.path = &authority_and_path[slash..];
        let host = match authority.rsplit_once('@') {
            Some((_, host)) => {
                parts.has_user = true;
                host
            }
            None => authority,
        };
        parts.hostname = if let Some(bracketed) = host.strip_prefix('[') {
            bracketed.split(']').next().unwrap_or("")
        } else {
            host.split(':').next().unwrap_or("")
        };
    }
    Ok(parts)
}

impl Info {
    pub(crate) fn validate(&self, vr: &mut ValidationResults) {
        if self.description.len() > MAX_INFO_LENGTH {
            vr.add_error("Description is too long");
        }
        if !self.info_url.is_empty() {
            if self.info_url.len() > MAX_INFO_LENGTH {
                vr.add_error("Info URL is too long");
            }
            let err = match split_url(&self.info_url) {
                Ok(u) if u.hostname.is_empty() || u.scheme.is_empty() => Some("no hostname or scheme".to_string()),
                Ok(_) => None,
                Err(e) => Some(e),
            };
            if let Some(err) = err {
                vr.add_error(format!("error parsing info url: {err}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(f: impl FnOnce(&mut ValidationResults)) -> Vec<String> {
        let mut vr = ValidationResults::new();
        f(&mut vr);
        vr.issues.into_iter().map(|i| i.description).collect()
    }

    #[test]
    fn subjects_as_the_library_validates_them() {
        assert!(issues(|vr| validate_subject("foo.*.>", vr)).is_empty());
        assert_eq!(issues(|vr| validate_subject("", vr)), ["subject cannot be empty"]);
        assert_eq!(
            issues(|vr| validate_subject(".a b..", vr)),
            [
                "subject \".a b..\" cannot have spaces",
                "subject \".a b..\" cannot start or end with a `.`",
                "subject \".a b..\" cannot contain consecutive `.`"
            ]
        );
    }

    #[test]
    fn wildcards_and_containment() {
        for (s, w) in [("a.>", true), ("a.*.b", true), ("*.a", true), ("*", true), (">", true), ("a.b", false)] {
            assert_eq!(has_wildcards(s), w, "{s}");
        }
        // Go's own quirk: a `>` in the middle is not a wildcard here.
        assert!(!has_wildcards("a.>.b"));
        assert!(is_contained_in("a.b", "a.*"));
        assert!(is_contained_in("a.b.c", "a.>"));
        assert!(is_contained_in("a.b", "a.b"));
        assert!(!is_contained_in("a", "a.*"));
        assert!(!is_contained_in("a.b.c", "a.*"));
        assert!(!is_contained_in("b.c", "a.*"));
        assert_eq!(count_token_wildcards("*"), 1);
        assert_eq!(count_token_wildcards("a.*.*.>"), 2);
    }

    #[test]
    fn renaming_subjects() {
        assert!(issues(|vr| validate_renaming_subject("x.$2.$1", "a.*.*", vr)).is_empty());
        assert!(issues(|vr| validate_renaming_subject("x.>", "a.>", vr)).is_empty());
        assert_eq!(
            issues(|vr| validate_renaming_subject("x.$3", "a.*", vr)),
            [
                "Reference $3 in \"x.$3\" reference * in \"a.*\" that do not exist",
                "subject does not contain enough * or reference wildcards $[0-9]"
            ]
        );
        assert_eq!(
            issues(|vr| validate_renaming_subject("x", "a.>", vr)),
            ["both, renaming subject and subject, need to end or not end in >"]
        );
        assert_eq!(renaming_to_subject("x.$2.$1.y"), "x.*.*.y");
        assert_eq!(renaming_to_subject("x.$a"), "x.$a");
    }

    #[test]
    fn permission_subjects_and_queues() {
        let p = Permissions {
            publish: Permission { allow: vec!["a".into(), "b q".into()], deny: vec![] },
            subscribe: Permission { allow: vec!["c q".into(), "d e f".into()], deny: vec!["".into()] },
            response: None,
        };
        assert_eq!(
            issues(|vr| p.validate(vr)),
            [
                "Permission Subject \"d e f\" contains too many spaces",
                "subject cannot be empty",
                "Permission Subject \"b q\" is not allowed to contain queue"
            ]
        );
        assert!(p.is_specified());
        assert!(!Permissions::default().is_specified());
    }

    #[test]
    fn permissions_json_keeps_pub_and_sub() {
        let p = Permissions::default();
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"pub":{},"sub":{}}"#);
        let p: Permissions =
            serde_json::from_str(r#"{"pub":{"allow":["a"]},"resp":{"max":1,"ttl":5000000000}}"#).unwrap();
        assert_eq!(p.publish.allow, ["a"]);
        assert_eq!(p.response, Some(ResponsePermission { max_msgs: 1, ttl_nanos: 5_000_000_000 }));
    }

    #[test]
    fn clock_times_parse_like_go() {
        assert_eq!(parse_clock("09:05:00"), Some((9, 5, 0)));
        assert_eq!(parse_clock("9:05:00"), Some((9, 5, 0)));
        assert_eq!(parse_clock("23:59:59.999"), Some((23, 59, 59)));
        for bad in ["24:00:00", "09:5:00", "09:05", "09:05:00 ", "09:60:00", "09:05:61", "", "ab:cd:ef", "09:05:00."] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
        assert_eq!(
            issues(|vr| TimeRange { start: "".into(), end: "25:00:00".into() }.validate(vr)),
            ["time ranges start must contain a start", "end in time range is invalid \"25:00:00\""]
        );
    }

    #[test]
    fn src_lists_read_both_forms() {
        let list: CidrList = serde_json::from_str(r#"["10.0.0.0/8","::1/128"]"#).unwrap();
        assert_eq!(list.0, ["10.0.0.0/8", "::1/128"]);
        let list: CidrList = serde_json::from_str(r#"" 10.0.0.0/8, 10.0.0.0/8,,FE80::/10""#).unwrap();
        assert_eq!(list.0, ["10.0.0.0/8", "fe80::/10"]);
        assert!(serde_json::from_str::<CidrList>("5").is_err());
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"["10.0.0.0/8","fe80::/10"]"#);
    }

    #[test]
    fn cidrs_parse_and_match_like_go() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.1.2.3")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("::1")));
        let any4 = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(any4.contains(ip("127.0.0.1")) && !any4.contains(ip("::1")));
        // A pure IPv6 network never holds an IPv4 client.
        let any6 = Cidr::parse("::/0").unwrap();
        assert!(any6.contains(ip("::1")) && !any6.contains(ip("127.0.0.1")));
        // An IPv4-mapped network counts as IPv4 with the last 32 bits of its mask.
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.contains(ip("10.9.9.9")) && !mapped.contains(ip("11.0.0.0")));
        assert!(Cidr::parse("127.0.0.1/32").unwrap().contains(ip("127.0.0.1")));
        assert!(Cidr::parse("10.0.0.0/08").is_some());
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "010.0.0.0/8", "fe80::1%eth0/64", "x/8"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        let limits = Limits {
            user: UserLimits { src: CidrList(vec!["nope".into()]), times: vec![], locale: "Mars/Olympus".into() },
            nats: NatsLimits::default(),
        };
        assert_eq!(
            issues(|vr| limits.validate(vr)),
            [
                "invalid cidr \"nope\" in user src limits",
                "could not parse iana time zone by name: unknown time zone Mars/Olympus"
            ]
        );
    }

    #[test]
    fn limits_flatten_into_one_object() {
        let l = Limits {
            user: UserLimits { src: CidrList(vec!["1.2.3.4/32".into()]), times: vec![], locale: String::new() },
            nats: NatsLimits::UNLIMITED,
        };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(text, r#"{"src":["1.2.3.4/32"],"subs":-1,"data":-1,"payload":-1}"#);
        assert_eq!(serde_json::from_str::<Limits>(&text).unwrap(), l);
    }

    #[test]
    fn urls_split_like_go() {
        let u = split_url("https://user@host.example:8080/path?q#f").unwrap();
        assert_eq!((u.scheme, u.has_user, u.hostname, u.path), ("https", true, "host.example", "/path"));
        let u = split_url("nats://[::1]:4222").unwrap();
        assert_eq!((u.scheme, u.hostname, u.path), ("nats", "::1", ""));
        let u = split_url("host:4222").unwrap();
        assert_eq!((u.scheme, u.hostname), ("host", ""));
        let u = split_url("just-a-path").unwrap();
        assert_eq!((u.scheme, u.hostname), ("", ""));
        assert!(split_url(":nope").is_err());
        assert!(issues(|vr| Info { description: "d".into(), info_url: "https://docs.nats.io/x".into() }.validate(vr))
            .is_empty());
        assert_eq!(
            issues(|vr| Info { description: "x".repeat(MAX_INFO_LENGTH + 1), info_url: "docs".into() }.validate(vr)),
            ["Description is too long", "error parsing info url: no hostname or scheme"]
        );
    }
}
