//! Ensures that the MLLP front door ACKs AA only for stored messages, ACKs
//! resends again without storing them twice (within the channel's window),
//! and answers bad input (junk,
//! no start block, no MSH, a wrong MSH-2, Latin-1 text, a 10 MB frame, a
//! slow sender, a silent client) with the right answer and a metric while
//! the listener keeps serving other connections; that a sender that
//! pipelines gets every answer in order; and that a batch in one frame gets
//! a batch of ACKs.

#[path = "support/engine.rs"]
mod engine;

use std::time::{Duration, Instant};

use engine::{
    batch_answers, eventually, exchange, field, frame, message, read_block, start,
    stored_control_ids,
};
use hl7wasm::metrics::{channel, channel_and, count};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_stored_message_gets_aa_and_a_resend_is_not_stored_twice() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut stream, message("CTRL-1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    assert_eq!(field(&ack, "MSA-2"), "CTRL-1");
    assert_eq!(field(&ack, "MSH-9.1"), "ACK");
    assert_eq!(field(&ack, "MSH-9.2"), "A01");
    assert_eq!(field(&ack, "MSH-3"), "RECV");
    assert_eq!(field(&ack, "MSH-5"), "SENDER");

    let again = exchange(&mut stream, message("CTRL-1").as_bytes()).await;
    assert_eq!(field(&again, "MSA-1"), "AA");
    assert_ne!(
        field(&again, "MSH-10"),
        field(&ack, "MSH-10"),
        "each ACK has its own control id"
    );

    let store = &engine.server.store;
    let stored: Vec<_> = store.messages().map(Result::unwrap).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].raw, message("CTRL-1").as_bytes());
    let metrics = &engine.server.metrics;
    assert_eq!(count(&metrics.duplicates, &channel("test")), 1);
    assert_eq!(count(&metrics.acks, &channel_and("test", "code", "AA")), 2);
}

/// Ensures that a message under the control id of an earlier one, with
/// other content, is not taken for a resend: it is stored and counted as a
/// reused control id, while a resend stamped with a new MSH-7 is still a
/// duplicate of the message it resends.
#[tokio::test]
async fn a_reused_control_id_with_other_content_is_stored() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let first = message("REUSE-1");
    let restamped = first.replacen("|20240101120000|", "|20240101120505|", 1);
    let other_patient = first.replacen("PID|1||42^", "PID|1||43^", 1);
    for sent in [&first, &restamped, &other_patient, &other_patient] {
        let ack = exchange(&mut stream, sent.as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA");
        assert_eq!(field(&ack, "MSA-2"), "REUSE-1");
    }

    let stored: Vec<_> = engine.server.store.messages().map(Result::unwrap).collect();
    let raws: Vec<_> = stored.iter().map(|m| m.raw.as_slice()).collect();
    assert_eq!(raws, [first.as_bytes(), other_patient.as_bytes()]);
    let metrics = &engine.server.metrics;
    assert_eq!(count(&metrics.control_id_reuses, &channel("test")), 1);
    assert_eq!(count(&metrics.duplicates, &channel("test")), 2);
    assert_eq!(count(&metrics.messages_stored, &channel("test")), 2);
}

/// Ensures that a channel's own dedupe window applies: none at all for a
/// sender that reuses control IDs, and a short one that ends.
#[tokio::test]
async fn a_channel_sets_its_own_dedupe_window() {
    let stored = |engine: &engine::TestEngine| engine.server.store.messages().count();
    let off = start("dedupe_window_secs = 0", "").await;
    let mut stream = TcpStream::connect(off.address).await.unwrap();
    for _ in 0..2 {
        let ack = exchange(&mut stream, message("REUSED-1").as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA");
    }
    assert_eq!(stored(&off), 2, "both stored: deduplication is off");
    let duplicates = count(&off.server.metrics.duplicates, &channel("test"));
    assert_eq!(duplicates, 0);

    let short = start("dedupe_window_secs = 1", "").await;
    let mut stream = TcpStream::connect(short.address).await.unwrap();
    for _ in 0..2 {
        exchange(&mut stream, message("SHORT-1").as_bytes()).await;
    }
    assert_eq!(stored(&short), 1, "a resend within the second");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ack = exchange(&mut stream, message("SHORT-1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    assert_eq!(stored(&short), 2, "a resend after the channel's window");
}

#[tokio::test]
async fn enhanced_mode_gets_a_commit_accept() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let enhanced = message_asking("ENH-1", "AL");
    let ack = exchange(&mut stream, enhanced.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "CA");
}

#[tokio::test]
async fn mllp_release2_sends_a_commit_acknowledgement_first() {
    let engine = start("", "mllp_release2 = true").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    stream
        .write_all(&frame(message("R2-1").as_bytes()))
        .await
        .unwrap();
    assert_eq!(read_block(&mut stream).await.unwrap(), vec![0x06]);
    let ack = String::from_utf8(read_block(&mut stream).await.unwrap()).unwrap();
    assert_eq!(field(&ack, "MSA-1"), "AA");
}

#[tokio::test]
async fn ack_mode_none_stores_without_answering() {
    let engine = start("ack_mode = \"none\"", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    stream
        .write_all(&frame(message("QUIET-1").as_bytes()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.server.store.messages().count() == 0 {
        assert!(Instant::now() < deadline, "the message was not stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reply = tokio::time::timeout(Duration::from_millis(300), read_block(&mut stream)).await;
    assert!(reply.is_err(), "no ACK is sent in ack_mode none");
}

/// Ensures that frames sent without waiting for their ACKs (begun together
/// by the engine in runs that share an fsync) are answered one each, in
/// order, with a resend inside the run recognised, a malformed frame
/// refused and junk between frames skipped; and that the store holds the
/// messages in the order they were sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_sender_gets_every_answer_in_order() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let mut bytes = Vec::new();
    let mut answers = Vec::new();
    let mut stored = Vec::new();
    for n in 1..=300 {
        match n {
            // A resend of message 99, within the same run.
            100 => {
                bytes.extend(frame(message("P-99").as_bytes()));
                answers.push(("AA", "P-99"));
            }
            200 => {
                bytes.extend(frame(b"PID|1||42^^^H^MR\r"));
                answers.push(("AR", ""));
            }
            _ => {
                let control_id = format!("P-{n}");
                bytes.extend(frame(message(&control_id).as_bytes()));
                answers.push(("AA", ""));
                stored.push(control_id);
            }
        }
        if n == 250 {
            bytes.extend_from_slice(b"junk between frames");
        }
    }
    stream.write_all(&bytes).await.unwrap();
    for (n, (code, control_id)) in answers.into_iter().enumerate() {
        let ack = String::from_utf8(read_block(&mut stream).await.unwrap()).unwrap();
        assert_eq!(field(&ack, "MSA-1"), code, "answer {}", n + 1);
        let expected = match control_id {
            "" if code == "AA" => format!("P-{}", n + 1),
            other => other.to_string(),
        };
        assert_eq!(field(&ack, "MSA-2"), expected, "answer {}", n + 1);
    }
    assert_eq!(
        stored_control_ids(&engine.server),
        stored,
        "stored once each, in the order sent"
    );
    let metrics = &engine.server.metrics;
    assert_eq!(count(&metrics.duplicates, &channel("test")), 1);
    assert_eq!(count(&metrics.junk_bytes, &channel("test")), 19);
}

#[tokio::test]
async fn junk_and_a_frame_without_start_block_are_skipped_and_counted() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let mut bytes = b"\x00\xffgarbage".to_vec();
    bytes.extend_from_slice(message("NOSTART").as_bytes());
    bytes.extend_from_slice(&[0x1c, 0x0d]);
    stream.write_all(&bytes).await.unwrap();
    let ack = exchange(&mut stream, message("AFTER-JUNK").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-2"), "AFTER-JUNK");
    let skipped = count(&engine.server.metrics.junk_bytes, &channel("test"));
    assert!(skipped >= bytes.len() as u64 - 2, "skipped {skipped}");
    assert_eq!(
        engine.server.store.messages().count(),
        1,
        "the unframed message is not stored"
    );
}

#[tokio::test]
async fn a_frame_without_msh_gets_ar_with_an_err_segment() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut stream, b"PID|1||42\rPV1|1|I\r").await;
    assert_eq!(field(&ack, "MSA-1"), "AR");
    assert_eq!(field(&ack, "ERR-3.1"), "100");
    assert!(field(&ack, "ERR-8").contains("no MSH segment"), "{ack}");
    let refused = &engine.server.metrics.frames_refused;
    assert_eq!(count(refused, &channel_and("test", "reason", "no_msh")), 1);
    assert_eq!(engine.server.store.messages().count(), 0);
}

#[tokio::test]
async fn a_wrong_msh2_gets_ar_pointing_at_msh2() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let bad = message("BADENC-1").replacen("MSH|^~\\&|", "MSH|^^|", 1);
    let ack = exchange(&mut stream, bad.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR");
    assert_eq!(
        field(&ack, "MSA-2"),
        "BADENC-1",
        "the ACK still echoes MSH-10"
    );
    assert_eq!(field(&ack, "ERR-2"), "MSH^1^2");
    assert_eq!(field(&ack, "ERR-3.1"), "102");
    let refused = &engine.server.metrics.frames_refused;
    assert_eq!(
        count(
            refused,
            &channel_and("test", "reason", "bad_encoding_characters")
        ),
        1
    );
}

#[tokio::test]
async fn latin1_declared_in_msh18_is_accepted_and_kept_byte_exact() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let mut latin1 =
        b"MSH|^~\\&|S|F|R|RF|20240101||ADT^A08|LAT-1|P|2.5.1||||||8859/1\rPID|1||7||M".to_vec();
    latin1.extend_from_slice(&[0xfc, 0x6c, 0x6c, 0x65, 0x72]); // "Müller" in ISO 8859-1
    latin1.push(b'\r');
    let ack = exchange(&mut stream, &latin1).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    let stored = engine.server.store.messages().next().unwrap().unwrap();
    assert_eq!(stored.raw, latin1);
}

#[tokio::test]
async fn a_10_mb_frame_gets_ar_and_the_connection_goes_on() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let mut huge = message("HUGE-1").into_bytes();
    huge.extend(std::iter::repeat_n(b'X', 10 << 20));
    huge.push(b'\r');
    let ack = exchange(&mut stream, &huge).await;
    assert_eq!(field(&ack, "MSA-1"), "AR");
    assert_eq!(field(&ack, "MSA-2"), "HUGE-1");
    assert!(
        field(&ack, "ERR-8").contains("exceeds the limit of 1048576 bytes"),
        "{ack}"
    );
    let next = exchange(&mut stream, message("AFTER-HUGE").as_bytes()).await;
    assert_eq!(field(&next, "MSA-1"), "AA");
    let refused = &engine.server.metrics.frames_refused;
    assert_eq!(
        count(refused, &channel_and("test", "reason", "too_large")),
        1
    );
}

#[tokio::test]
async fn slow_and_silent_clients_are_cut_off_while_others_are_served() {
    let engine = start(
        "",
        "[channels.source.limits]\nidle_timeout_secs = 1\nframe_timeout_secs = 2",
    )
    .await;
    let address = engine.address;
    let slow = tokio::spawn(async move {
        let mut stream = TcpStream::connect(address).await.unwrap();
        for byte in frame(message("SLOW-1").as_bytes()) {
            if stream.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        read_block(&mut stream).await
    });
    let silent = tokio::spawn(async move {
        let mut stream = TcpStream::connect(address).await.unwrap();
        read_block(&mut stream).await
    });

    // Meanwhile an ordinary sender is served at full speed.
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    for n in 0..200 {
        let ack = exchange(&mut stream, message(&format!("FAST-{n}")).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "200 messages took {:?}",
        started.elapsed()
    );
    drop(stream);

    assert_eq!(
        slow.await.unwrap(),
        None,
        "the slow sender is disconnected without an ACK"
    );
    assert_eq!(
        silent.await.unwrap(),
        None,
        "the silent client is disconnected"
    );
    let errors = &engine.server.metrics.connection_errors;
    assert_eq!(
        count(errors, &channel_and("test", "reason", "frame_timeout")),
        1
    );
    assert_eq!(
        count(errors, &channel_and("test", "reason", "idle_timeout")),
        1
    );
}

/// Field `n` (from 2) of a batch header line.
fn header_field(batch: &hl7v2::Batch<'_>, id: &str, n: usize) -> String {
    let line = batch
        .header_segment(id)
        .unwrap_or_else(|| panic!("no {id}"));
    let line = String::from_utf8(line.to_vec()).unwrap();
    line.split('|').nth(n - 1).unwrap_or_default().to_string()
}

/// Ensures that an HL7 batch sent in one frame is stored message by
/// message in order and answered with one batch of ACKs in one frame:
/// addressed back to the sender, referencing its file and batch control
/// IDs, one ACK per message in order (a resend ACKed again, a malformed
/// message refused with AR while the rest are stored), and counted in
/// BTS-1.
#[tokio::test]
async fn a_batch_in_one_frame_gets_a_batch_of_acks() {
    let engine = start("", "").await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    exchange(&mut stream, message("B-0").as_bytes()).await;
    let malformed = message("B-BAD").replacen("MSH|^~\\&|", "MSH|^^|", 1);
    let sent = format!(
        "FHS|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||||F-7\r\
         BHS|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||||B-7\r\
         {}{}{malformed}{}BTS|4\rFTS|1\r",
        message("B-1"),
        message("B-0"),
        message("B-2"),
    );
    let reply = exchange(&mut stream, sent.as_bytes()).await;

    let batch = hl7v2::split_batch(reply.as_bytes()).expect("a batch");
    for id in ["FHS", "BHS"] {
        assert_eq!(header_field(&batch, id, 3), "RECV", "{id}-3: {reply:?}");
        assert_eq!(header_field(&batch, id, 4), "RFAC");
        assert_eq!(header_field(&batch, id, 5), "SENDER");
        assert_eq!(header_field(&batch, id, 6), "FAC");
        assert!(!header_field(&batch, id, 11).is_empty(), "{id}-11");
    }
    assert_eq!(header_field(&batch, "FHS", 12), "F-7");
    assert_eq!(header_field(&batch, "BHS", 12), "B-7");
    let expected = [("AA", "B-1"), ("AA", "B-0"), ("AR", "B-BAD"), ("AA", "B-2")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(code, id)| (code.to_string(), id.to_string()))
        .collect();
    assert_eq!(batch_answers(&batch), expected);
    assert_eq!(batch.trailer, Some(&b"BTS|4\rFTS|1\r"[..]));

    assert_eq!(stored_control_ids(&engine.server), ["B-0", "B-1", "B-2"]);
    let acks = &engine.server.metrics.acks;
    assert_eq!(count(acks, &channel_and("test", "code", "AA")), 4);
    assert_eq!(count(acks, &channel_and("test", "code", "AR")), 1);

    // The connection goes on serving single messages.
    let ack = exchange(&mut stream, message("AFTER-BATCH").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-2"), "AFTER-BATCH");
}

/// [`message`] with MSH-15 (accept acknowledgment type) `accept_ack` and
/// MSH-16 NE: enhanced mode.
fn message_asking(control_id: &str, accept_ack: &str) -> String {
    let enhanced = format!("|P|2.5.1|||{accept_ack}|NE\r");
    message(control_id).replacen("|P|2.5.1\r", &enhanced, 1)
}

/// Runs `hl7wasm send ARGS ADDRESS FILE` against `engine`, FILE holding
/// `text`.
async fn send_file(engine: &engine::TestEngine, text: &str, args: &[&str]) -> std::process::Output {
    send_files(engine, &[("sent.hl7", text)], args).await
}

/// Runs `hl7wasm send` with `args` on files of these names and contents,
/// in this order.
async fn send_files(
    engine: &engine::TestEngine,
    files: &[(&str, impl AsRef<str>)],
    args: &[&str],
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let paths = files.iter().map(|(name, text)| {
        let path = dir.path().join(name);
        std::fs::write(&path, text.as_ref()).unwrap();
        path
    });
    let paths: Vec<_> = paths.collect();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .arg("send")
        .args(args)
        .arg(engine.address.to_string())
        .args(&paths)
        .output()
        .await
        .unwrap()
}

/// Ensures that a message whose MSH-15 is NE gets no accept ACK (enhanced
/// mode) and is stored all the same, and that `hl7wasm send` does not wait
/// for an ACK that was not asked for, and says so.
#[tokio::test]
async fn no_accept_ack_for_msh15_ne_and_send_does_not_wait() {
    let engine = start("", "").await;
    let never = message_asking("NE-1", "NE");
    let started = Instant::now();
    let output = send_file(&engine, &never, &["--timeout-secs", "20"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("sent.hl7 message 1: sent; its MSH-15 is NE"),
        "{stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "no wait for an ACK"
    );
    eventually(Duration::from_secs(10), "NE-1 stored", || {
        stored_control_ids(&engine.server) == ["NE-1"]
    })
    .await;
}

/// Ensures that `hl7wasm send` takes an ACK only for the message it answers
/// (MSA-2 = MSH-10): a receiver that answers a message with MSH-15 NE all
/// the same (here a channel with `after_transform` ACKs) does not shift the
/// ACKs of the messages after it.
#[tokio::test]
async fn send_skips_an_ack_for_a_message_not_waited_on() {
    let engine = start("ack_mode = \"after_transform\"", "").await;
    let never = message_asking("SK-NE", "NE");
    let files = [("1.hl7", never), ("2.hl7", message("SK-2"))];
    let output = send_files(&engine, &files, &["--timeout-secs", "10"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("1.hl7 message 1: sent; its MSH-15 is NE"),
        "{stdout}"
    );
    assert!(stdout.contains("2.hl7 message 1: AA"), "{stdout}");
    assert!(stdout.contains("MSA|AA|SK-2"), "{stdout}");
    assert!(!stdout.contains("MSA|AA|SK-NE"), "{stdout}");
    assert_eq!(stored_control_ids(&engine.server), ["SK-NE", "SK-2"]);
}

/// Ensures that `hl7wasm send` goes on past a file that is not HL7 and
/// past a message whose MSH-15 is ER and gets no ACK (silence is its
/// acceptance; the next message goes on a new connection, so that a late
/// error ACK is not taken for its own), sums up, and fails for the file.
#[tokio::test]
async fn send_goes_on_past_a_bad_file_and_a_silent_receiver() {
    let engine = start("", "").await;
    let on_error = message_asking("GO-ER", "ER");
    let files = [
        ("1.hl7", message("GO-1")),
        ("2.txt", "not a message\n".to_owned()),
        ("3.hl7", on_error),
        ("4.hl7", message("GO-4")),
    ];
    let output = send_files(&engine, &files, &["--timeout-secs", "1"]).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(!output.status.success(), "{stderr}");
    assert!(stdout.contains("1.hl7 message 1: AA"), "{stdout}");
    assert!(stdout.contains("4.hl7 message 1: AA"), "{stdout}");
    assert!(stderr.contains("2.txt is not HL7 v2"), "{stderr}");
    assert!(
        stdout.contains("3.hl7 message 1: no ACK within 1s; its MSH-15 is ER"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "2 accepted, 0 not accepted, 1 without an ACK as MSH-15 asked, 1 without an ACK"
        ),
        "{stderr}"
    );
    assert_eq!(
        stored_control_ids(&engine.server),
        ["GO-1", "GO-ER", "GO-4"]
    );
}

/// Ensures that `hl7wasm send --batch` sends a batch file in one frame and
/// prints each ACK of the batch that answers it, failing when one refuses.
#[tokio::test]
async fn send_batch_sends_a_batch_file_in_one_frame() {
    let engine = start("", "").await;
    let malformed = message("SB-BAD").replacen("MSH|^~\\&|", "MSH|^^|", 1);
    let batch = format!(
        "BHS|^~\\&|SENDER|FAC\n{}\n{malformed}{}BTS|3\n",
        message("SB-1").trim_end(),
        message("SB-2")
    );
    let output = send_file(&engine, &batch, &["--batch"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "one message is refused: {stdout}");
    for line in [
        "sent.hl7 ACK 1: AA",
        "sent.hl7 ACK 2: AR",
        "sent.hl7 ACK 3: AA",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    assert_eq!(stored_control_ids(&engine.server), ["SB-1", "SB-2"]);
}
