//! Ensures the path after the commit ACK: plugins run in order, outputs are
//! routed by filters to MLLP, HTTP, file and channel destinations, ACKs
//! can wait for the pipeline or for a destination's verdict, failed
//! deliveries are retried with backoff (also across a restart), and what
//! cannot be processed or delivered lands in the dead-letter queue, from
//! which it can be reprocessed exactly once; and that work queued without
//! a wake-up is still picked up.
//!
//! The receiving systems are outside the engine, so the tests stand them
//! in: an MLLP sink (support/sink.rs) and an axum HTTP server.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;
#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use engine::{TestEngine, eventually, exchange, field, install_plugin, message, start_channels};
use hl7wasm::store::{DeadLetterFilter, DeadLetterReason, MessageState};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(20);

/// A channel `test` with an optional pipeline and one MLLP destination
/// `sink` that retries quickly.
fn channel(sink: SocketAddr, channel_extra: &str, pipeline: &str, max_retries: u32) -> String {
    format!(
        "[[channels]]\nname = \"test\"\n{channel_extra}\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n{pipeline}\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{sink}\", ack_timeout_secs = 2, connect_timeout_secs = 1 }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = {max_retries}, jitter = 0.0 }}\n"
    )
}

const HOSTILE_STAGE: &str = "[[channels.pipeline]]\nplugin = \"hostile\"\n";

/// An address nothing listens on (yet).
async fn free_address() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Sends `ids` on one connection, each ACKed AA.
async fn send_all(engine: &TestEngine, ids: &[String]) {
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    for id in ids {
        let ack = exchange(&mut stream, message(id).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    }
}

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:04}")).collect()
}

/// Waits until `destination`'s queue (partition 0 of channel `test`) is empty.
async fn queue_empties(engine: &TestEngine, destination: &str) {
    let store = &engine.server.store;
    eventually(PATIENCE, "the queue empties", || {
        store.outbound_depth("test", destination, 0).unwrap() == 0
    })
    .await;
}

/// The active alerts about channels: engine-wide ones (`storage_space`)
/// depend on this machine's disk.
fn channel_alerts(engine: &TestEngine) -> Vec<hl7wasm::alerts::Alert> {
    let alerts = engine.server.alerts.active().into_iter();
    alerts.filter(|alert| !alert.channel.is_empty()).collect()
}

fn dead_letters(engine: &TestEngine) -> Vec<hl7wasm::store::DeadLetter> {
    engine
        .server
        .store
        .dead_letters(&DeadLetterFilter::default(), usize::MAX)
        .unwrap()
}

/// Ensures that a destination that cannot be reached for longer than its
/// retries last gets every message, in order, once it is back: attempts
/// that could not connect do not count against `max_retries`, so an outage
/// does not drain the queue into the dead-letter queue.
#[tokio::test]
async fn a_destination_that_comes_back_gets_every_message_in_order() {
    let address = free_address().await;
    let engine = start_channels(tempfile::tempdir().unwrap(), &channel(address, "", "", 2)).await;
    let sent = ids("DOWN", 50);
    send_all(&engine, &sent).await;
    let metrics = engine.server.metrics.clone();
    let retries = hl7wasm::metrics::destination_and("test", "sink", "result", "unreachable");
    eventually(
        PATIENCE,
        "delivery is retried past max_retries while the sink is down",
        || hl7wasm::metrics::count(&metrics.deliveries, &retries) >= 6,
    )
    .await;
    assert!(dead_letters(&engine).is_empty(), "an outage dead-lettered");
    let first = engine
        .server
        .store
        .outbound("test", "sink", 0, 1)
        .unwrap()
        .remove(0);
    assert!(first.header.attempts > 3, "{:?}", first.header);
    assert_eq!(first.header.counted_attempts(), 0, "{:?}", first.header);

    let sink = Sink::start(&address.to_string(), Answer::Accept).await;
    sink.wait_for(sent.len(), PATIENCE).await;
    assert_eq!(sink.accepted_ids(), sent);
    queue_empties(&engine, "sink").await;
    assert!(dead_letters(&engine).is_empty());
}

/// Ensures that a message queued without a wake-up for its workers (here
/// written to the store directly, as a path cut short after the write
/// would leave it) is still processed and delivered: an idle worker looks
/// at its queue again within `IDLE_RECHECK`.
#[tokio::test]
async fn a_message_queued_without_a_wake_up_is_still_delivered() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start_channels(
        tempfile::tempdir().unwrap(),
        &channel(sink.address, "", "", 5),
    )
    .await;
    send_all(&engine, &ids("AWAKE", 1)).await;
    sink.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let raw = message("QUIET-1");
    engine
        .server
        .store
        .ingest(hl7wasm::store::NewMessage {
            channel: "test",
            partition: 0,
            raw: raw.as_bytes(),
            received_at_ms: 0,
            peer: None,
            peer_certificate: None,
            control_id: Some("QUIET-1"),
            message_type: Some("ADT^A01"),
            dedupe_key: None,
            dedupe_window: None,
        })
        .await
        .unwrap();
    let patience = hl7wasm::pipeline::IDLE_RECHECK * 3;
    sink.wait_for(2, patience).await;
    assert_eq!(sink.accepted_ids(), ["AWAKE0000", "QUIET-1"]);
}

#[tokio::test]
async fn ar_dead_letters_at_once_and_reprocessing_delivers_exactly_once() {
    let sink = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let engine = start_channels(
        tempfile::tempdir().unwrap(),
        &channel(sink.address, "dead_letter_alert = 2", "", 5),
    )
    .await;
    let sent = ids("AR", 3);
    send_all(&engine, &sent).await;
    eventually(PATIENCE, "three dead letters", || {
        dead_letters(&engine).len() == 3
    })
    .await;
    let alerts = channel_alerts(&engine);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, "dead_letter_depth");
    assert_eq!(alerts[0].channel, "test");
    let letters = dead_letters(&engine);
    for (letter, id) in letters.iter().zip(&sent) {
        let header = &letter.header;
        assert_eq!(header.reason, DeadLetterReason::Rejected);
        assert_eq!(header.destination.as_deref(), Some("sink"));
        assert_eq!(header.control_id.as_deref(), Some(id.as_str()));
        assert_eq!(header.attempts, 1, "AR is not retried");
        assert!(header.error.contains("AR"), "{}", header.error);
        assert_eq!(letter.body, message(id).as_bytes());
    }
    assert_eq!(sink.state.lock().unwrap().received, 3);

    sink.answer(Answer::Accept);
    let requeued = engine
        .server
        .reprocess_dead_letters(&DeadLetterFilter::default())
        .unwrap();
    assert_eq!(requeued.len(), 3);
    sink.wait_for(3, PATIENCE).await;
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.accepted_ids(), sent);
    assert!(dead_letters(&engine).is_empty());
    assert_eq!(
        engine
            .server
            .reprocess_dead_letters(&DeadLetterFilter::default())
            .unwrap(),
        []
    );
    eventually(PATIENCE, "the alert clears", || {
        channel_alerts(&engine).is_empty()
    })
    .await;
}

#[tokio::test]
async fn exhausted_retries_dead_letter_with_their_attempts() {
    let sink = Sink::start("127.0.0.1:0", Answer::Error).await;
    let engine = start_channels(
        tempfile::tempdir().unwrap(),
        &channel(sink.address, "", "", 2),
    )
    .await;
    send_all(&engine, &ids("AE", 1)).await;
    eventually(PATIENCE, "a dead letter", || {
        dead_letters(&engine).len() == 1
    })
    .await;
    let header = &dead_letters(&engine)[0].header;
    assert_eq!(header.reason, DeadLetterReason::RetriesExhausted);
    assert_eq!(header.attempts, 3, "the first attempt and two retries");
    assert!(header.first_failure_ms < header.last_failure_ms);
    assert_eq!(sink.state.lock().unwrap().received, 3);
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_later_messages_flow() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, &support::plugin_path("hostile"));
    let engine = start_channels(dir, &channel(sink.address, "", HOSTILE_STAGE, 5)).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    for (id, extra) in [("P1", ""), ("P2", "NTE|1||HOSTILE:reject\r"), ("P3", "")] {
        let ack = exchange(&mut stream, format!("{}{extra}", message(id)).as_bytes()).await;
        assert_eq!(
            field(&ack, "MSA-1"),
            "AA",
            "commit ACKs come before the plugin"
        );
    }
    sink.wait_for(2, PATIENCE).await;
    assert_eq!(sink.accepted_ids(), ["P1", "P3"]);
    eventually(PATIENCE, "a dead letter", || {
        dead_letters(&engine).len() == 1
    })
    .await;
    let letter = &dead_letters(&engine)[0];
    assert_eq!(letter.header.reason, DeadLetterReason::PluginRejected);
    assert_eq!(letter.header.destination, None);
    assert!(
        letter.header.error.contains("rejects on purpose"),
        "{}",
        letter.header.error
    );
    let status = engine
        .server
        .store
        .status(letter.header.message_id)
        .unwrap()
        .unwrap();
    assert_eq!(status.state, MessageState::DeadLettered);
    assert_eq!(status.stages[0].plugin, "hostile");
    assert_eq!(status.stages[0].outcome, "reject");
}

#[tokio::test]
async fn a_restart_during_retries_resumes_them_where_they_were() {
    let address = free_address().await;
    let config =
        channel(address, "", "", 1000).replace("initial_delay_ms = 50", "initial_delay_ms = 100");
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    let sent = ids("RST", 3);
    send_all(&engine, &sent).await;
    // 0 until the pipeline has queued the first message for the sink.
    let attempts = |engine: &TestEngine| {
        let entries = engine.server.store.outbound("test", "sink", 0, 1).unwrap();
        entries.first().map_or(0, |entry| entry.header.attempts)
    };
    eventually(PATIENCE, "two failed attempts", || attempts(&engine) >= 2).await;
    let before = attempts(&engine);

    let engine = engine.restart(&config).await;
    assert!(attempts(&engine) >= before, "attempts survive the restart");
    let sink = Sink::start(&address.to_string(), Answer::Accept).await;
    sink.wait_for(3, PATIENCE).await;
    assert_eq!(sink.accepted_ids(), sent);
}

#[tokio::test]
async fn after_transform_acks_carry_the_pipeline_result() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, &support::plugin_path("hostile"));
    let config = channel(
        sink.address,
        "ack_mode = \"after_transform\"",
        HOSTILE_STAGE,
        5,
    )
    .replace(
        "[channels.source]",
        "retry = { initial_delay_ms = 60000 }\n[channels.source]",
    );
    let engine = start_channels(dir, &config).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();

    let ack = exchange(&mut stream, message("T1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");

    let rejected = format!("{}NTE|1||HOSTILE:reject\r", message("T2"));
    let ack = exchange(&mut stream, rejected.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR", "{ack}");
    assert_eq!(field(&ack, "MSA-2"), "T2");
    assert_eq!(field(&ack, "ERR-2"), "PID^1^5");
    assert_eq!(field(&ack, "ERR-3.1"), "207", "an application error");
    assert!(field(&ack, "ERR-8").contains("rejects on purpose"), "{ack}");

    let retried = format!("{}NTE|1||HOSTILE:retry\r", message("T3"));
    let ack = exchange(&mut stream, retried.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AE", "{ack}");
    assert!(field(&ack, "ERR-8").contains("will be retried"), "{ack}");
    sink.wait_for(1, PATIENCE).await;
}

/// Ensures that a message type the mapper refuses (hl7-to-fhir with
/// `unsupported = "reject"`) is answered, under `after_transform`, with
/// ERR-2 at MSH-9 and ERR-3 200 (unsupported message type).
#[tokio::test]
async fn an_unsupported_type_is_answered_with_err_200() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, &support::plugin_path("hl7-to-fhir"));
    let stage =
        "[[channels.pipeline]]\nplugin = \"hl7-to-fhir\"\nconfig = { unsupported = \"reject\" }\n";
    let config = channel(sink.address, "ack_mode = \"after_transform\"", stage, 5);
    let engine = start_channels(dir, &config).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();

    let unsupported = message("U1").replacen("|ADT^A01^ADT_A01|", "|ZZZ^Z01|", 1);
    let ack = exchange(&mut stream, unsupported.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR", "{ack}");
    assert_eq!(field(&ack, "ERR-2"), "MSH^1^9");
    assert_eq!(field(&ack, "ERR-3.1"), "200", "{ack}");
    assert_eq!(field(&ack, "ERR-3.2"), "Unsupported message type");
    assert!(
        field(&ack, "ERR-8").contains("unsupported message type"),
        "{ack}"
    );

    let ack = exchange(&mut stream, message("U2").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "a supported type maps: {ack}");
}

/// Ensures that with `ack_mode = "after_delivery"` the sender gets the ACK
/// destination's verdict: AA once the sink has the message (also after
/// retries within the deadline), AR for a refusal or a plugin's rejection,
/// AE while retries go on past the deadline, and for resends the original's
/// verdict, from memory or, after a restart, from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_delivery_acks_pass_the_destinations_verdict_on() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, &support::plugin_path("hostile"));
    let config = channel(
        sink.address,
        "ack_mode = \"after_delivery\"\nack_destination = \"sink\"\ndelivery_ack_timeout_secs = 2",
        HOSTILE_STAGE,
        1000,
    );
    let engine = start_channels(dir, &config).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();

    let ack = exchange(&mut stream, message("D1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    assert_eq!(sink.accepted_ids(), ["D1"], "delivered before the ACK");

    sink.answer(Answer::Reject);
    let ack = exchange(&mut stream, message("D2").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR", "{ack}");
    assert_eq!(field(&ack, "MSA-2"), "D2");
    assert!(
        field(&ack, "ERR-8").contains("Not delivered to sink"),
        "{ack}"
    );
    sink.answer(Answer::Accept);

    let rejected = format!("{}NTE|1||HOSTILE:reject\r", message("D3"));
    let ack = exchange(&mut stream, rejected.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR", "{ack}");
    assert_eq!(field(&ack, "ERR-2"), "PID^1^5", "the plugin's location");

    // The sink answers AE for a while: the sender waits through the
    // retries and gets AA once the sink takes the message.
    sink.answer(Answer::Error);
    let sender = tokio::spawn(async move {
        let ack = exchange(&mut stream, message("D4").as_bytes()).await;
        (stream, ack)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sink.answer(Answer::Accept);
    let (mut stream, ack) = sender.await.unwrap();
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    assert_eq!(sink.accepted_ids(), ["D1", "D4"]);

    // Past the deadline: AE with the last failure; the message is still
    // delivered, and a resend then gets AA.
    sink.answer(Answer::Error);
    let ack = exchange(&mut stream, message("D5").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AE", "{ack}");
    assert!(field(&ack, "ERR-8").contains("being retried"), "{ack}");
    sink.answer(Answer::Accept);
    sink.wait_for(3, PATIENCE).await;
    let ack = exchange(&mut stream, message("D5").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");

    // After a restart the outcomes in memory are gone: resends are
    // answered from the store.
    drop(stream);
    let engine = engine.restart(&config).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut stream, message("D1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "delivered before: {ack}");
    let ack = exchange(&mut stream, message("D2").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR", "dead-lettered before: {ack}");
    assert_eq!(sink.accepted_ids(), ["D1", "D4", "D5"], "nothing twice");
}

#[tokio::test]
async fn filters_route_to_files_and_a_channel_hands_over_durably() {
    let dir = tempfile::tempdir().unwrap();
    let adt_files = dir.path().join("adt-files");
    let lab_files = dir.path().join("lab-files");
    let all_files = dir.path().join("all-files");
    let config = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"adt\"\nto = {{ type = \"file\", dir = {adt_files:?}, file_name = \"{{control_id}}.{{ext}}\" }}\nfilter = {{ message_types = [\"ADT\"] }}\n\
         [[channels.destinations]]\nname = \"lab\"\nto = {{ type = \"file\", dir = {lab_files:?}, file_name = \"{{control_id}}.{{ext}}\" }}\nfilter = {{ sending_facilities = [\"LAB\"] }}\n\
         [[channels.destinations]]\nname = \"next\"\nto = {{ type = \"channel\", channel = \"second\" }}\n\n\
         [[channels]]\nname = \"second\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"all\"\nto = {{ type = \"file\", dir = {all_files:?}, file_name = \"{{control_id}}.{{ext}}\" }}\n"
    );
    let engine = start_channels(dir, &config).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let oru = message("F2")
        .replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01")
        .replace("|FAC|", "|LAB^1.2.3^ISO|");
    for payload in [message("F1"), oru.clone()] {
        let ack = exchange(&mut stream, payload.as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA");
    }
    let names = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    eventually(
        PATIENCE,
        "both messages reach the second channel's files, the lab's its one",
        || names(&all_files) == ["F1.hl7", "F2.hl7"] && !names(&lab_files).is_empty(),
    )
    .await;
    assert_eq!(
        names(&adt_files),
        ["F1.hl7"],
        "the ADT filter keeps the ORU out"
    );
    assert_eq!(
        names(&lab_files),
        ["F2.hl7"],
        "the facility filter reads MSH-4.1"
    );
    assert_eq!(
        std::fs::read(all_files.join("F2.hl7")).unwrap(),
        oru.as_bytes()
    );
    let handed_over = engine
        .server
        .store
        .messages()
        .filter(|m| m.as_ref().unwrap().channel == "second")
        .count();
    assert_eq!(
        handed_over, 2,
        "the second channel stored both as its own messages"
    );
}

/// Sends U0001, U0002 and U0003 to a channel whose file destination cannot
/// write U0002 (a directory holds its name) and returns the engine once
/// U0002 has been retried twice, with the output directory.
async fn file_fails_for_u2(ordering: &str) -> (TestEngine, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("U0002.hl7")).unwrap();
    let config = format!(
        "[[channels]]\nname = \"test\"\nordering = \"{ordering}\"\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"files\"\n\
         to = {{ type = \"file\", dir = {out:?}, file_name = \"{{control_id}}.{{ext}}\" }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = 1000, jitter = 0.0 }}\n"
    );
    let engine = start_channels(dir, &config).await;
    send_all(&engine, &ids("U", 4)[1..]).await;
    let metrics = engine.server.metrics.clone();
    let retries = hl7wasm::metrics::destination_and("test", "files", "result", "retry");
    eventually(PATIENCE, "U0002 is retried", || {
        hl7wasm::metrics::count(&metrics.deliveries, &retries) >= 2
    })
    .await;
    (engine, out)
}

fn written(out: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Ensures that a message whose delivery keeps failing blocks the messages
/// behind it in an ordered channel and is parked in an unordered one, and
/// that either way it is delivered once the destination recovers.
#[tokio::test]
async fn a_failing_message_blocks_its_partition_only_when_ordered() {
    for (ordering, while_failing) in [
        ("ordered", vec!["U0001.hl7"]),
        ("unordered", vec!["U0001.hl7", "U0003.hl7"]),
    ] {
        let (engine, out) = file_fails_for_u2(ordering).await;
        // U0003 was due with U0002: it is written unless U0002 blocks it.
        if ordering == "unordered" {
            eventually(PATIENCE, "U0003 passes the parked U0002", || {
                written(&out) == while_failing
            })
            .await;
        }
        assert_eq!(written(&out), while_failing, "{ordering}");
        std::fs::remove_dir(out.join("U0002.hl7")).unwrap();
        eventually(PATIENCE, "U0002 is delivered once the way is clear", || {
            written(&out) == ["U0001.hl7", "U0002.hl7", "U0003.hl7"]
        })
        .await;
        assert_eq!(
            std::fs::read_to_string(out.join("U0002.hl7")).unwrap(),
            message("U0002"),
            "{ordering}"
        );
        queue_empties(&engine, "files").await;
    }
}

#[tokio::test]
async fn http_destination_retries_5xx_until_it_succeeds() {
    use axum::http::StatusCode;
    let calls = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let app = {
        let calls = calls.clone();
        let bodies = bodies.clone();
        axum::Router::new().route(
            "/fhir",
            axum::routing::post(move |body: String| async move {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                bodies.lock().unwrap().push(body);
                StatusCode::CREATED
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/fhir", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"api\"\nto = {{ type = \"http\", url = \"{url}\" }}\n\
         retry = {{ initial_delay_ms = 20, max_delay_ms = 100, jitter = 0.0 }}\n"
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    send_all(&engine, &ids("H", 2)).await;
    eventually(PATIENCE, "both bodies posted", || {
        bodies.lock().unwrap().len() == 2
    })
    .await;
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies, [message("H0000"), message("H0001")]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "two 503s, then two successes"
    );
}

/// Ensures that the delivery worker closes its destination's connection
/// once it has idled past `max_idle_secs`, with no message to send, and
/// that the next message opens a new one.
#[tokio::test]
async fn an_idle_destination_connection_is_closed() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let config = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{}\", max_idle_secs = 1 }}\n",
        sink.address
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    send_all(&engine, &ids("IDLE", 1)).await;
    sink.wait_for(1, PATIENCE).await;
    let state = sink.state.clone();
    eventually(PATIENCE, "the idle connection is closed", || {
        state.lock().unwrap().closed == 1
    })
    .await;
    send_all(&engine, &ids("AGAIN", 1)).await;
    sink.wait_for(2, PATIENCE).await;
    assert_eq!(state.lock().unwrap().connections, 2);
}

/// Ensures that messages for an MLLP destination whose listener is down go to
/// its backup listener, in order, that each connection is counted by the
/// address it reached, and that the destination comes back to its primary
/// once that listens again and `failback_secs` have passed.
#[tokio::test]
async fn an_mllp_destination_fails_over_to_its_backup_and_back() {
    let primary = free_address().await;
    let backup = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let config = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{primary}\", backup_addresses = [\"{}\"], \
         failback_secs = 1, connect_timeout_secs = 1 }}\n",
        backup.address
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    let first = ids("B", 5);
    send_all(&engine, &first).await;
    backup.wait_for(first.len(), PATIENCE).await;
    assert_eq!(backup.accepted_ids(), first);
    let metrics = engine.server.metrics.clone();
    let connections = |address: String| {
        let labels = hl7wasm::metrics::destination_and("test", "sink", "address", &address);
        hl7wasm::metrics::count(&metrics.destination_connections, &labels)
    };
    assert_eq!(connections(backup.address.to_string()), 1);
    assert_eq!(connections(primary.to_string()), 0);

    let restored = Sink::start(&primary.to_string(), Answer::Accept).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = ids("P", 5);
    send_all(&engine, &second).await;
    restored.wait_for(second.len(), PATIENCE).await;
    assert_eq!(restored.accepted_ids(), second);
    assert_eq!(backup.accepted_ids(), first, "the backup got nothing more");
    assert_eq!(connections(primary.to_string()), 1);
    queue_empties(&engine, "sink").await;
}
