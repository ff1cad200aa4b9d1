//! A config file both servers of a `--compare` run start from, in a
//! temporary directory removed on drop.

use std::path::PathBuf;

use super::config::Res;

pub struct ConfFile {
    dir: PathBuf,
    conf: String,
}

impl ConfFile {
    /// Writes `text` as `<tag>.conf` in a new temporary directory.
    pub fn write(tag: &str, text: &str) -> Res<ConfFile> {
        let dir = std::env::temp_dir().join(format!(
            "rnats-bench-{tag}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{tag}.conf"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ConfFile { conf: path.to_string_lossy().into_owned(), dir })
    }

    /// The servers' arguments: `-c FILE`.
    pub fn server_args(&self) -> Vec<String> {
        vec!["-c".into(), self.conf.clone()]
    }
}

impl Drop for ConfFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
