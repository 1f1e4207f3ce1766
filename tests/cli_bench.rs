//! Ensures that `hl7wasm bench` loads an MLLP listener (one message in
//! flight and pipelined) and an HTTP source with unique control IDs, checks
//! every ACK and reports the figures, and that it counts refusals as errors.

#[path = "support/engine.rs"]
mod engine;

use std::process::Command;

use hl7wasm::config;
use hl7wasm::server::Server;

fn bench(target: &str, extra: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["bench", target, "--connections", "2", "--messages", "60"])
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_loads_mllp_and_http_sources() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\ndir = {:?}\n\n\
         [profiles.oru_only]\nmessage_types = [\"ORU\"]\n\n\
         [[channels]]\nname = \"mllp\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\n\
         [[channels]]\nname = \"http\"\n[channels.source]\ntype = \"http\"\nlisten = \"127.0.0.1:0\"\npath = \"/hl7\"\n\n\
         [[channels]]\nname = \"strict\"\nvalidation_profile = \"oru_only\"\n\
         [channels.source]\ntype = \"http\"\nlisten = \"127.0.0.1:0\"\n",
        dir.path().join("store")
    );
    let server = Server::start(config::parse(&text, "test").unwrap())
        .await
        .unwrap();
    let mllp = server.address("mllp").unwrap().to_string();
    let http = format!("http://{}/hl7", server.address("http").unwrap());
    let strict = format!("http://{}/", server.address("strict").unwrap());

    for (target, extra) in [
        (mllp.as_str(), &[][..]),
        (mllp.as_str(), &["--pipeline", "4"][..]),
        (http.as_str(), &[]),
    ] {
        let (success, stdout) = tokio::task::spawn_blocking({
            let target = target.to_string();
            move || bench(&target, extra)
        })
        .await
        .unwrap();
        assert!(success, "{target}: {stdout}");
        assert!(stdout.contains("acked 60 in "), "{stdout}");
        assert!(stdout.contains("errors 0:"), "{stdout}");
    }
    assert_eq!(server.store.messages().count(), 180);

    let (success, stdout) = tokio::task::spawn_blocking(move || bench(&strict, &[]))
        .await
        .unwrap();
    assert!(!success, "{stdout}");
    assert!(stdout.contains("errors 60: not AA/CA 60"), "{stdout}");
    server.shutdown().await;
}
