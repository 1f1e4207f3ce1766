//! Ensures a plugin version is swapped over the admin API while traffic
//! flows: 8 connections send without pause while a rebuilt passthrough is
//! uploaded and the stage is swapped 50 times between the two builds. No
//! message is lost or fails, every message's stage record names exactly one
//! of the two builds, both builds ran, and the swap latency (upload →
//! active, and each activation request) is printed. Rollback goes back to
//! the replaced build, over the API and with the CLI.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use admin::Api;
use engine::{exchange, field, message, start_channels};
use hl7wasm::store::DeadLetterFilter;
use reqwest::StatusCode;
use serde_json::json;
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_swaps_under_load_lose_nothing() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{{ name = \"ops\", token = \"{ADMIN}\", role = \"admin\" }}]\n\n[[channels]]\nname = \"test\"\npartition_by = \"PID-3.1\"\npartitions = 4\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"passthrough\"\n\
         [[channels.destinations]]\nname = \"sink\"\nto = {{ type = \"mllp\", address = \"{}\" }}\n",
        sink.address
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    let api = Api::of(&engine);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for connection in 0..8 {
        let (stop, acked, address) = (stop.clone(), acked.clone(), engine.address);
        senders.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            let mut sequence = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("S{connection}-{sequence}");
                let text = message(&id).replace("42^^^H^MR", &format!("{connection}^^^H^MR"));
                let ack = exchange(&mut stream, text.as_bytes()).await;
                assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
                acked.fetch_add(1, Ordering::Relaxed);
                sequence += 1;
            }
        }));
    }

    let activate = "/api/v1/channels/test/stages/0/activate";
    let started = Instant::now();
    let rebuilt = support::rebuilt(&support::plugin_bytes("passthrough"));
    let (status, uploaded) = api.upload(ADMIN, rebuilt).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&uploaded)
    );
    let uploaded: serde_json::Value = serde_json::from_slice(&uploaded).unwrap();
    let new_hash = uploaded["sha256"].as_str().unwrap().to_string();
    let (status, first) = api
        .post(activate, ADMIN, &json!({ "version": &new_hash[..12] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let upload_to_active = started.elapsed();
    let old_hash = first["previous"]["sha256"].as_str().unwrap().to_string();
    let builds = [old_hash, new_hash];

    let mut latencies = Vec::new();
    for swap in 0..50 {
        let started = Instant::now();
        let wanted = &builds[swap % 2];
        let (status, answer) = api
            .post(activate, ADMIN, &json!({ "version": &wanted[..12] }))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["active"]["sha256"].as_str(), Some(wanted.as_str()));
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let sent = acked.load(Ordering::Relaxed);
    sink.wait_for(sent, Duration::from_secs(60)).await;

    let store = &engine.server.store;
    let mut by_build = std::collections::HashMap::<String, usize>::new();
    for message in store.messages() {
        let message = message.unwrap();
        let status = store.status(message.id).unwrap().expect("processed");
        assert_eq!(status.stages.len(), 1, "one stage, one version");
        *by_build.entry(status.stages[0].sha256.clone()).or_default() += 1;
    }
    assert!(
        by_build.keys().all(|hash| builds.contains(hash)),
        "{by_build:?}"
    );
    assert_eq!(by_build.len(), 2, "both builds ran: {by_build:?}");
    assert_eq!(by_build.values().sum::<usize>(), sent);
    assert_eq!(
        sink.accepted_ids().len(),
        sent,
        "nothing lost, nothing twice"
    );
    assert!(
        store
            .dead_letters(&DeadLetterFilter::default(), 1)
            .unwrap()
            .is_empty()
    );

    // Roll back over the API (the last swap activated builds[1]), then
    // roll the rollback back with the CLI.
    let rollback = "/api/v1/channels/test/stages/0/rollback";
    let (status, answer) = api.post(rollback, ADMIN, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["active"]["sha256"].as_str(),
        Some(builds[0].as_str())
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["plugins", "rollback", "--channel", "test", "--stage", "0"])
        .args(["--api", &api.base, "--token", ADMIN])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        answer["active"]["sha256"].as_str(),
        Some(builds[1].as_str())
    );

    // The channel's status names what each stage runs now and what a
    // rollback would bring back.
    let status = api.ok("/api/v1/channels/test", ADMIN).await;
    let stage = &status["stages"][0];
    assert_eq!(stage["index"], 0, "{status}");
    assert_eq!(stage["configured"], "latest", "{status}");
    assert_eq!(stage["active"]["sha256"].as_str(), Some(builds[1].as_str()));
    assert_eq!(
        stage["previous"]["sha256"].as_str(),
        Some(builds[0].as_str())
    );

    latencies.sort();
    println!(
        "{sent} messages during 50 swaps; upload to active {upload_to_active:?}; \
         activation p50 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}
