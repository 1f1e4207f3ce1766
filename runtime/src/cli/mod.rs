//! Subcommands of the `hl7wasm` binary; each file holds one.

/// `println!` for the commands' output (see [`stdout::line`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::stdout::line(format_args!($($arg)*))
    };
}

mod api;
mod bench;
mod channels;
mod client;
mod config_check;
mod config_reload;
mod dlq;
mod instant;
mod message_files;
mod messages;
mod parse;
mod plugin_run;
mod plugin_sign;
mod plugins;
mod send;
mod serve;
mod stdout;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hl7wasm: an HL7 v2 integration engine with sandboxed WebAssembly transforms.
#[derive(Debug, Parser)]
#[command(name = "hl7wasm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine; without --config, the embedded demo: an MLLP channel
    /// on 127.0.0.1:2575 storing under ./data.
    ///
    /// Stops on Ctrl-C or SIGTERM, finishing messages in flight. SIGHUP
    /// reopens the audit log file (after logrotate moved it), applies what
    /// changed in the configuration file's channels, and reloads the TLS
    /// files.
    ///
    /// Example: hl7wasm serve --config hl7wasm.toml
    Serve(serve::ServeArgs),
    /// Send message files over MLLP (optionally TLS/mTLS) and print each ACK.
    ///
    /// Example: hl7wasm send 127.0.0.1:2575 adt.hl7
    Send(send::SendArgs),
    /// Load-test a listener: throughput and ACK latency percentiles.
    ///
    /// Example: hl7wasm bench 127.0.0.1:2575 --connections 64 --messages 100000
    Bench(bench::BenchArgs),
    /// Print HL7 v2 messages as JSON (segments, fields, components), to debug a feed.
    ///
    /// Example: hl7wasm parse adt.hl7 batch.hl7
    Parse(parse::ParseArgs),
    /// Check message files against a conformance profile of a config file:
    /// the answer a channel with that profile would give, and why.
    ///
    /// Example: hl7wasm validate --config hl7wasm.toml --profile adt_in adt.hl7;
    /// hl7wasm validate --config hl7wasm.toml --channel adt adt.hl7
    Validate(validate::ValidateArgs),
    /// Work with plugins locally.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Dead letters of a running engine, over its admin API: list, show,
    /// reprocess, purge.
    ///
    /// Example: hl7wasm dlq list --api http://127.0.0.1:8080 --token $TOKEN
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Plugin versions of a running engine, over its admin API: list, upload.
    ///
    /// Example: hl7wasm plugins upload my_plugin.wasm
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Channels of a running engine, over its admin API: the list, one
    /// channel's counters, or its queues; stop, start, pause, resume.
    ///
    /// Example: hl7wasm channels adt --queues; hl7wasm channels pause adt
    Channels(channels::ChannelsArgs),
    /// Stored messages of a running engine, over its admin API.
    ///
    /// Example: hl7wasm messages search --control-id MSG00042
    #[command(subcommand)]
    Messages(messages::MessagesCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: syntax, keys, channel references, TLS
    /// files and destinations. Errors name the file, the channel and the key.
    ///
    /// Example: hl7wasm config check hl7wasm.toml
    Check(config_check::CheckArgs),
    /// Have a running engine read its configuration file again and apply
    /// what changed in its channels, lookup tables, profiles, admin
    /// credentials and alert rules, over its admin API (operator token);
    /// the same as SIGHUP.
    ///
    /// Example: hl7wasm config reload --dry-run --api http://127.0.0.1:8080
    Reload(config_reload::ReloadArgs),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Run a plugin on message files and print each output or error: the
    /// plugin author's development loop.
    ///
    /// Example: hl7wasm plugin run target/wasm32-wasip2/release/my_plugin.wasm --config '{"strict":true}' adt.hl7
    Run(plugin_run::RunArgs),
    /// Create a vendor signing key: writes the private key, prints the
    /// public key for the engines' `plugins.trusted_keys`.
    ///
    /// Example: hl7wasm plugin keygen --out vendor.key
    Keygen(plugin_sign::KeygenArgs),
    /// Sign a component with a vendor key; its info() and licence go into
    /// the signed metadata.
    ///
    /// Example: hl7wasm plugin sign --key vendor.key --license Apache-2.0 mapper.wasm
    Sign(plugin_sign::SignArgs),
}

/// Parses the command line, runs the subcommand and maps errors to exit
/// codes: 0 success, 1 a failed message or input, 2 a usage error (clap).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` sets up logging once its configuration has named the audit log.
    if !matches!(cli.command, Command::Serve(_)) {
        hl7wasm::logging::init(None);
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Send(args) => send::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Parse(args) => parse::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Plugin(PluginCommand::Run(args)) => plugin_run::run(&args),
        Command::Plugin(PluginCommand::Keygen(args)) => plugin_sign::keygen(&args),
        Command::Plugin(PluginCommand::Sign(args)) => plugin_sign::sign(&args),
        Command::Config(ConfigCommand::Check(args)) => config_check::run(&args),
        Command::Config(ConfigCommand::Reload(args)) => config_reload::run(&args),
        Command::Dlq(command) => dlq::run(&command),
        Command::Plugins(command) => plugins::run(&command),
        Command::Channels(args) => channels::run(&args),
        Command::Messages(command) => messages::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
