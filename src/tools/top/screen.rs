//! The top screen as lines of text, laid out as nats-top lays it out:
//!
//! ```text
//! NATS server version 2.15.1 (uptime: 2s)
//! Server: top-fixture
//!   ID:   NCUW…
//!   Load: CPU:  2.0%  Memory: 18.1M  Slow Consumers: 0
//!   In:   Msgs: 4.8K  Bytes: 3.2M  Msgs/Sec: 2028.2  Bytes/Sec: 2.0M
//!   Out:  Msgs: 9.2K  Bytes: 6.2M  Msgs/Sec: 4056.4  Bytes/Sec: 3.9M
//! <status: prompt, error or message>
//! Connections: 4
//!   HOST             CID    NAME    SUBS  PENDING  MSGS_TO …
//! ```
//!
//! The same lines feed the terminal (with styles) and `-o` (as plain text).
//! Columns keep nats-top's minimum widths and grow to fit their values, so
//! a long version string never shifts the columns after it.

use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};

use super::format::{nsize, psize};
use super::sample::Stats;

/// Display toggles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// The SUBSCRIPTIONS column (`s`).
    pub show_subs: bool,
    /// Plain numbers instead of `1.5K` (`b`).
    pub raw_bytes: bool,
    /// Per-second rates in the per-connection message and byte columns (space).
    pub show_rates: bool,
}

/// The line between the totals and the table: a prompt, an error or a note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StatusLine {
    #[default]
    None,
    Prompt(String),
    Error(String),
    Note(String),
}

/// The index of the status line, where prompts appear (as in nats-top).
pub const STATUS_ROW: usize = 6;

fn host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The screen for `stats` (all zeros before the first good poll).
pub fn lines(stats: &Stats, status: &StatusLine, view: View) -> Vec<Line<'static>> {
    let v = &stats.varz;
    let raw = view.raw_bytes;
    // nats-top shows the name only when it is not the id (the default name).
    let name = if v.server_name != v.server_id { v.server_name.as_str() } else { "" };
    let r = &stats.rates;
    let mut out = vec![
        Line::from(format!("NATS server version {} (uptime: {})", v.version, v.uptime)),
        Line::from(format!("Server: {name}")),
        Line::from(format!("  ID:   {}", v.server_id)),
        Line::from(format!(
            "  Load: CPU:  {:.1}%  Memory: {}  Slow Consumers: {}",
            v.cpu,
            psize(false, v.mem),
            v.slow_consumers
        )),
        Line::from(format!(
            "  In:   Msgs: {}  Bytes: {}  Msgs/Sec: {:.1}  Bytes/Sec: {}",
            nsize(raw, v.in_msgs),
            psize(raw, v.in_bytes),
            r.in_msgs,
            psize(raw, r.in_bytes as i64)
        )),
        Line::from(format!(
            "  Out:  Msgs: {}  Bytes: {}  Msgs/Sec: {:.1}  Bytes/Sec: {}",
            nsize(raw, v.out_msgs),
            psize(raw, v.out_bytes),
            r.out_msgs,
            psize(raw, r.out_bytes as i64)
        )),
    ];
    out.push(match status {
        StatusLine::None => Line::default(),
        StatusLine::Prompt(p) => Line::from(p.clone()).bold(),
        StatusLine::Error(e) => Line::from(e.clone()).red().bold(),
        StatusLine::Note(n) => Line::from(n.clone()).yellow(),
    });
    let c = &stats.connz;
    let shown = c.connections.len() as u64;
    out.push(Line::from(if shown < c.total {
        format!("Connections: {} ({shown} shown)", c.total)
    } else {
        format!("Connections: {}", c.total.max(shown))
    }));
    out.extend(table(stats, view));
    out
}

/// The connection table: a header line, then one line per connection.
fn table(stats: &Stats, view: View) -> Vec<Line<'static>> {
    let raw = view.raw_bytes;
    let conns = &stats.connz.connections;
    let any_name = conns.iter().any(|c| !c.name.is_empty());
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(conns.len());
    for c in conns {
        let (msgs_to, msgs_from, bytes_to, bytes_from) = if view.show_rates {
            let r = stats.conn_rates.get(&c.cid).copied().unwrap_or_default();
            (r.out_msgs as i64, r.in_msgs as i64, r.out_bytes as i64, r.in_bytes as i64)
        } else {
            (c.out_msgs, c.in_msgs, c.out_bytes, c.in_bytes)
        };
        let mut row = vec![host_port(&c.ip, c.port), c.cid.to_string()];
        if any_name {
            row.push(c.name.clone());
        }
        row.extend([
            c.subscriptions.to_string(),
            nsize(raw, c.pending_bytes),
            nsize(raw, msgs_to),
            nsize(raw, msgs_from),
            psize(raw, bytes_to),
            psize(raw, bytes_from),
            c.lang.clone(),
            c.version.clone(),
            c.uptime.clone(),
            c.idle.clone(),
        ]);
        if view.show_subs {
            row.push(c.subscriptions_list.join(", "));
        }
        rows.push(row);
    }

    // (title, minimum width) as nats-top pads them; HOST grows as nats-top
    // grows it (longest value + 2), the rest to their longest value.
    let mut columns: Vec<(&str, usize)> = vec![("HOST", 15), ("CID", 6)];
    if any_name {
        columns.push(("NAME", 4));
    }
    let rate = |plain: &'static str, per_sec: &'static str| if view.show_rates { per_sec } else { plain };
    columns.extend([
        ("SUBS", 6),
        ("PENDING", 10),
        (rate("MSGS_TO", "MSGS_TO/S"), 10),
        (rate("MSGS_FROM", "MSGS_FROM/S"), 10),
        (rate("BYTES_TO", "BYTES_TO/S"), 10),
        (rate("BYTES_FROM", "BYTES_FROM/S"), 10),
        ("LANG", 7),
        ("VERSION", 7),
        ("UPTIME", 7),
        ("IDLE", 7),
    ]);
    if view.show_subs {
        columns.push(("SUBSCRIPTIONS", 0));
    }
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (title, min))| {
            let longest = rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
            let grow = if i == 0 && longest > *min { longest + 2 } else { longest };
            grow.max(*min).max(title.len())
        })
        .collect();
    let render = |cells: Vec<String>| -> String {
        let last = cells.len() - 1;
        let mut line = String::from("  ");
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                line.push_str(&cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        line.trim_end().to_string()
    };
    let header = render(columns.iter().map(|(t, _)| t.to_string()).collect());
    let mut out = vec![Line::from(Span::styled(header, Style::new().reversed()))];
    out.extend(rows.into_iter().map(|r| Line::from(render(r))));
    out
}

/// The screen as plain text, one line each (what `-o` writes).
pub fn plain(lines: &[Line<'_>]) -> String {
    let mut text = String::new();
    for line in lines {
        for span in &line.spans {
            text.push_str(&span.content);
        }
        text.push('\n');
    }
    text
}

/// The help screen (`?`).
pub fn help() -> Vec<Line<'static>> {
    let text = "\
Command          Description

o<option>        Set the sort order of connections to <option>, then Enter:
                 cid, start, subs, pending, msgs_to, msgs_from, bytes_to,
                 bytes_from, last, idle, uptime, rtt.
                 Also on the command line: -sort.

n<limit>         Set how many connections to request from the server, then Enter.
                 Also on the command line: -n. With a sort, the server keeps
                 the top ones: -n 1 -sort subs is the connection with the most
                 subscriptions.

s                Toggle the SUBSCRIPTIONS column.

b                Toggle raw numbers (1500 instead of 1.5K).

space            Toggle per-second rates in the connection table.

Esc              Cancel a prompt.

q, Ctrl-C        Quit.

Press any key to continue...";
    text.lines().map(|l| Line::from(l.to_string())).collect()
}
