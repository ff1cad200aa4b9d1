//! What a server sent a raw client, as comparable text: protocol lines as
//! they are, MSG and HMSG with their payload, and the values that differ
//! from one run (or one server) to the next normalised: `_R_` reply
//! tokens, `rtt`, `start` and `id` inside `Nats-Request-Info`, the header
//! sizes that follow from them, and INFO lines.

/// Renders `bytes` frame by frame, normalised.
pub fn normalise(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            out.push_str(&String::from_utf8_lossy(rest));
            break;
        };
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 2..];
        let args: Vec<&str> = line.split_whitespace().collect();
        match args.first().copied() {
            Some("INFO") => out.push_str("INFO\n"),
            Some("MSG") => {
                let size: usize = args.last().and_then(|s| s.parse().ok()).unwrap_or(0);
                let (payload, tail) = rest.split_at(size.min(rest.len()));
                rest = tail.strip_prefix(b"\r\n").unwrap_or(tail);
                let head: Vec<String> = args[..args.len() - 1].iter().map(|a| tokens(a)).collect();
                out.push_str(&format!("{} {}\n", head.join(" "), String::from_utf8_lossy(payload)));
            }
            Some("HMSG") => {
                let total: usize = args.last().and_then(|s| s.parse().ok()).unwrap_or(0);
                let hsize: usize = args.get(args.len().wrapping_sub(2)).and_then(|s| s.parse().ok()).unwrap_or(0);
                let (body, tail) = rest.split_at(total.min(rest.len()));
                rest = tail.strip_prefix(b"\r\n").unwrap_or(tail);
                let (header, payload) = body.split_at(hsize.min(body.len()));
                let head: Vec<String> = args[..args.len() - 2].iter().map(|a| tokens(a)).collect();
                let header = request_info(&String::from_utf8_lossy(header));
                out.push_str(&format!(
                    "{} [{}] {}\n",
                    head.join(" "),
                    header.replace("\r\n", "|"),
                    String::from_utf8_lossy(payload)
                ));
            }
            _ => {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

/// `_R_.abcdef.ghijkl` as `_R_.PRE.RND`.
fn tokens(arg: &str) -> String {
    if arg.starts_with("_R_.") && arg.len() >= 17 {
        return format!("_R_.PRE.RND{}", &arg[17..]);
    }
    arg.to_string()
}

/// `"rtt":12345` as `"rtt":N`, and the same for `start`, `id` and `host`.
fn request_info(header: &str) -> String {
    let mut text = header.to_string();
    for key in ["\"rtt\":", "\"id\":"] {
        while let Some(at) = text.find(key) {
            let from = at + key.len();
            let end = text[from..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |e| from + e);
            if end == from {
                break;
            }
            text.replace_range(at..end, &format!("{}N", key.replace(':', "=")));
        }
        text = text.replace(&format!("{}N", key.replace(':', "=")), &format!("{key}N"));
    }
    if let Some(at) = text.find("\"start\":\"") {
        let from = at + 9;
        if let Some(end) = text[from..].find('"') {
            text.replace_range(from..from + end, "T");
        }
    }
    text
}

/// The first `_R_` subject in `bytes`, as sent.
pub fn reply_subject(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let at = text.find("_R_.")?;
    let end = text[at..].find(' ').map_or(text.len(), |e| at + e);
    Some(text[at..end].to_string())
}
