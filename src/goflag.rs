//! Command lines the way Go's `flag` package reads them, for the flags that
//! mirror Go tools: nats-server's (`-port 4222`, `-DV`, `--port=4222`) and
//! nats-top's (`-sort subs`, `-n 5`). clap cannot read these: one dash before
//! a long name, and flags named like several short ones (`-DV`).
//!
//! Every flag works with one dash or two; a value comes as `-p 4222`,
//! `-p=4222` or `--p=4222`; a boolean flag takes a value only after `=`
//! (`-T=false`). Flags end at `--` or at the first word that is not a flag.
//! The caller says which names exist and which of them take a value.

/// What went wrong, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoFlagError {
    #[error("bad flag syntax: {0}")]
    Syntax(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid boolean value {value:?} for -{flag}: parse error")]
    BadBool { flag: String, value: String },
}

/// One flag as written: its name and the value after `=`, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag<'a> {
    pub name: &'a str,
    pub inline: Option<&'a str>,
}

/// A cursor over the arguments: [`GoFlags::next_flag`] yields the flags one
/// by one; the caller, which knows the flag's kind, then takes its value
/// with [`GoFlags::value`] or [`GoFlags::boolean`].
pub struct GoFlags<'a> {
    args: &'a [String],
    pos: usize,
}

impl<'a> GoFlags<'a> {
    pub fn new(args: &'a [String]) -> GoFlags<'a> {
        GoFlags { args, pos: 0 }
    }

    /// The next flag, or `None` at the end, after `--`, or at a word that is
    /// not a flag (`-` alone is a word, as in Go).
    pub fn next_flag(&mut self) -> Result<Option<Flag<'a>>, GoFlagError> {
        let Some(arg) = self.args.get(self.pos) else { return Ok(None) };
        if arg == "--" {
            self.pos += 1;
            return Ok(None);
        }
        if !arg.starts_with('-') || arg == "-" {
            return Ok(None);
        }
        self.pos += 1;
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(GoFlagError::Syntax(arg.clone()));
        }
        Ok(Some(match body.split_once('=') {
            Some((name, v)) => Flag { name, inline: Some(v) },
            None => Flag { name: body, inline: None },
        }))
    }

    /// The value of a flag that takes one: after `=`, else the next argument.
    pub fn value(&mut self, flag: &Flag<'a>) -> Result<&'a str, GoFlagError> {
        if let Some(v) = flag.inline {
            return Ok(v);
        }
        let v = self.args.get(self.pos).ok_or_else(|| GoFlagError::MissingValue(flag.name.to_string()))?;
        self.pos += 1;
        Ok(v)
    }

    /// The value of a boolean flag: true, unless `=` gives another.
    pub fn boolean(flag: &Flag<'_>) -> Result<bool, GoFlagError> {
        match flag.inline {
            None => Ok(true),
            Some(v) => parse_go_bool(v).ok_or_else(|| GoFlagError::BadBool { flag: flag.name.into(), value: v.into() }),
        }
    }

    /// The arguments after the flags (a command and its own arguments).
    pub fn rest(&self) -> &'a [String] {
        &self.args[self.pos..]
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// (name, value) pairs, and the words after the flags.
    type Read = (Vec<(String, String)>, Vec<String>);

    /// Every flag, values taken for the names in `valued`.
    fn all(args: &[String], valued: &[&str]) -> Result<Read, GoFlagError> {
        let mut f = GoFlags::new(args);
        let mut out = Vec::new();
        while let Some(flag) = f.next_flag()? {
            let v = if valued.contains(&flag.name) {
                f.value(&flag)?.to_string()
            } else {
                GoFlags::boolean(&flag)?.to_string()
            };
            out.push((flag.name.to_string(), v));
        }
        Ok((out, f.rest().to_vec()))
    }

    #[test]
    fn forms() {
        let (flags, rest) =
            all(&argv("-p 4222 --port=5 -DV -T=false --sort subs check x"), &["p", "port", "sort"]).expect("parses");
        let pairs: Vec<(&str, &str)> = flags.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(pairs, [("p", "4222"), ("port", "5"), ("DV", "true"), ("T", "false"), ("sort", "subs")]);
        assert_eq!(rest, argv("check x"));
        let (_, rest) = all(&argv("-D -- -V"), &[]).expect("parses");
        assert_eq!(rest, argv("-V"));
    }

    #[test]
    fn errors() {
        assert_eq!(all(&argv("---x"), &[]).unwrap_err(), GoFlagError::Syntax("---x".into()));
        assert_eq!(all(&argv("-=1"), &[]).unwrap_err(), GoFlagError::Syntax("-=1".into()));
        assert_eq!(all(&argv("-p"), &["p"]).unwrap_err(), GoFlagError::MissingValue("p".into()));
        assert_eq!(
            all(&argv("-T=maybe"), &[]).unwrap_err(),
            GoFlagError::BadBool { flag: "T".into(), value: "maybe".into() }
        );
    }
}
