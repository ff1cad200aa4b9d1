//! A server started from a config file that a test rewrites and reloads
//! in-process (`Reloader::reload`, what SIGHUP runs).

use std::path::PathBuf;
use std::sync::Arc;

use rnats::cli::FlagOverlay;
use rnats::launch::Server;
use rnats::options::Port;
use rnats::reload::{ConfigSource, Fingerprint, Outcome, Reloader, Trigger};

/// A server started from a config file, as `rnats -c FILE -a 127.0.0.1 -p -1`.
pub struct Reloadable {
    _dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub server: Server,
    pub reloader: Arc<Reloader>,
}

impl Reloadable {
    pub async fn start(text: &str) -> Reloadable {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("server.conf");
        std::fs::write(&conf, text).unwrap();
        let overlay =
            FlagOverlay { host: Some("127.0.0.1".into()), port: Some(Port::Random), ..FlagOverlay::default() };
        let source = ConfigSource { path: conf.clone(), overlay };
        let loaded = rnats::reload::load(&source);
        assert!(!loaded.failed(false), "{}", loaded.render());
        let fingerprint = Fingerprint::of(&loaded);
        let server = Server::start(loaded.options).await.expect("server starts");
        let reloader = Reloader::new(server.state().clone(), Some(source), fingerprint);
        Reloadable { _dir: dir, conf, server, reloader }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.client_addr()
    }

    pub async fn rewrite(&self, text: &str) -> Outcome {
        std::fs::write(&self.conf, text).unwrap();
        self.reloader.reload(Trigger::Request).await
    }
}
