//! devhost: runs a Spin application (`spin.toml`, manifest version 2) on
//! wasmtime: fast tests, and a fallback where the Spin CLI is missing.
//!
//! Layout: `manifest` and `runtime_config` read the files; `variables`,
//! `routes` and `allowed_hosts` are the rules Spin applies; `app` loads the
//! components and runs one instance per request or message; `server` is the
//! HTTP trigger, `redis_trigger` the Redis one; `host` implements the Spin
//! interfaces and `outbound` outgoing HTTP with service chaining.

mod allowed_hosts;
mod app;
mod bindings;
mod cache;
mod host;
mod log;
mod manifest;
mod outbound;
mod redis_trigger;
mod routes;
mod runtime_config;
mod server;
mod variables;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "devhost",
    version,
    about = "Run a Spin application on wasmtime, as `spin up` does"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application's HTTP and Redis triggers.
    Up {
        /// The manifest, or a directory holding spin.toml.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        from: PathBuf,
        /// Address for the HTTP trigger (port 0 picks a free one; the
        /// "Serving http://…" line says which).
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Spin runtime configuration (key-value stores, SQLite databases).
        #[arg(long)]
        runtime_config_file: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Up {
            from,
            listen,
            runtime_config_file,
        } => up(&from, listen, runtime_config_file.as_deref()).await,
    }
}

async fn up(from: &Path, listen: SocketAddr, runtime_config_file: Option<&Path>) -> Result<()> {
    let manifest_path = if from.is_dir() {
        from.join("spin.toml")
    } else {
        from.to_path_buf()
    };
    let manifest = manifest::Manifest::load(&manifest_path)?;
    let dotenv = variables::read_dotenv(Path::new(".env"))?;
    let vars = variables::Variables::resolve(&manifest.variables, |k| {
        std::env::var(k).ok().or_else(|| dotenv.get(k).cloned())
    })?;
    let runtime = runtime_config::RuntimeConfig::load(runtime_config_file, &manifest.dir.join(".spin"))?;

    let redis_triggers = manifest
        .redis_triggers
        .iter()
        .map(|t| {
            let address = vars
                .render(&t.address)
                .with_context(|| format!("redis trigger address of '{}'", t.component))?;
            Ok((address, t.channel.clone(), t.component.clone()))
        })
        .collect::<Result<Vec<_>>>()?;

    let app = app::App::load(&manifest, &runtime, vars).await?;
    log::info(format_args!("application '{}' loaded", app.name));
    let redis_gone = redis_trigger::start(app.clone(), redis_triggers).await?;

    if manifest.http_triggers.is_empty() {
        log::info("no HTTP triggers; running the Redis trigger only");
    } else {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        println!("Serving http://{addr}");
        println!("Available Routes:");
        for (route, component) in app.router().routes() {
            let shown = route
                .strip_suffix("/...")
                .map(|r| format!("{r} (wildcard)"))
                .unwrap_or_else(|| route.to_owned());
            println!("  {component}: http://{addr}{shown}");
        }
        let mut private: Vec<&str> = app.private_components().collect();
        private.sort();
        for component in private {
            println!("  {component}: private (service chaining: http://{component}.spin.internal)");
        }
        tokio::spawn(server::serve(app.clone(), listener));
    }
    tokio::select! {
        _ = shutdown_signal() => {
            log::info("shutting down");
            Ok(())
        }
        why = redis_gone => Err(why),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                ctrl_c.await.ok();
            }
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}
