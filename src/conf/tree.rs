//! The untyped value tree: what a config file says, with every value's
//! position. Variables are already substituted and includes inlined.

use super::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    /// An ISO-8601 Zulu date, kept as written.
    Date(String),
    Array(Vec<Value>),
    Map(Map),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
    /// Referenced as a `$variable`: such keys are not reported as unknown.
    pub used: bool,
}

/// Entries in file order. A repeated key keeps every entry; the last wins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    pub entries: Vec<Entry>,
}

impl Kind {
    /// The type's name in messages ("a string", "an integer", ...).
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number with a fraction",
            Kind::Date(_) => "a date",
            Kind::Array(_) => "an array",
            Kind::Map(_) => "a map",
        }
    }
}

impl Map {
    /// The effective entries, as nats-server's map holds them: for a key
    /// repeated with the same spelling only the last one, in file order. Keys
    /// that differ only in case are distinct entries (the server checks each).
    pub fn effective(&self) -> Vec<&Entry> {
        // Most maps have a handful of keys (a user, a permission block):
        // comparing each with the later ones beats hashing them all.
        if self.entries.len() <= 16 {
            let e = &self.entries;
            return e
                .iter()
                .enumerate()
                .filter(|(i, x)| !e[i + 1..].iter().any(|y| y.key == x.key))
                .map(|(_, x)| x)
                .collect();
        }
        let mut last = std::collections::HashMap::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            last.insert(e.key.as_str(), i);
        }
        self.entries.iter().enumerate().filter(|(i, e)| last.get(e.key.as_str()) == Some(i)).map(|(_, e)| e).collect()
    }

    /// The last entry whose key is one of `names`, compared case-insensitively.
    pub fn find(&self, names: &[&str]) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| names.iter().any(|n| e.key.eq_ignore_ascii_case(n)))
    }
}

impl Value {
    /// The plain JSON form (for `--dump` of blocks rnats does not model, and
    /// for the config digest).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            Kind::Str(s) | Kind::Date(s) => J::String(s.clone()),
            Kind::Bool(b) => J::Bool(*b),
            Kind::Int(i) => J::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Kind::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Kind::Map(m) => J::Object(m.effective().into_iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }
}
