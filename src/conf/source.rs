//! The files a configuration was read from, and positions within them.

use std::path::{Path, PathBuf};

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub source: usize,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub struct Source {
    /// The path as the user wrote it (or as joined for includes), for messages.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    /// Where each line starts: made when a position is first asked for (a
    /// diagnostic), not for every load (a reload of a valid file needs none).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl Source {
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(self.text.match_indices('\n').map(|(i, _)| i + 1));
            starts
        })
    }
}

/// Every file (and environment value) that went into one configuration.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<Source>,
}

impl Sources {
    pub fn add(&mut self, name: String, path: &Path, text: String) -> usize {
        self.files.push(Source { name, path: path.to_path_buf(), text, line_starts: Default::default() });
        self.files.len() - 1
    }

    pub fn get(&self, id: usize) -> &Source {
        &self.files[id]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Source> {
        self.files.iter()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: usize, offset: usize) -> (usize, usize) {
        let src = &self.files[id];
        let offset = offset.min(src.text.len());
        let starts = src.line_starts();
        let line = starts.partition_point(|&s| s <= offset) - 1;
        let start = starts[line];
        let col = src.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, id: usize, line: usize) -> &str {
        let src = &self.files[id];
        let starts = src.line_starts();
        let start = starts.get(line.wrapping_sub(1)).copied().unwrap_or(src.text.len());
        let end = starts.get(line).copied().unwrap_or(src.text.len());
        src.text.get(start..end).unwrap_or("").trim_end_matches(['\n', '\r'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let mut s = Sources::default();
        let id = s.add("a.conf".into(), Path::new("a.conf"), "port: 1\n  host: ü\nx".into());
        assert_eq!(s.line_col(id, 0), (1, 1));
        assert_eq!(s.line_col(id, 10), (2, 3));
        assert_eq!(s.line_col(id, 18), (2, 10), "columns count characters, not bytes");
        assert_eq!(s.line_col(id, 21), (3, 2));
        assert_eq!(s.line_text(id, 2), "  host: ü");
    }
}
