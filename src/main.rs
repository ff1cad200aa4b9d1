//! The `rnats` binary: argv → [`rnats::cli::parse`] → serve, check, or a helper
//! command; maps every failure to nats-server's message shape and exit code 1.

use std::process::ExitCode;

use rnats::cli::{self, Command, ServeArgs};
use rnats::logging::{self, LogSettings};
use rnats::options::{Options, COMPAT_VERSION};
use rnats::server::Server;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

fn main() -> ExitCode {
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
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::HelpTls => {
            print!("{}", rnats::tls::help::help_text());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("rnats: v{} (nats-server v{COMPAT_VERSION} compatible)", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Sub(name, rest) if name == "check" => ExitCode::from(rnats::check::run(&rest)),
        Command::Sub(name, rest) if name == "bench" => ExitCode::from(rnats::bench::run(&rest)),
        Command::Sub(name, rest) if name == "passwd" => ExitCode::from(rnats::passwd::run(&rest)),
        Command::Sub(name, _) if name == "schema" => {
            println!("{}", serde_json::to_string_pretty(&Options::json_schema()).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Command::Sub(name, _) => {
            eprintln!("rnats: the `{name}` command is not implemented yet");
            ExitCode::from(2)
        }
        Command::Serve(args) => serve(*args),
    }
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
    let opts = match &args.config {
        Some(file) => {
            let loaded = rnats::conf::load(std::path::Path::new(file), &args.overlay);
            if loaded.failed(false) {
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
            loaded.options
        }
        None => {
            let mut opts = Options::default();
            args.overlay.apply(&mut opts);
            if let Err(e) = opts.validate() {
                eprintln!("rnats: {e}");
                return ExitCode::from(1);
            }
            opts
        }
    };
    let missing = opts.unimplemented();
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("rnats: cannot start: {m}");
        }
        return ExitCode::from(1);
    }
    if let Err(e) = logging::init(&LogSettings::from_options(&opts)) {
        eprintln!("rnats: cannot open log file: {e}");
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
    runtime.block_on(run(opts, args.config.as_deref(), &warnings))
}

async fn run(opts: Options, config_file: Option<&str>, warnings: &[String]) -> ExitCode {
    let server = match Server::start_with(opts, config_file, warnings).await {
        Ok(s) => s,
        Err(e) => {
            logging::fatal(&e.to_string());
            return ExitCode::from(1);
        }
    };
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
    loop {
        tokio::select! {
            _ = int.recv() => { info!("Trapped \"interrupt\" signal"); break; }
            _ = term.recv() => { info!("Trapped \"terminated\" signal"); break; }
            _ = hup.recv() => {
                info!("Trapped \"hangup\" signal");
                tracing::error!("Failed to reload server configuration: can only reload config when a file is provided using -c or --config");
            }
            _ = usr1.recv() => {
                info!("Trapped \"user defined signal 1\" signal");
                let o = server.inner().opts.load();
                match logging::apply(&LogSettings::from_options(&o)) {
                    Ok(()) => info!("File log re-opened"),
                    Err(e) => tracing::error!("Error re-opening log file: {e}"),
                }
            }
            _ = usr2.recv() => {
                info!("Trapped \"user defined signal 2\" signal");
                warn!("Lame duck mode is not implemented yet; use SIGTERM to stop");
            }
        }
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}
