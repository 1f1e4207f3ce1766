//! Ensures that queued work survives changes to the configuration between
//! two runs of the engine:
//!
//! - after `partitions` changes, messages waiting in a channel's inbound
//!   and destination queues move to the partitions the new count gives
//!   them, also from a partition that no longer exists, and each
//!   patient's messages still reach the receiving system in the order
//!   sent; dead letters are reprocessed into partitions that exist;
//! - work queued for a channel or destination no longer configured goes to
//!   the dead-letter queue (`not_configured`) instead of waiting for ever.
//!
//! The change of partitions is also made by a reload while the engine runs.
//!
//! The receiving system is outside the engine, so the tests stand it in
//! (support/sink.rs).

#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;

use std::net::SocketAddr;
use std::time::Duration;

use engine::{
    TestEngine, eventually, exchange, field, start_channels, start_from_file, write_config,
};
use hl7wasm::pipeline::ChannelState;
use hl7wasm::store::{DeadLetterFilter, DeadLetterReason};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENTS: usize = 10;
const PATIENCE: Duration = Duration::from_secs(30);

/// Channel `test`, partitioned by PID-3.1 into `partitions`, delivering to
/// the sink in order and retrying quickly for as long as it takes.
fn channel(sink: SocketAddr, partitions: u32) -> String {
    format!(
        "[[channels]]\nname = \"test\"\npartition_by = \"PID-3.1\"\npartitions = {partitions}\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{sink}\", ack_timeout_secs = 2 }}\n\
         retry = {{ initial_delay_ms = 20, max_delay_ms = 100, max_retries = 100000, jitter = 0.0 }}\n"
    )
}

/// Message `sequence` of `patient`: PID-3.1 names the patient, MSH-10 the
/// patient and the sequence.
fn message(patient: usize, sequence: usize) -> String {
    format!(
        "MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||ADT^A08^ADT_A01|P{patient:03}-{sequence}|P|2.5.1\r\
         PID|1||P{patient:03}^^^H^MR||DOE^JANE\r"
    )
}

/// Sends `sequences` of every patient, interleaved across patients.
async fn send(engine: &TestEngine, sequences: std::ops::Range<usize>) {
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    for sequence in sequences {
        for patient in 0..PATIENTS {
            let ack = exchange(&mut stream, message(patient, sequence).as_bytes()).await;
            assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
        }
    }
}

/// How many entries wait for the sink, over `partitions`.
fn waiting(engine: &TestEngine, partitions: u32) -> usize {
    (0..partitions)
        .map(|p| {
            engine
                .server
                .store
                .outbound_depth("test", "sink", p)
                .unwrap()
        })
        .sum()
}

/// Queues work in both kinds of queue of channel `test` (four
/// partitions): three messages per patient reach the destination queues,
/// where the sink's AE keeps them, and three more wait in the inbound
/// queues of the channel, paused.
async fn queue_work_in_four_partitions(engine: &TestEngine) {
    send(engine, 0..3).await;
    eventually(PATIENCE, "30 entries wait for the sink", || {
        waiting(engine, 4) == 3 * PATIENTS
    })
    .await;
    let control = engine.server.pipeline("test").unwrap().control.clone();
    control
        .update(|_| Ok::<_, ()>(ChannelState::Paused))
        .unwrap();
    send(engine, 3..6).await;
}

/// Lets the sink accept, and checks that every patient's six messages
/// arrive, in order, with nothing left in any of the four partitions.
async fn every_patient_arrives_in_order(engine: &TestEngine, sink: &Sink) {
    sink.answer(Answer::Accept);
    sink.wait_for(6 * PATIENTS, PATIENCE).await;
    let seen = sink.sequences_by_patient();
    assert_eq!(seen.len(), PATIENTS);
    for (patient, sequences) in &seen {
        assert_eq!(
            sequences,
            &(0..6).collect::<Vec<_>>(),
            "patient {patient}'s messages lost or out of order"
        );
    }
    assert_eq!(waiting(engine, 4), 0, "nothing left in any partition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_follow_a_change_of_partitions() {
    let sink = Sink::start("127.0.0.1:0", Answer::Error).await;
    let engine = start_channels(tempfile::tempdir().unwrap(), &channel(sink.address, 4)).await;
    queue_work_in_four_partitions(&engine).await;

    // Restarted with three partitions (partition 3 is gone).
    let TestEngine { server, dir, .. } = engine;
    server.shutdown().await;
    let engine = start_channels(dir, &channel(sink.address, 3)).await;
    every_patient_arrives_in_order(&engine, &sink).await;
    engine.server.shutdown().await;
}

/// Ensures the same when the change of partitions comes by a reload of the
/// configuration file while the engine runs: the channel stops, its queued
/// work moves, and it starts again with three partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_follow_a_change_of_partitions_on_reload() {
    let sink = Sink::start("127.0.0.1:0", Answer::Error).await;
    let engine = start_from_file(tempfile::tempdir().unwrap(), &channel(sink.address, 4)).await;
    queue_work_in_four_partitions(&engine).await;

    write_config(&engine.dir, &channel(sink.address, 3));
    let report = engine
        .server
        .reload_config()
        .await
        .expect("the reload applies");
    assert_eq!(report.restarted, ["test"]);
    every_patient_arrives_in_order(&engine, &sink).await;
    engine.server.shutdown().await;
}

/// Ensures that dead letters of partitions that no longer exist are
/// reprocessed into the partitions their messages have now, and delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_go_back_to_a_partition_that_exists() {
    let sink = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let engine = start_channels(tempfile::tempdir().unwrap(), &channel(sink.address, 4)).await;
    send(&engine, 0..1).await;
    let letters = || {
        engine
            .server
            .store
            .dead_letter_count(&DeadLetterFilter::default())
            .unwrap()
    };
    eventually(PATIENCE, "every message dead-lettered (AR)", || {
        letters() == PATIENTS
    })
    .await;

    let TestEngine { server, dir, .. } = engine;
    server.shutdown().await;
    sink.answer(Answer::Accept);
    let engine = start_channels(dir, &channel(sink.address, 2)).await;
    let requeued = engine
        .server
        .reprocess_dead_letters(&DeadLetterFilter::default())
        .unwrap();
    assert_eq!(requeued.len(), PATIENTS);
    assert!(requeued.iter().all(|r| r.partition < 2), "{requeued:?}");
    sink.wait_for(PATIENTS, PATIENCE).await;
    engine.server.shutdown().await;
}

/// Ensures that at start, messages queued in a channel that is no longer
/// configured, and entries queued for a destination that is not, go to the
/// dead-letter queue with their reason, while the rest is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_of_removed_channels_and_destinations_is_dead_lettered() {
    let sink = Sink::start("127.0.0.1:0", Answer::Error).await;
    let old = format!(
        "{}[[channels.destinations]]\nname = \"old\"\nto = {{ type = \"mllp\", address = \"{}\" }}\n\
         [[channels]]\nname = \"gone\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n",
        channel(sink.address, 1),
        sink.address
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &old).await;
    send(&engine, 0..1).await;
    eventually(PATIENCE, "both destinations' entries wait", || {
        waiting(&engine, 1) == PATIENTS
            && engine
                .server
                .store
                .outbound_depth("test", "old", 0)
                .unwrap()
                == PATIENTS
    })
    .await;
    let gone = engine.server.pipeline("gone").unwrap().control.clone();
    gone.update(|_| Ok::<_, ()>(ChannelState::Paused)).unwrap();
    let mut stream = TcpStream::connect(engine.server.address("gone").unwrap())
        .await
        .unwrap();
    for sequence in 0..2 {
        let ack = exchange(&mut stream, message(0, sequence).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    }

    let TestEngine { server, dir, .. } = engine;
    server.shutdown().await;
    sink.answer(Answer::Accept);
    let engine = start_channels(dir, &channel(sink.address, 1)).await;
    sink.wait_for(PATIENTS, PATIENCE).await;

    let letters = engine
        .server
        .store
        .dead_letters(&DeadLetterFilter::default(), usize::MAX)
        .unwrap();
    let of = |channel: &str, destination: Option<&str>| {
        letters
            .iter()
            .filter(|l| {
                l.header.channel == channel && l.header.destination.as_deref() == destination
            })
            .count()
    };
    assert_eq!(of("test", Some("old")), PATIENTS);
    assert_eq!(of("gone", None), 2);
    assert_eq!(letters.len(), PATIENTS + 2);
    assert!(
        letters
            .iter()
            .all(|l| l.header.reason == DeadLetterReason::NotConfigured),
        "{letters:?}"
    );
    assert!(letters[0].header.error.contains("is not configured"));
    assert_eq!(engine.server.store.inbound_queues().unwrap(), []);
    engine.server.shutdown().await;
}
