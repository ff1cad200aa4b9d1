//! The `rnats` binary: argv → [`rnats::cli::parse`] → serve, check, or a helper
//! command; maps every failure to nats-server's message shape and exit code 1.

use std::process::ExitCode;

use rnats::cli::{self, Command, ServeArgs};
use rnats::launch::Server;
use rnats::logging::{self, LogSettings};
use rnats::options::{Options, COMPAT_VERSION};
use rnats::reload::{ConfigSource, Fingerprint, Reloader, Trigger};
use rnats::sd_notify;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

/// mimalloc, not glibc's malloc: loading a 10 000-user config allocates and
/// frees hundreds of thousands of small strings, and glibc's malloc and free
/// were 40 % of its instructions (a reload of it: 103 -> 83 ms). The message
/// path does not allocate, so it is not what this is for.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for the process, before it touches
/// most of its memory. mimalloc asks for them (`madvise(MADV_HUGEPAGE)`)
/// on its 1 GiB arena, so every 2 MiB of it that the server touches became
/// resident whole: a fresh server held 9 MB of anonymous memory instead of
/// 1.5 MB, and the steady mixed load ended above nats-server's RSS because
/// of it. `MIMALLOC_ALLOW_THP=1` in the environment keeps them.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // Only fails on kernels without the flag (before 3.15): nothing to do then.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rnats: {e}");
            eprintln!("Use `rnats --help` to see the options.");
            return ExitCode::from(1);
        }
    };
    match command {
        Command::Help => {
            print!("{}", cli::usage());
            ExitCode::SUCCESS
        }
        Command::HelpTls => {
            print!("{}", rnats::tls::help::help_text());
            ExitCode::SUCCESS
        }
        Command::Version => {
            // Run as `nats-server` (a symlink for client test harnesses),
            // the line is nats-server's own: tools read the version from it.
            if invoked_as_nats_server() {
                println!("nats-server: v{COMPAT_VERSION}");
            } else {
                // Both forms in one line: `rnats: v(\S+)` finds rnats' own
                // version, `nats-server: v(\S+)` the reference's it matches.
                println!("rnats: v{} (nats-server: v{COMPAT_VERSION} compatible)", env!("CARGO_PKG_VERSION"));
            }
            ExitCode::SUCCESS
        }
        Command::Sub(name, rest) => tool(&name, &rest),
        Command::Serve(args) => {
            let code = serve(*args);
            // Every queued line, `Server Exiting..` included, is written
            // before the process ends.
            logging::shutdown();
            code
        }
    }
}

/// `rnats NAME ...`: one of the tools (behind the `tools` feature).
#[cfg(feature = "tools")]
fn tool(name: &str, rest: &[String]) -> ExitCode {
    match rnats::tools::command::run(name, rest) {
        Some(code) => ExitCode::from(code),
        None => {
            eprintln!("rnats: the `{name}` command is not implemented yet");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "tools"))]
fn tool(name: &str, _rest: &[String]) -> ExitCode {
    eprintln!("rnats: the `{name}` command is not in this build (built without the `tools` feature)");
    ExitCode::from(2)
}

/// Run through a link named `nats-server` (client test harnesses start that).
fn invoked_as_nats_server() -> bool {
    let name = std::env::args_os().next().map(std::path::PathBuf::from);
    name.as_deref().and_then(std::path::Path::file_name).is_some_and(|n| n == "nats-server")
}

fn serve(args: ServeArgs) -> ExitCode {
    if let Some(sig) = &args.signal {
        return match rnats::signals::send(sig, args.overlay.pid_file.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rnats: {e}");
                ExitCode::from(1)
            }
        };
    }
    if args.test_config && args.config.is_none() {
        eprintln!("rnats: must specify [-c, --config] option to check configuration file syntax");
        return ExitCode::from(1);
    }
    if let (true, Some(file)) = (args.test_config, &args.config) {
        return ExitCode::from(rnats::check::test_config(file, &args.overlay));
    }
    let mut notes = Vec::new();
    let mut fingerprint = Fingerprint::default();
    let opts = match &args.config {
        Some(file) => {
            let loaded = rnats::conf::load(std::path::Path::new(file), &args.overlay);
            if loaded.failed(false) {
                if invoked_as_nats_server() {
                    // The reference's first line, for launchers that read it.
                    eprintln!("nats-server: {}", rnats::conf::reference::first_line(file, &loaded, false));
                }
                eprintln!("{}", loaded.render());
                eprintln!("rnats: configuration file {file} is invalid");
                return ExitCode::from(1);
            }
            for d in &loaded.diags {
                let text = match d.location(&loaded.sources) {
                    Some((f, l, c)) => format!("{f}:{l}:{c}: {}", d.message),
                    None => format!("{file}: {}", d.message),
                };
                notes.push(match &d.help {
                    Some(h) => format!("{text} ({h})"),
                    None => text,
                });
            }
            fingerprint = Fingerprint::of(&loaded);
            loaded.options
        }
        None => {
            let mut opts = Options::default();
            args.overlay.apply(&mut opts);
            if let Err(e) = args.overlay.check(&opts).and_then(|_| opts.validate()) {
                eprintln!("rnats: {e}");
                return ExitCode::from(1);
            }
            opts
        }
    };
    let missing = rnats::conf::keys::refusals(&opts);
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("rnats: cannot start: {m}");
        }
        return ExitCode::from(1);
    }
    if let Err(e) = logging::init(&LogSettings::from_options(&opts)) {
        eprintln!("rnats: {e}");
        return ExitCode::from(1);
    }
    let warnings: Vec<String> = args.warnings.iter().chain(&notes).cloned().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            logging::fatal(&format!("cannot start the runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let source = args.config.as_ref().map(|f| ConfigSource { path: f.into(), overlay: args.overlay.clone() });
    runtime.block_on(run(opts, source, fingerprint, args.watch, &warnings))
}

async fn run(
    opts: Options,
    source: Option<ConfigSource>,
    fingerprint: Fingerprint,
    watch: bool,
    warnings: &[String],
) -> ExitCode {
    // Handlers first: a signal sent as soon as "Server is ready" is logged
    // must be trapped, not kill the process with the default action.
    let (Ok(mut int), Ok(mut term), Ok(mut hup), Ok(mut usr1), Ok(mut usr2)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
    ) else {
        logging::fatal("cannot install signal handlers");
        return ExitCode::from(1);
    };
    let config = source.as_ref().map(|s| (s.path.display().to_string(), fingerprint.digest.clone()));
    let server = match Server::start_with(opts, config, warnings).await {
        Ok(s) => s,
        Err(e) => {
            logging::fatal(&e.to_string());
            return ExitCode::from(1);
        }
    };
    if watch && source.is_none() {
        warn!("--watch needs a configuration file (-c); nothing to watch");
    }
    let reloader = Reloader::new(server.state().clone(), source, fingerprint);
    // `$SYS.REQ.SERVER.<id>.RELOAD` runs the same reload as SIGHUP.
    server.state().set_reload_request(reloader.clone());
    if watch && reloader.source().is_some() {
        rnats::reload::watch::spawn(reloader.clone(), server.state().shutting_down_owned());
    }
    // After the signal handlers: once systemd sees READY=1 it may send
    // SIGTERM at any moment, and that must take the graceful path.
    notify_systemd(sd_notify::ready());
    // Lame duck mode runs on its own task; it says when to shut down.
    let (ldm_done_tx, mut ldm_done) = tokio::sync::oneshot::channel::<()>();
    let mut ldm_done_tx = Some(ldm_done_tx);
    loop {
        tokio::select! {
            _ = int.recv() => { info!("Trapped \"interrupt\" signal"); break; }
            _ = term.recv() => {
                info!("Trapped \"terminated\" signal");
                // As nats-server: lame duck mode is already a way out.
                if server.state().in_lame_duck() {
                    continue;
                }
                break;
            }
            _ = hup.recv() => {
                info!("Trapped \"hangup\" signal");
                // On its own task: a reload waits for every connection to adopt
                // it, and a SIGTERM meanwhile must still be handled.
                let reloader = reloader.clone();
                tokio::spawn(async move { reloader.reload(Trigger::Signal).await });
            }
            _ = usr1.recv() => {
                info!("Trapped \"user defined signal 1\" signal");
                logging::reopen();
            }
            _ = usr2.recv() => {
                info!("Trapped \"user defined signal 2\" signal");
                if let Some(done) = ldm_done_tx.take() {
                    notify_systemd(sd_notify::stopping());
                    let state = server.state().clone();
                    tokio::spawn(async move {
                        if rnats::server::lame_duck::run(state).await {
                            let _ = done.send(());
                        }
                    });
                }
            }
            _ = &mut ldm_done => break,
        }
    }
    notify_systemd(sd_notify::stopping());
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// A failed notification is worth a warning (systemd will time the unit out),
/// never a reason to stop serving.
fn notify_systemd(sent: std::io::Result<bool>) {
    if let Err(e) = sent {
        warn!("Could not notify systemd: {e}");
    }
}
