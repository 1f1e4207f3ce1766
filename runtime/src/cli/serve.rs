//! `hl7wasm serve`: runs the engine until Ctrl-C or SIGTERM; SIGHUP reopens
//! the audit log file, reloads the configuration file's channels and the
//! TLS files.

use std::path::PathBuf;
use std::process::ExitCode;

use hl7wasm::config::{self, Config, EMBEDDED_DEFAULT};
use hl7wasm::logging::{AUDIT_TARGET, AuditFile};
use hl7wasm::server::Server;

/// Arguments of `hl7wasm serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The configuration file; without it the embedded default runs (a demo
    /// MLLP channel on 127.0.0.1:2575 storing under ./data).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Loads the configuration, sets up logging (with the audit log it names),
/// logs its risky settings, opts out of transparent huge pages, starts every channel and waits for a
/// signal.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let config = load(args)?;
    let audit = config.audit.open()?;
    hl7wasm::logging::init(audit.writer);
    for warning in config::warnings(&config) {
        tracing::warn!(%warning, "Risky setting.");
    }
    if let Err(error) = hl7wasm::memory::opt_out_of_transparent_huge_pages() {
        tracing::warn!(%error, "Transparent huge pages stay enabled.");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        for (channel, address) in &server.channels.current().addresses {
            tracing::info!(channel, %address, "Channel ready.");
        }
        wait_for_signal(audit.file.as_ref(), &server).await?;
        tracing::info!("Shutting down.");
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn load(args: &ServeArgs) -> anyhow::Result<Config> {
    Ok(match &args.config {
        Some(path) => config::load_file(path)?,
        None => config::parse(EMBEDDED_DEFAULT, "embedded default config")?,
    })
}

/// Waits for SIGINT or SIGTERM; on SIGHUP reopens the audit log file (after
/// logrotate moved it), applies what changed in the configuration file's
/// channels, reloads the TLS files (after a certificate was renewed) and
/// goes on waiting.
async fn wait_for_signal(audit: Option<&AuditFile>, server: &Server) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => return Ok(result?),
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => {
                reopen(audit);
                // The outcome is logged; a file that does not load changes nothing.
                let _ = server.reload_config().await;
                // Reading files and building clients blocks: off the async workers.
                let (tls, metrics) = (server.tls.clone(), server.metrics.clone());
                let reload = move || hl7wasm::server::reload_tls(&tls, &metrics);
                tokio::task::spawn_blocking(reload).await?;
            }
        }
    }
}

fn reopen(audit: Option<&AuditFile>) {
    let Some(audit) = audit else {
        tracing::info!("SIGHUP: no audit log file to reopen.");
        return;
    };
    let file = audit.path().display();
    match audit.reopen() {
        Ok(()) => tracing::info!(target: AUDIT_TARGET, %file, "Audit log reopened."),
        Err(error) => {
            tracing::error!(%file, %error, "Audit log not reopened; still writing to the old file.")
        }
    }
}
