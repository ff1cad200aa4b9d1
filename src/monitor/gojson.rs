//! JSON written byte for byte as Go's `encoding/json` writes it, which is
//! what nats-server's monitoring endpoints serve: `MarshalIndent(v, "", "  ")`
//! for most of them, `Marshal` for `/healthz`.
//!
//! serde_json's output differs in three ways that byte-level comparisons (and
//! some naive tools) notice, so a [`Formatter`] redoes them:
//! - `<`, `>` and `&` in strings are escaped as `\u003c`, `\u003e`,
//!   `\u0026`, and U+2028/U+2029 as `\u2028`/`\u2029` (subjects such as
//!   `orders.>` come out as `orders.\u003e`);
//! - floats are shortest round-trip without a `.0` (`1`, not `1.0`), in
//!   exponent form only below 1e-6 or from 1e21 up (`1e-07` → `1e-7`);
//! - no trailing newline.
//!
//! Key order is the declaration order of the structs (serde keeps it), and
//! maps must be ordered (`BTreeMap`), as Go sorts map keys.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// Go's `json.MarshalIndent(v, "", "  ")`.
pub fn to_vec_indent<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    write(value, Some(b"  "))
}

/// Go's `json.Marshal(v)`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    write(value, None)
}

fn write<T: Serialize + ?Sized>(value: &T, indent: Option<&'static [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter { indent, level: 0, has_value: false });
    // Our types serialise plain structs, strings, numbers and sorted maps:
    // nothing here can fail, and an empty body would be the worst outcome.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"{}");
    }
    out
}

/// Go's float64 text in `encoding/json`.
pub fn go_float(v: f64) -> String {
    if !v.is_finite() {
        // Go refuses to marshal these; a number is better than no reply.
        return "0".into();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Shortest digits in exponent form, the exponent with a sign and no
        // zero padding (Go writes `1e-07`, then trims it to `1e-7`).
        let s = format!("{v:e}");
        return match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => s,
        };
    }
    format!("{v}")
}

struct GoFormatter {
    /// `None`: compact (`Marshal`).
    indent: Option<&'static [u8]>,
    level: usize,
    has_value: bool,
}

impl GoFormatter {
    fn newline_indent<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        if let Some(unit) = self.indent {
            w.write_all(b"\n")?;
            for _ in 0..self.level {
                w.write_all(unit)?;
            }
        }
        Ok(())
    }
}

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        w.write_all(go_float(value as f64).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped: &[u8] = match c {
                '<' => b"\\u003c",
                '>' => b"\\u003e",
                '&' => b"\\u0026",
                '\u{2028}' => b"\\u2028",
                '\u{2029}' => b"\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(escaped)?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline_indent(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline_indent(w)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline_indent(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline_indent(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.indent.is_some() { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Sample {
        server_id: &'static str,
        cache_hit_rate: f64,
        avg_fanout: f64,
        tiny: f64,
        huge: f64,
        subjects: Vec<&'static str>,
        empty: Vec<u8>,
        nested: BTreeMap<&'static str, u64>,
        none: BTreeMap<&'static str, u64>,
    }

    #[test]
    fn indented_like_go() {
        let s = Sample {
            server_id: "N1",
            cache_hit_rate: 0.4,
            avg_fanout: 0.46153846153846156,
            tiny: 1e-7,
            huge: 1e21,
            subjects: vec!["orders.>", "a<b&c\u{2028}"],
            empty: vec![],
            nested: [("/varz", 1), ("/", 2)].into_iter().collect(),
            none: BTreeMap::new(),
        };
        let text = String::from_utf8(to_vec_indent(&s)).unwrap();
        assert_eq!(
            text,
            "{\n  \"server_id\": \"N1\",\n  \"cache_hit_rate\": 0.4,\n  \"avg_fanout\": 0.46153846153846156,\n  \
             \"tiny\": 1e-7,\n  \"huge\": 1e+21,\n  \"subjects\": [\n    \"orders.\\u003e\",\n    \
             \"a\\u003cb\\u0026c\\u2028\"\n  ],\n  \"empty\": [],\n  \"nested\": {\n    \"/\": 2,\n    \
             \"/varz\": 1\n  },\n  \"none\": {}\n}"
        );
    }

    #[test]
    fn compact_like_go() {
        #[derive(Serialize)]
        struct Health {
            status: &'static str,
        }
        assert_eq!(to_vec(&Health { status: "ok" }), br#"{"status":"ok"}"#);
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(-0.000001), "-0.000001");
        assert_eq!(go_float(123456789.0), "123456789");
        assert_eq!(go_float(1.5e-9), "1.5e-9");
    }
}
