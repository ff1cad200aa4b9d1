//! The replies of the monitoring port, with nats-server's status codes,
//! content types and headers: JSON with `Access-Control-Allow-Origin: *`,
//! 400s as bare `text/plain`, Go's 404 page and redirects. JSONP, which
//! nats-server removed in 2.14.3 because it echoed any callback, is kept
//! here for callbacks that are plain JavaScript names only.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const JAVASCRIPT: &str = "application/javascript";
/// The Prometheus text exposition format.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Longest JSONP callback accepted.
const MAX_CALLBACK: usize = 128;

/// A reply before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// A JSON document: gets the CORS header, or becomes JSONP.
    pub json: bool,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply { status, content_type, body: body.into(), json: false, headers: Vec::new() }
    }

    /// A JSON document (already encoded the Go way) with `status`.
    pub fn json_with(status: StatusCode, body: Vec<u8>) -> Reply {
        Reply { json: true, ..Reply::new(status, JSON, body) }
    }

    pub fn json(body: Vec<u8>) -> Reply {
        Reply::json_with(StatusCode::OK, body)
    }

    /// A 400 with nats-server's message, as it sends it: no newline, no
    /// CORS header.
    pub fn bad_request(text: impl Into<String>) -> Reply {
        Reply::new(StatusCode::BAD_REQUEST, TEXT, text.into())
    }

    /// Go's `http.NotFound`.
    pub fn not_found() -> Reply {
        Reply::new(StatusCode::NOT_FOUND, TEXT, "404 page not found\n").header("x-content-type-options", "nosniff")
    }

    /// A 404 with a message of its own (`/raftz` without Raft groups).
    pub fn not_found_text(text: &'static str) -> Reply {
        Reply::new(StatusCode::NOT_FOUND, TEXT, text)
    }

    /// Go's `ServeMux` answer to a path that is not clean (`//varz`).
    pub fn redirect(location: String) -> Reply {
        let body = format!("<a href=\"{}\">Temporary Redirect</a>.\n\n", html_escape(&location));
        Reply::new(StatusCode::TEMPORARY_REDIRECT, HTML, body).header("location", &location)
    }

    pub fn html(body: impl Into<Bytes>) -> Reply {
        Reply::new(StatusCode::OK, HTML, body)
    }

    pub fn text(content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply::new(StatusCode::OK, content_type, body)
    }

    /// 401 asking for the credentials `http_auth` takes.
    pub fn unauthorized(challenge: &'static str) -> Reply {
        Reply::new(StatusCode::UNAUTHORIZED, TEXT, "401 Unauthorized\n").header(WWW_AUTHENTICATE.as_str(), challenge)
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    /// Wraps a JSON reply as JSONP for `callback` (`/**/cb({...});`, with
    /// `nosniff` so that no browser reads it as anything but script).
    /// Anything but a dotted JavaScript name is refused with a 400.
    pub fn jsonp(self, callback: &str) -> Reply {
        if !self.json {
            return self;
        }
        if !is_safe_callback(callback) {
            // The name is not echoed, even as text.
            return Reply::bad_request(
                "invalid JSONP callback: only a JavaScript name such as `cb` or `app.onVarz` is allowed",
            );
        }
        let mut body = Vec::with_capacity(self.body.len() + callback.len() + 8);
        body.extend_from_slice(b"/**/");
        body.extend_from_slice(callback.as_bytes());
        body.push(b'(');
        body.extend_from_slice(&self.body);
        body.extend_from_slice(b");");
        let mut r = Reply::new(self.status, JAVASCRIPT, body).header("x-content-type-options", "nosniff");
        r.headers.extend(self.headers);
        r
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(self.body));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        if self.json {
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            // Bytes, not text: a redirect repeats the query as sent, which
            // may hold bytes over 0x7F (as Go writes it).
            if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                if name == LOCATION.as_str() {
                    h.insert(LOCATION, v);
                } else {
                    h.append(name, v);
                }
            }
        }
        resp
    }
}

/// A JSONP callback that can only name a function: identifiers (ASCII
/// letters, digits, `_`, `$`, not starting with a digit) joined by dots.
pub fn is_safe_callback(cb: &str) -> bool {
    !cb.is_empty()
        && cb.len() <= MAX_CALLBACK
        && cb.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_callbacks() {
        for ok in ["cb", "jQuery123_456", "app.onVarz", "$", "_x.$y"] {
            assert!(is_safe_callback(ok), "{ok}");
        }
        for bad in ["", "1cb", "a..b", "a.", "alert(1)//", "cb;x", "a b", "</script>", "a-b", "é", &"a".repeat(129)] {
            assert!(!is_safe_callback(bad), "{bad}");
        }
    }

    #[test]
    fn jsonp_wraps_json_only() {
        let r = Reply::json(b"{}".to_vec()).jsonp("cb");
        assert_eq!((r.content_type, &r.body[..]), (JAVASCRIPT, &b"/**/cb({});"[..]));
        let r = Reply::json(b"{}".to_vec()).jsonp("x(1)");
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = Reply::bad_request("nope").jsonp("cb");
        assert_eq!(&r.body[..], b"nope");
    }

    #[test]
    fn redirect_escapes_its_link() {
        let r = Reply::redirect("/varz?a=<b>".into());
        assert_eq!(&r.body[..], b"<a href=\"/varz?a=&lt;b&gt;\">Temporary Redirect</a>.\n\n");
    }
}
