//! Ensures per-patient FIFO with parallel partitions: 10,000 messages for
//! 100 patients, sent on 8 connections, through a channel partitioned by
//! PID-3.1 into 8 partitions, to a receiving system that answers after a
//! random delay. Every patient's messages arrive in the order sent.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;

use std::time::Duration;

use engine::{exchange, field, start_channels};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENTS: usize = 100;
const MESSAGES: usize = 10_000;
const CONNECTIONS: usize = 8;

/// Message `sequence` of `patient`: PID-3.1 names the patient, MSH-10 the
/// patient and the sequence.
fn message(patient: usize, sequence: usize) -> String {
    format!(
        "MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||ADT^A08^ADT_A01|P{patient:03}-{sequence:05}|P|2.5.1\r\
         PID|1||P{patient:03}^^^H^MR||DOE^JANE\r"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_patients_messages_arrive_in_order_across_partitions() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    sink.state.lock().unwrap().max_delay_us = 300;
    let config = format!(
        "[[channels]]\nname = \"test\"\npartition_by = \"PID-3.1\"\npartitions = 8\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"sink\"\nto = {{ type = \"mllp\", address = \"{}\" }}\n",
        sink.address
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;

    // Connection c sends the patients p with p % CONNECTIONS == c, each
    // patient's messages in sequence order, interleaved across patients.
    let per_patient = MESSAGES / PATIENTS;
    let mut senders = Vec::new();
    for connection in 0..CONNECTIONS {
        let address = engine.address;
        senders.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            for sequence in 0..per_patient {
                for patient in (connection..PATIENTS).step_by(CONNECTIONS) {
                    let ack = exchange(&mut stream, message(patient, sequence).as_bytes()).await;
                    assert_eq!(field(&ack, "MSA-1"), "AA");
                }
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    sink.wait_for(MESSAGES, Duration::from_secs(120)).await;

    let seen = sink.sequences_by_patient();
    assert_eq!(seen.len(), PATIENTS);
    let in_order: Vec<usize> = (0..per_patient).collect();
    for (patient, sequences) in &seen {
        assert_eq!(
            sequences, &in_order,
            "patient {patient}'s messages out of order"
        );
    }
    // The patients spread over every partition: order held while the
    // partitions ran in parallel.
    let mut partitions: Vec<u32> = engine
        .server
        .store
        .messages()
        .map(|m| m.unwrap().partition)
        .collect();
    partitions.sort_unstable();
    partitions.dedup();
    assert_eq!(partitions, (0..8).collect::<Vec<u32>>());
}
