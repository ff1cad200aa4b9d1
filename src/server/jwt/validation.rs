//! The outcome of validating claims (Go's `ValidationResults`): blocking
//! errors, time checks (expired, not yet valid) and warnings.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationIssue {
    pub description: String,
    pub blocking: bool,
    pub time_check: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationResults {
    pub issues: Vec<ValidationIssue>,
}

impl ValidationResults {
    pub fn new() -> ValidationResults {
        ValidationResults::default()
    }

    pub fn add_error(&mut self, description: impl Into<String>) {
        self.issues.push(ValidationIssue { description: description.into(), blocking: true, time_check: false });
    }

    pub fn add_time_check(&mut self, description: impl Into<String>) {
        self.issues.push(ValidationIssue { description: description.into(), blocking: false, time_check: true });
    }

    pub fn add_warning(&mut self, description: impl Into<String>) {
        self.issues.push(ValidationIssue { description: description.into(), blocking: false, time_check: false });
    }

    /// True if an error (or, with `include_time_checks`, an expiry or
    /// not-yet-valid time) makes the claims unusable. The server calls it
    /// with `true` at login and for account JWTs.
    pub fn is_blocking(&self, include_time_checks: bool) -> bool {
        self.issues.iter().any(|i| i.blocking || (include_time_checks && i.time_check))
    }

    pub fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }

    /// The blocking issues' texts.
    pub fn errors(&self) -> Vec<&str> {
        self.issues.iter().filter(|i| i.blocking).map(|i| i.description.as_str()).collect()
    }

    /// The non-blocking issues' texts (time checks and warnings).
    pub fn warnings(&self) -> Vec<&str> {
        self.issues.iter().filter(|i| !i.blocking).map(|i| i.description.as_str()).collect()
    }

    /// `[a b]`: the errors as the reference prints `vr.Errors()` with `%v`.
    pub fn errors_display(&self) -> String {
        format!("[{}]", self.errors().join(" "))
    }
}

/// As the reference prints `%+v` of the results in `User JWT no longer
/// valid: &{Issues:[claim is expired]}`.
impl fmt::Display for ValidationResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("&{Issues:[")?;
        for (n, issue) in self.issues.iter().enumerate() {
            if n > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&issue.description)?;
        }
        f.write_str("]}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_depends_on_time_checks() {
        let mut vr = ValidationResults::new();
        assert!(vr.is_empty() && !vr.is_blocking(true));
        vr.add_warning("w");
        assert!(!vr.is_blocking(true));
        vr.add_time_check("claim is expired");
        assert!(vr.is_blocking(true));
        assert!(!vr.is_blocking(false));
        vr.add_error("e");
        assert!(vr.is_blocking(false));
        assert_eq!(vr.errors(), ["e"]);
        assert_eq!(vr.warnings(), ["w", "claim is expired"]);
    }

    #[test]
    fn prints_like_the_reference_log() {
        let mut vr = ValidationResults::new();
        vr.add_time_check("claim is expired");
        assert_eq!(vr.to_string(), "&{Issues:[claim is expired]}");
        vr.add_error("subject cannot be empty");
        assert_eq!(vr.to_string(), "&{Issues:[claim is expired subject cannot be empty]}");
        assert_eq!(vr.errors_display(), "[subject cannot be empty]");
        assert_eq!(ValidationResults::new().to_string(), "&{Issues:[]}");
    }
}
