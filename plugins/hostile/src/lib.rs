//! A test fixture: a plugin that misbehaves when the message body contains a
//! marker, and forwards the message unchanged otherwise. The hostile-plugin
//! tests use it to show that each kind of misbehaviour is contained and that
//! the next message is processed normally.
//!
//! Markers: `HOSTILE:loop`, `HOSTILE:bomb`, `HOSTILE:panic`, `HOSTILE:huge`,
//! `HOSTILE:file`, `HOSTILE:socket <port>`, `HOSTILE:chatty` (floods stdout),
//! `HOSTILE:sleep` (sleeps an hour, then reports the clock it saw),
//! `HOSTILE:clock` (forwards the wall clock's time), `HOSTILE:hoard` (takes
//! host resources and never drops them), `HOSTILE:retry` (asks for a
//! retry), `HOSTILE:reject` (rejects at PID-5).

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hl7wasm_plugin_sdk::{
    Location, Message, Outcome, Plugin, PluginInfo, TransformError, export_plugin,
};

/// The fixture's configuration: how large `HOSTILE:huge` output is.
struct Hostile {
    huge_bytes: usize,
}

fn spin_forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Reserve without touching: growth, not memset, is what is tested.
        hoard.push(black_box(Vec::with_capacity(4 << 20)));
    }
}

fn read_host_file() -> Result<Outcome, TransformError> {
    match std::fs::read("/etc/passwd") {
        Ok(bytes) => Ok(Outcome::forward(Message::new(
            "text/plain",
            format!("read {} bytes", bytes.len()),
        ))),
        Err(e) => Err(TransformError::reject(format!("file denied: {e}"))),
    }
}

fn open_socket(port: &str) -> Result<Outcome, TransformError> {
    match std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
        Ok(_) => Ok(Outcome::forward(Message::new("text/plain", "connected"))),
        Err(e) => Err(TransformError::reject(format!("socket denied: {e}"))),
    }
}

/// The wall clock as the plugin sees it, in ms since the Unix epoch.
fn wall_clock_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}

fn sleep_an_hour() -> Result<Outcome, TransformError> {
    std::thread::sleep(Duration::from_secs(3600));
    Ok(Outcome::forward(Message::new(
        "text/plain",
        format!("woke at {}", wall_clock_ms()),
    )))
}

fn hoard_host_resources() -> ! {
    loop {
        std::mem::forget(wasip2::clocks::monotonic_clock::subscribe_duration(0));
    }
}

fn flood_stdout() -> Result<Outcome, TransformError> {
    for line in 0..10_000 {
        println!("chatty line {line}");
    }
    Ok(Outcome::filter("flooded stdout"))
}

impl Plugin for Hostile {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "hostile",
            env!("CARGO_PKG_VERSION"),
            "hl7wasm tests",
            "Misbehaves on request; a sandbox test fixture.",
        )
    }

    fn configure(config: serde_json::Value) -> Result<Self, String> {
        let huge_bytes = config
            .get("huge_bytes")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(32 << 20) as usize;
        Ok(Hostile { huge_bytes })
    }

    fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
        let mut words = message
            .body
            .split("HOSTILE:")
            .nth(1)
            .unwrap_or("")
            .split([' ', '\r', '|']);
        let marker = message
            .body
            .contains("HOSTILE:")
            .then(|| words.next().unwrap_or(""));
        match marker {
            None => Ok(Outcome::forward(message)),
            Some("loop") => spin_forever(),
            Some("bomb") => allocate_forever(),
            Some("panic") => panic!("hostile plugin panics on purpose"),
            Some("huge") => Ok(Outcome::forward(Message::new(
                "text/plain",
                "x".repeat(self.huge_bytes),
            ))),
            Some("file") => read_host_file(),
            Some("socket") => open_socket(words.next().unwrap_or("2575")),
            Some("chatty") => flood_stdout(),
            Some("sleep") => sleep_an_hour(),
            Some("hoard") => hoard_host_resources(),
            Some("clock") => Ok(Outcome::forward(Message::new(
                "text/plain",
                wall_clock_ms().to_string(),
            ))),
            Some("retry") => Err(TransformError::retry("hostile plugin asks for a retry")),
            Some("reject") => Err(TransformError::reject("hostile plugin rejects on purpose")
                .at(Location::field("PID", 5))),
            Some(other) => Err(TransformError::reject(format!(
                "unknown hostile marker {other}"
            ))),
        }
    }
}

export_plugin!(Hostile);
