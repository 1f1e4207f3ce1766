//! Ensures that when storage fails (a full disk) the sender gets AE with an
//! ERR segment, never AA, and that the engine ACKs AA again once space is
//! freed, without a restart; and that the `storage_space` alert is raised
//! while the disk is nearly full and cleared once there is room.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/tmpfs.rs"]
mod tmpfs;

use std::time::{Duration, Instant};

use engine::{exchange, field, message, stored_control_ids};
use hl7wasm::config;
use hl7wasm::metrics::{channel, count};
use hl7wasm::server::Server;
use tmpfs::{Tmpfs, fill};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gets_ae_and_the_engine_recovers() {
    let root = tempfile::tempdir().unwrap();
    let _mount = Tmpfs::mount(root.path());
    let text = format!(
        "[storage]\ndir = {:?}\ncache_capacity_bytes = 1048576\n\n[alerts]\ninterval_secs = 1\n\n[[channels]]\nname = \"test\"\n\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n",
        root.path().join("store")
    );
    let server = Server::start(config::parse(&text, "test").unwrap())
        .await
        .unwrap();
    let storage_alert = || {
        server
            .alerts
            .active()
            .into_iter()
            .any(|alert| alert.kind == "storage_space" && alert.channel.is_empty())
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!storage_alert(), "raised with room to spare");
    let mut stream = TcpStream::connect(server.address("test").unwrap())
        .await
        .unwrap();
    assert_eq!(
        field(
            &exchange(&mut stream, message("BEFORE").as_bytes()).await,
            "MSA-1"
        ),
        "AA"
    );

    let ballast = root.path().join("ballast");
    fill(&ballast);
    let mut refused = None;
    for n in 0..200 {
        let control_id = format!("FULL-{n}");
        let ack = exchange(&mut stream, message(&control_id).as_bytes()).await;
        if field(&ack, "MSA-1") == "AE" {
            refused = Some((control_id, ack));
            break;
        }
    }
    let (refused_id, ack) = refused.expect("a full disk must turn AA into AE");
    assert_eq!(field(&ack, "ERR-3.1"), "207");
    assert!(
        field(&ack, "ERR-8").contains("storage is unavailable"),
        "{ack}"
    );
    assert!(count(&server.metrics.storage_failures, &channel("test")) >= 1);
    engine::eventually(
        Duration::from_secs(10),
        "the storage alert raised",
        storage_alert,
    )
    .await;
    assert!(server.metrics.storage_available_bytes.get() < 1 << 20);
    assert_eq!(server.metrics.storage_total_bytes.get(), 2 << 20);

    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ack = exchange(&mut stream, message("AFTER").as_bytes()).await;
        if field(&ack, "MSA-1") == "AA" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine did not recover: {ack}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The sender resends what got AE: its dedupe entry, filed before the
    // append failed, must not make the resend look like a duplicate of a
    // message that was never stored.
    let resent = exchange(&mut stream, message(&refused_id).as_bytes()).await;
    assert_eq!(field(&resent, "MSA-1"), "AA", "{resent}");
    let stored = stored_control_ids(&server);
    let times = |id: &str| stored.iter().filter(|stored| *stored == id).count();
    assert_eq!(
        [times("BEFORE"), times("AFTER"), times(&refused_id)],
        [1, 1, 1],
        "{stored:?}"
    );
    engine::eventually(Duration::from_secs(10), "the storage alert cleared", || {
        !storage_alert()
    })
    .await;
    server.shutdown().await;
}

/// Ensures that a file source leaves a file where it is while storage
/// fails, and reads it through once space is freed: every message stored
/// once, the file in the done directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_waits_in_its_directory_while_the_disk_is_full() {
    let root = tempfile::tempdir().unwrap();
    let _mount = Tmpfs::mount(root.path());
    let inbox = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\ndir = {:?}\ncache_capacity_bytes = 1048576\n\n[[channels]]\nname = \"files\"\n\n\
         [channels.source]\ntype = \"file\"\ndir = {:?}\npoll_interval_ms = 50\nmin_age_ms = 0\n",
        root.path().join("store"),
        inbox.path(),
    );
    let server = Server::start(config::parse(&text, "test").unwrap())
        .await
        .unwrap();
    let ballast = root.path().join("ballast");
    fill(&ballast);
    let body: String = (0..200).map(|n| message(&format!("FILE-{n}"))).collect();
    let staged = inbox.path().join(".batch.hl7");
    std::fs::write(&staged, body).unwrap();
    std::fs::rename(&staged, inbox.path().join("batch.hl7")).unwrap();
    let outcome = |outcome: &str| {
        let labels = vec![
            ("channel", "files".to_string()),
            ("outcome", outcome.to_string()),
        ];
        count(&server.metrics.files_read, &labels)
    };
    let retried = || outcome("retry");
    let deadline = Instant::now() + Duration::from_secs(30);
    while retried() == 0 {
        assert!(Instant::now() < deadline, "storage never failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        inbox.path().join("batch.hl7").exists(),
        "the file stays while storage fails"
    );

    std::fs::remove_file(&ballast).unwrap();
    let done = inbox.path().join("done").join("batch.hl7");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done.exists() {
        assert!(
            Instant::now() < deadline,
            "the file was not read after recovery"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stored = stored_control_ids(&server);
    stored.sort();
    let mut expected: Vec<String> = (0..200).map(|n| format!("FILE-{n}")).collect();
    expected.sort();
    assert_eq!(stored, expected, "every message stored exactly once");
    assert_eq!((outcome("done"), outcome("unreadable")), (1, 0));
    server.shutdown().await;
}
