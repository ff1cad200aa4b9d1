//! `/dashboard`: a live page of the server, compiled into the binary. It
//! polls `./varz` and `./connz` every second (relative to itself, so it
//! follows `http_base_path`) and loads nothing from anywhere else, which its
//! Content-Security-Policy enforces: it works on a machine without internet,
//! and a reply can never make it reach out.

use super::reply::Reply;

/// The page: HTML, CSS and script in one file.
const PAGE: &str = include_str!("dashboard.html");

/// Only this origin, nothing framed, no plugins.
const CSP: &str = "default-src 'none'; connect-src 'self'; img-src 'self' data:; \
                   style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub fn reply() -> Reply {
    Reply::html(PAGE)
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
}
