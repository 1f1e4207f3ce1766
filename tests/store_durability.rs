//! Ensures that the message store keeps what it acknowledged: ids and queue
//! order survive a reopen, resends within the dedupe window are not stored
//! twice, ids never repeat across crashes, concurrent senders share flushes without hanging, an `Ok` means
//! the message is on disk, a torn write-ahead log record or a second replay
//! of the log loses or doubles nothing, checkpoints delete the log segments
//! sled covers, a hand-off repeated after a crash is queued once, and a full
//! disk answers `Unavailable` until space is freed, then works again with
//! nothing acknowledged lost.

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/tmpfs.rs"]
mod tmpfs;

use hl7wasm::store::{
    DedupeKey, Ingested, NewMessage, OutboundEntry, OutboundHeader, Store, StoreError,
    StoreSettings, StoredMessage,
};
use tmpfs::{Tmpfs, fill};

const NOW_MS: u64 = 1_700_000_000_000;
const HOUR_MS: u64 = 60 * 60 * 1000;

/// An ADT^A01 on `channel` with control id `control_id`, padded to about
/// 1 KB.
struct Sample {
    channel: String,
    partition: u32,
    control_id: String,
    raw: Vec<u8>,
    received_at_ms: u64,
}

impl Sample {
    fn new(channel: &str, partition: u32, control_id: &str) -> Self {
        let mut raw = format!(
            "MSH|^~\\&|APP|FAC|ENGINE|HOSP|20240101120000||ADT^A01|{control_id}|P|2.5\r\
             PID|1||12345^^^HOSP^MR||DOE^JANE\r"
        )
        .into_bytes();
        raw.resize(1024, b'x');
        Sample {
            channel: channel.to_owned(),
            partition,
            control_id: control_id.to_owned(),
            raw,
            received_at_ms: NOW_MS,
        }
    }

    fn at(mut self, received_at_ms: u64) -> Self {
        self.received_at_ms = received_at_ms;
        self
    }

    fn message(&self) -> NewMessage<'_> {
        NewMessage {
            channel: &self.channel,
            partition: self.partition,
            raw: &self.raw,
            received_at_ms: self.received_at_ms,
            peer: Some("127.0.0.1:50000"),
            peer_certificate: None,
            control_id: Some(&self.control_id),
            message_type: Some("ADT^A01"),
            dedupe_key: Some(DedupeKey {
                sending_application: "APP",
                sending_facility: "FAC",
                control_id: &self.control_id,
            }),
            dedupe_window: None,
        }
    }

    fn assert_stored_as(&self, stored: &StoredMessage) {
        assert_eq!(stored.channel, self.channel);
        assert_eq!(stored.partition, self.partition);
        assert_eq!(stored.control_id.as_deref(), Some(self.control_id.as_str()));
        assert_eq!(stored.raw, self.raw);
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreSettings::default()).expect("open store")
}

fn stored_id(ingested: Ingested) -> u64 {
    match ingested {
        Ingested::Stored { id } => id,
        other => panic!("unexpectedly {other:?}"),
    }
}

fn ingest(store: &Store, sample: &Sample) -> u64 {
    stored_id(store.ingest_blocking(sample.message()).expect("ingest"))
}

/// Ensures that ids keep increasing after the store is closed and reopened.
#[test]
fn ids_increase_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for round in 0..3 {
        let store = open(dir.path());
        for n in 0..5 {
            ids.push(ingest(
                &store,
                &Sample::new("adt", 0, &format!("R{round}N{n}")),
            ));
        }
    }
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
}

/// Ensures that ids never repeat across crashes that come between
/// checkpoints: each round opens what the last crash left, stores one
/// message and crashes (a copy of the open store's files) at once. sled's
/// own id counter became durable only with a later flush, so a second
/// crash like this gave the next message the id of one the log had just
/// recovered, and overwrote it.
#[test]
fn ids_stay_unique_across_crashes_between_checkpoints() {
    let mut crashed = tempfile::tempdir().unwrap();
    let mut stored = Vec::new();
    for round in 0..3 {
        let store = open(crashed.path());
        let sample = Sample::new("adt", 0, &format!("K{round}"));
        let id = ingest(&store, &sample);
        let image = tempfile::tempdir().unwrap();
        copy_dir(crashed.path(), image.path());
        drop(store);
        crashed = image;
        stored.push((id, sample));
    }
    let store = open(crashed.path());
    for (id, sample) in &stored {
        let message = store.message(*id).unwrap().expect("stored message");
        sample.assert_stored_as(&message);
    }
    let ids: Vec<u64> = stored.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(store.queue("adt", 0).unwrap(), ids);
}

/// Ensures that each (channel, partition) queue holds its ids in arrival
/// order, separate from the others, also after a reopen.
#[test]
fn queues_keep_fifo_order_per_partition_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected: [Vec<u64>; 3] = Default::default();
    let queues = [("adt", 0), ("adt", 1), ("lab", 0)];
    for round in 0..2 {
        let store = open(dir.path());
        for n in 0..30 {
            let which = n % 3;
            let (channel, partition) = queues[which];
            let sample = Sample::new(channel, partition, &format!("R{round}N{n}"));
            expected[which].push(ingest(&store, &sample));
        }
    }
    let store = open(dir.path());
    for (which, (channel, partition)) in queues.into_iter().enumerate() {
        assert_eq!(store.queue(channel, partition).unwrap(), expected[which]);
    }
    assert!(store.queue("ad", 0).unwrap().is_empty());
}

/// Ensures that a queued message moved by a change of partitions reads as
/// waiting where it was moved, though its record names the partition it
/// was stored in.
#[test]
fn a_moved_message_reads_as_waiting_where_it_was_moved() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let sample = Sample::new("adt", 0, "MOVED");
    let id = ingest(&store, &sample);
    sample.assert_stored_as(&store.message(id).unwrap().unwrap());
    let moved = store
        .repartition("adt", "2 by PID-3.1", &[], 2, |_| 1)
        .unwrap();
    assert_eq!(moved.map(|m| m.inbound), Some(1));
    assert_eq!(store.queue("adt", 1).unwrap(), [id]);
    assert_eq!(store.message(id).unwrap().unwrap().partition, 1);
}

/// Ensures that a resend within the window reports the original id and is
/// not stored or queued again, while the same control id on another channel
/// is a different message.
#[test]
fn resend_within_window_is_a_duplicate_and_not_queued_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = ingest(&store, &Sample::new("adt", 0, "C1"));
    let resend = Sample::new("adt", 0, "C1").at(NOW_MS + 23 * HOUR_MS);
    assert_eq!(
        store.ingest_blocking(resend.message()).unwrap(),
        Ingested::Duplicate { original_id: first }
    );
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store.ingest_blocking(resend.message()).unwrap(),
        Ingested::Duplicate { original_id: first },
        "the dedupe index survives a reopen"
    );
    let elsewhere = ingest(&store, &Sample::new("lab", 0, "C1"));
    assert_eq!(store.queue("adt", 0).unwrap(), vec![first]);
    assert_eq!(store.queue("lab", 0).unwrap(), vec![elsewhere]);
    assert_eq!(store.messages().count(), 2);
}

/// Ensures that a message under a stored message's dedupe key with other
/// content is stored as a reuse, and that the fingerprints come back after
/// a crash (from the log, before any checkpoint): a resend of the newer
/// message is its duplicate, and the earlier content, no longer the key's,
/// is stored again rather than dropped.
#[test]
fn a_reused_control_id_is_stored_and_told_apart_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = Sample::new("adt", 0, "C1");
    let first_id = ingest(&store, &first);
    let mut other = Sample::new("adt", 0, "C1");
    other.raw = String::from_utf8(other.raw)
        .unwrap()
        .replacen("12345^", "67890^", 1)
        .into_bytes();
    let Ingested::Reused {
        id: other_id,
        earlier_id,
    } = store.ingest_blocking(other.message()).unwrap()
    else {
        panic!("other content under C1 is a reuse");
    };
    assert_eq!(earlier_id, first_id);
    assert_eq!(store.queue("adt", 0).unwrap(), [first_id, other_id]);

    let (store, _image) = crash(store, dir.path());
    assert_eq!(
        store.ingest_blocking(other.message()).unwrap(),
        Ingested::Duplicate {
            original_id: other_id
        }
    );
    assert!(matches!(
        store.ingest_blocking(first.message()).unwrap(),
        Ingested::Reused { earlier_id, .. } if earlier_id == other_id
    ));
    assert_eq!(store.messages().count(), 3);
}

/// Ensures that a resend after the window is stored again, and that pruning
/// removes only expired dedupe entries.
#[test]
fn resend_after_window_is_stored_again_and_pruned_entries_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = ingest(&store, &Sample::new("adt", 0, "C1"));
    ingest(
        &store,
        &Sample::new("adt", 0, "C2").at(NOW_MS + 2 * HOUR_MS),
    );
    let late = Sample::new("adt", 0, "C1").at(NOW_MS + 24 * HOUR_MS);
    let second = ingest(&store, &late);
    assert!(second > first);
    assert_eq!(store.queue("adt", 0).unwrap().len(), 3);

    // At +25 h only C2 (received at +2 h) has expired: C1 was renewed at +24 h.
    assert_eq!(store.prune_dedupe(NOW_MS + 26 * HOUR_MS).unwrap(), 1);
    assert_eq!(store.prune_dedupe(NOW_MS + 26 * HOUR_MS).unwrap(), 0);
    let c1_again = Sample::new("adt", 0, "C1").at(NOW_MS + 26 * HOUR_MS);
    assert_eq!(
        store.ingest_blocking(c1_again.message()).unwrap(),
        Ingested::Duplicate {
            original_id: second
        }
    );
    let c2_again = Sample::new("adt", 0, "C2").at(NOW_MS + 26 * HOUR_MS);
    ingest(&store, &c2_again);
}

/// Ensures that 64 concurrent senders of 200 messages each all get their
/// acknowledgement without hanging, that two racing copies of one message
/// are stored once, and that every message is readable after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_are_all_stored_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let senders: Vec<_> = (0..64)
        .map(|sender| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..200 {
                    // Senders 2k and 2k+1 send the same control ids.
                    let sample = Sample::new("adt", sender % 4, &format!("S{}N{n}", sender / 2));
                    ids.push(store.ingest(sample.message()).await.expect("ingest"));
                }
                ids
            })
        })
        .collect();
    let all = async {
        let mut outcomes = Vec::new();
        for sender in senders {
            outcomes.extend(sender.await.unwrap());
        }
        outcomes
    };
    let outcomes = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("all senders finish within 2 minutes");
    let stored: Vec<u64> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Ingested::Stored { id } => Some(*id),
            Ingested::Duplicate { .. } => None,
            Ingested::Reused { .. } => panic!("copies are resends: {outcome:?}"),
        })
        .collect();
    assert_eq!(stored.len(), 32 * 200, "each pair of copies stored once");
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.messages().count(), stored.len());
    for id in stored {
        assert!(
            store.message(id).unwrap().is_some(),
            "message {id} readable"
        );
    }
    let queued: usize = (0..4).map(|p| store.queue("adt", p).unwrap().len()).sum();
    assert_eq!(queued, 32 * 200);
}

/// Ensures that handing one outbound entry to another channel twice, as the
/// delivery worker does when a crash came between storing it there and
/// removing it here, queues it there once, also after a reopen and within a
/// batch, while other entries with the same content are messages of their
/// own, each in the partition it was handed to.
#[tokio::test]
async fn a_repeated_hand_off_is_queued_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let sample = Sample::new("adt", 0, "C1");
    let header = OutboundHeader::new(
        7,
        NOW_MS,
        Some("C1".to_owned()),
        Some("ADT^A01".to_owned()),
        "application/hl7-v2".to_owned(),
    );
    let entry = OutboundEntry {
        channel: "adt".to_owned(),
        destination: "to-lab".to_owned(),
        partition: 0,
        sequence: 42,
        header,
        body: sample.raw.clone(),
    };
    let first = store.hand_off(&[(&entry, 1)], "lab", NOW_MS).await.unwrap()[0];
    let again = store
        .hand_off(&[(&entry, 1)], "lab", NOW_MS + 1)
        .await
        .unwrap()[0];
    assert_eq!(first, again, "the repeat is recognised as the same message");
    drop(store);

    let store = open(dir.path());
    let again = store
        .hand_off(&[(&entry, 1)], "lab", NOW_MS + 2)
        .await
        .unwrap()[0];
    assert_eq!(first, again, "also after a reopen");
    let next = OutboundEntry {
        sequence: 43,
        ..entry.clone()
    };
    let then = OutboundEntry {
        sequence: 44,
        ..entry.clone()
    };
    let batch = [(&entry, 1), (&next, 1), (&then, 0)];
    let ids = store.hand_off(&batch, "lab", NOW_MS + 3).await.unwrap();
    let [repeat, second, third] = ids[..] else {
        panic!("one id per entry: {ids:?}");
    };
    assert_eq!(repeat, first, "a repeat within a batch too");
    assert_eq!(store.queue("lab", 1).unwrap(), vec![first, second]);
    assert_eq!(store.queue("lab", 0).unwrap(), vec![third]);
    let handed = store.message(first).unwrap().unwrap();
    assert_eq!(handed.channel, "lab");
    assert_eq!(handed.peer.as_deref(), Some("channel:adt"));
    assert_eq!(handed.raw, sample.raw);
}

/// Ensures that an acknowledged message is already in the files on disk: a
/// copy of the directory taken while the store is still open, with no
/// further flush, holds every acknowledged message.
#[tokio::test]
async fn acknowledged_messages_are_on_disk_before_ingest_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let samples: Vec<_> = (0..50)
        .map(|n| Sample::new("adt", 0, &format!("C{n}")))
        .collect();
    let mut ids = Vec::new();
    for sample in &samples {
        ids.push(stored_id(store.ingest(sample.message()).await.unwrap()));
    }
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    // The original store stays open (its drop would flush) until the copy
    // has been checked.
    let copied = open(copy.path());
    for (sample, id) in samples.iter().zip(&ids) {
        let stored = copied
            .message(*id)
            .unwrap()
            .expect("acknowledged message in the copy");
        sample.assert_stored_as(&stored);
    }
    assert_eq!(copied.queue("adt", 0).unwrap(), ids);
    drop(store);
}

/// Copies a store's directory while it is open as a crash would leave it:
/// the write-ahead log first, so that a checkpoint during the copy can only
/// make the copied sled files newer than the copied log, never delete log
/// segments the copied sled files still need.
fn copy_dir(from: &Path, to: &Path) {
    copy_tree(&from.join("wal"), &to.join("wal"));
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "wal" {
            copy_entry(&entry, to);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        copy_entry(&entry.unwrap(), to);
    }
}

fn copy_entry(entry: &std::fs::DirEntry, to: &Path) {
    let target = to.join(entry.file_name());
    if entry.file_type().unwrap().is_dir() {
        copy_tree(&entry.path(), &target);
    } else {
        std::fs::copy(entry.path(), target).unwrap();
    }
}

/// The write-ahead log segments of a store, oldest first.
fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut segments: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .collect();
    segments.sort();
    segments
}

/// Ingests `count` samples with control ids `{prefix}{n}` on `adt`/0.
fn ingest_samples(store: &Store, prefix: &str, count: usize) -> Vec<(u64, Sample)> {
    (0..count)
        .map(|n| {
            let sample = Sample::new("adt", 0, &format!("{prefix}{n}"));
            (ingest(store, &sample), sample)
        })
        .collect()
}

/// Ensures that a record torn by a crash mid-append (half written, then
/// garbage) at the end of the last log segment is dropped, the records
/// before it are recovered, and the store works on.
#[test]
fn torn_final_log_record_is_dropped_and_earlier_records_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut acknowledged = ingest_samples(&store, "C", 10);
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    drop(store);

    let last = segments(copy.path()).pop().unwrap();
    let length = std::fs::metadata(&last).unwrap().len();
    let segment = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    segment.set_len(length - 500).unwrap();
    drop(segment);
    let mut torn = std::fs::read(&last).unwrap();
    torn.extend_from_slice(&[0xAB; 300]);
    std::fs::write(&last, torn).unwrap();

    let (torn_id, _) = acknowledged.pop().unwrap();
    let store = open(copy.path());
    assert_all_readable(&store, &acknowledged);
    let queue = store.queue("adt", 0).unwrap();
    assert!(
        queue
            .iter()
            .all(|id| *id == torn_id || acknowledged.iter().any(|(a, _)| a == id))
    );
    acknowledged.extend(ingest_samples(&store, "AFTER", 3));
    drop(store);
    assert_all_readable(&open(copy.path()), &acknowledged);
}

/// Ensures that replaying a log whose messages sled already holds (a crash
/// after a replay, before its segments were deleted) stores, queues and
/// deduplicates each message once.
#[test]
fn replaying_the_log_twice_stores_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let acknowledged = ingest_samples(&store, "C", 10);
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    drop(store);
    let saved_log = tempfile::tempdir().unwrap();
    copy_tree(&copy.path().join("wal"), saved_log.path());

    drop(open(copy.path()));
    copy_tree(saved_log.path(), &copy.path().join("wal"));
    let store = open(copy.path());
    assert_all_readable(&store, &acknowledged);
    let ids: Vec<u64> = acknowledged.iter().map(|(id, _)| *id).collect();
    assert_eq!(store.queue("adt", 0).unwrap(), ids);
    assert_eq!(store.messages().count(), ids.len());
    let (first_id, first) = &acknowledged[0];
    assert_eq!(
        store.ingest_blocking(first.message()).unwrap(),
        Ingested::Duplicate {
            original_id: *first_id
        }
    );
}

/// Ensures that a checkpoint flushes sled and then retires the log segments
/// it covers: the old segments go (one is kept as the spare, which replay
/// ignores), and sled's files alone hold every acknowledged message.
#[test]
fn checkpoint_deletes_covered_log_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let acknowledged = ingest_samples(&store, "C", 5);
    let before = segments(dir.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    while segments(dir.path()).iter().any(|old| before.contains(old)) {
        assert!(Instant::now() < deadline, "old segments not deleted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = segments(dir.path());
    assert_eq!(after.len(), 1, "only the new segment: {after:?}");
    let header = std::fs::read(&after[0]).unwrap();
    assert_eq!(header.len(), 16, "only the new segment's header");
    assert!(
        dir.path().join("wal/spare").exists(),
        "the old segment is kept for reuse"
    );

    let sled_only = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), sled_only.path());
    std::fs::remove_dir_all(sled_only.path().join("wal")).unwrap();
    assert_all_readable(&open(sled_only.path()), &acknowledged);
    drop(store);
}

/// Ensures that a full disk makes ingest answer `Unavailable` (so the caller
/// sends AE, never AA), that ingest works again once space is freed, and
/// that every message acknowledged before, during and after is readable.
#[test]
fn full_disk_is_unavailable_and_store_recovers_when_space_is_freed() {
    let root = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(root.path());
    let dir = mount.0.join("store");
    let ballast = mount.0.join("ballast");
    let mut acknowledged = Vec::new();
    {
        let store = open(&dir);
        for n in 0..20 {
            let sample = Sample::new("adt", 0, &format!("BEFORE{n}"));
            acknowledged.push((ingest(&store, &sample), sample));
        }

        fill(&ballast);
        let mut refused = None;
        for n in 0..1000 {
            let sample = Sample::new("adt", 0, &format!("FULL{n}"));
            match store.ingest_blocking(sample.message()) {
                Ok(outcome) => acknowledged.push((stored_id(outcome), sample)),
                Err(error) => {
                    refused = Some(error);
                    break;
                }
            }
        }
        let refused = refused.expect("ingest fails on a full disk");
        assert!(
            matches!(refused, StoreError::Unavailable { .. }),
            "{refused:?}"
        );
        // While the disk stays full the store keeps trying to reopen itself
        // (at most every 500 ms); an ingest is refused, or acknowledged only
        // if it really reached the disk (checked at the end).
        for n in 0..3 {
            std::thread::sleep(Duration::from_millis(600));
            let sample = Sample::new("adt", 0, &format!("STILLFULL{n}"));
            match store.ingest_blocking(sample.message()) {
                Ok(outcome) => acknowledged.push((stored_id(outcome), sample)),
                Err(error) => assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}"),
            }
        }

        std::fs::remove_file(&ballast).unwrap();
        let recovered = retry_for(Duration::from_secs(10), || {
            let sample = Sample::new("adt", 0, "AFTER0");
            store
                .ingest_blocking(sample.message())
                .map(|outcome| acknowledged.push((stored_id(outcome), sample)))
        });
        recovered.expect("ingest works again once space is freed");
        for n in 1..20 {
            let sample = Sample::new("adt", 0, &format!("AFTER{n}"));
            acknowledged.push((ingest(&store, &sample), sample));
        }
        assert_all_readable(&store, &acknowledged);
    }
    assert_all_readable(&open(&dir), &acknowledged);
}

fn retry_for<T>(
    limit: Duration,
    mut attempt: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    loop {
        match attempt() {
            Err(error) if started.elapsed() < limit => {
                eprintln!("still unavailable: {error}");
                std::thread::sleep(Duration::from_millis(100));
            }
            outcome => return outcome,
        }
    }
}

fn assert_all_readable(store: &Store, acknowledged: &[(u64, Sample)]) {
    for (id, sample) in acknowledged {
        let stored = store
            .message(*id)
            .unwrap()
            .expect("acknowledged message readable");
        sample.assert_stored_as(&stored);
    }
    let queue = store.queue("adt", 0).unwrap();
    let ids: Vec<u64> = acknowledged.iter().map(|(id, _)| *id).collect();
    assert!(
        ids.iter().all(|id| queue.contains(id)),
        "every acknowledged message is queued"
    );
}

/// Ensures retention: a processed message older than the retention is
/// pruned with its status, a queued one is kept whatever its age, a recent
/// one is kept, and dead letters go by their own retention.
#[test]
fn pruning_removes_old_processed_messages_and_old_dead_letters() {
    use hl7wasm::store::{
        DeadLetterFilter, DeadLetterReason, MessageState, NewOutbound, Payload, Processed,
        Retention,
    };
    const DAY_MS: u64 = 24 * HOUR_MS;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let old = ingest(
        &store,
        &Sample::new("adt", 0, "OLD").at(NOW_MS - 40 * DAY_MS),
    );
    let old_queued = ingest(
        &store,
        &Sample::new("adt", 1, "OLD-Q").at(NOW_MS - 40 * DAY_MS),
    );
    let recent = ingest(&store, &Sample::new("adt", 0, "NEW").at(NOW_MS - DAY_MS));
    // Read first, as the pipeline does: that waits until they are queued.
    assert_eq!(store.queue("adt", 0).unwrap(), [old, recent]);
    let processed = |id: u64, received_at_ms: u64| Processed {
        received_at_ms,
        outputs: vec![NewOutbound {
            destination: "out".into(),
            content_type: "application/hl7-v2+er7".into(),
            payload: Payload::Bytes(b"MSH|^~\\&|x".to_vec()),
        }],
        ..pipeline_result(id, MessageState::Processed)
    };
    store
        .complete(
            "adt",
            0,
            &[
                processed(old, NOW_MS - 40 * DAY_MS),
                processed(recent, NOW_MS - DAY_MS),
            ],
        )
        .unwrap();
    // Two dead letters: one failed 40 days ago, one yesterday.
    let entries = store.outbound("adt", "out", 0, 10).unwrap();
    assert_eq!(entries.len(), 2);
    store
        .dead_letter_outbound(
            &entries[0],
            DeadLetterReason::Rejected,
            "AR",
            NOW_MS - 40 * DAY_MS,
        )
        .unwrap();
    store
        .dead_letter_outbound(
            &entries[1],
            DeadLetterReason::Rejected,
            "AR",
            NOW_MS - DAY_MS,
        )
        .unwrap();

    let retention = Retention {
        messages: Duration::from_millis(30 * DAY_MS),
        dead_letters: Duration::from_millis(30 * DAY_MS),
    };
    let pruned = store.prune(NOW_MS, retention).unwrap();
    assert_eq!((pruned.messages, pruned.dead_letters), (1, 1), "{pruned:?}");
    assert!(store.message(old).unwrap().is_none());
    assert!(store.status(old).unwrap().is_none());
    assert!(store.message(old_queued).unwrap().is_some(), "still queued");
    assert!(store.message(recent).unwrap().is_some());
    let letters = store
        .dead_letters(&DeadLetterFilter::default(), 10)
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].header.last_failure_ms, NOW_MS - DAY_MS);
    assert_eq!(store.prune(NOW_MS, retention).unwrap().messages, 0);
}

/// Ensures that an outbound entry of the message as received delivers the
/// stored message's body without a copy of its own: after a failed attempt
/// is written back, after a reopen, and that pruning keeps such a message
/// while the entry waits, however old.
#[test]
fn an_entry_of_the_message_as_received_delivers_its_record() {
    use hl7wasm::store::{MessageState, NewOutbound, Payload, Processed, Retention};
    const DAY_MS: u64 = 24 * HOUR_MS;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let sample = Sample::new("adt", 0, "REF").at(NOW_MS - 40 * DAY_MS);
    let id = ingest(&store, &sample);
    assert_eq!(store.queue("adt", 0).unwrap(), [id]);
    let fan_out = ["a", "b"].map(|destination| NewOutbound {
        destination: destination.into(),
        content_type: "application/hl7-v2+er7".into(),
        payload: Payload::Message,
    });
    let processed = Processed {
        received_at_ms: NOW_MS - 40 * DAY_MS,
        outputs: fan_out.to_vec(),
        ..pipeline_result(id, MessageState::Processed)
    };
    store.complete("adt", 0, &[processed]).unwrap();
    let mut entry = store.outbound("adt", "a", 0, 10).unwrap().remove(0);
    assert_eq!(entry.body, sample.raw, "the entry delivers the message");
    assert!(entry.header.body_in_message);
    entry.failed(NOW_MS, NOW_MS + 1_000, "down".into(), false);
    store.retry_later(&entry).unwrap();
    drop(store);

    let store = open(dir.path());
    let again = store.outbound("adt", "a", 0, 10).unwrap().remove(0);
    assert_eq!(again.header.attempts, 1);
    assert_eq!(
        again.body, sample.raw,
        "still the message after a retry and a reopen"
    );
    let retention = Retention {
        messages: Duration::from_millis(30 * DAY_MS),
        dead_letters: Duration::from_millis(30 * DAY_MS),
    };
    assert_eq!(
        store.prune(NOW_MS, retention).unwrap().messages,
        0,
        "entries wait for it"
    );
    store.delivered(&again).unwrap();
    let other = store.outbound("adt", "b", 0, 10).unwrap().remove(0);
    assert_eq!(other.body, sample.raw);
    store.delivered(&other).unwrap();
    assert_eq!(
        store.prune(NOW_MS, retention).unwrap().messages,
        1,
        "delivered, it goes"
    );
}

/// A pipeline result for message `id` of `adt`/0 in `state`, with a dead
/// letter of the inbound message when it is dead-lettered.
fn pipeline_result(id: u64, state: hl7wasm::store::MessageState) -> hl7wasm::store::Processed {
    use hl7wasm::store::{DeadLetterHeader, DeadLetterReason, MessageState, MessageStatus};
    let dead_letter = (state == MessageState::DeadLettered).then(|| {
        let header = DeadLetterHeader {
            channel: "adt".into(),
            destination: None,
            partition: 0,
            message_id: id,
            control_id: None,
            message_type: None,
            content_type: "application/hl7-v2+er7".into(),
            reason: DeadLetterReason::PluginRejected,
            error: "rejected".into(),
            attempts: 1,
            first_failure_ms: NOW_MS,
            last_failure_ms: NOW_MS,
        };
        (header, Sample::new("adt", 0, "DL").raw)
    });
    hl7wasm::store::Processed {
        message_id: id,
        received_at_ms: NOW_MS,
        control_id: None,
        message_type: None,
        status: MessageStatus::new(state, NOW_MS),
        outputs: Vec::new(),
        dead_letter,
    }
}

/// The pipeline's result for message `id` passed on unchanged to
/// `destinations`: outputs that refer to the message, held in memory.
fn passed_on(id: u64, destinations: &[&str]) -> hl7wasm::store::Processed {
    use hl7wasm::store::{MessageState, NewOutbound, Payload, Processed};
    Processed {
        outputs: destinations
            .iter()
            .map(|destination| NewOutbound {
                destination: (*destination).into(),
                content_type: "application/hl7-v2+er7".into(),
                payload: Payload::Message,
            })
            .collect(),
        ..pipeline_result(id, MessageState::Processed)
    }
}

/// Waits until a checkpoint has retired every log segment `dir` has now.
fn wait_for_checkpoint(dir: &Path) {
    let before = segments(dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while segments(dir).iter().any(|old| before.contains(old)) {
        assert!(Instant::now() < deadline, "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Crashes `store` (a copy of its open files) and opens the copy.
fn crash(store: Store, dir: &Path) -> (Store, tempfile::TempDir) {
    let image = tempfile::tempdir().unwrap();
    copy_dir(dir, image.path());
    drop(store);
    (open(image.path()), image)
}

/// Ensures that the inbound queues, which live in memory, come back after
/// crashes with exactly the messages not yet processed for good: those a
/// checkpoint saw queued, those only the log held, a message being retried,
/// and a dead letter reprocessed after every older message was done, which
/// lies below the low-water mark the last checkpoint recorded and stays
/// queued only through the queue entry reprocessing wrote for it.
#[test]
fn queues_come_back_after_crashes_with_what_was_not_processed() {
    use hl7wasm::store::{DeadLetterFilter, MessageState};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids: Vec<u64> = ingest_samples(&store, "A", 6)
        .iter()
        .map(|(id, _)| *id)
        .collect();
    // Read first, as the pipeline does: that waits until they are indexed.
    assert_eq!(store.queue("adt", 0).unwrap(), ids);
    let states = [
        MessageState::Processed,
        MessageState::Filtered,
        MessageState::Retrying,
        MessageState::DeadLettered,
    ];
    let results: Vec<_> = ids
        .iter()
        .zip(states)
        .map(|(id, s)| pipeline_result(*id, s))
        .collect();
    store.complete("adt", 0, &results).unwrap();
    wait_for_checkpoint(dir.path());
    let logged: Vec<u64> = ingest_samples(&store, "B", 2)
        .iter()
        .map(|(id, _)| *id)
        .collect();
    let expected = [&[ids[2], ids[4], ids[5]][..], &logged].concat();
    assert_eq!(store.queue("adt", 0).unwrap(), expected);

    let (store, first_image) = crash(store, dir.path());
    assert_eq!(store.queue("adt", 0).unwrap(), expected, "after a crash");
    let done: Vec<_> = expected
        .iter()
        .map(|id| pipeline_result(*id, MessageState::Processed))
        .collect();
    store.complete("adt", 0, &done).unwrap();
    let last = ingest_samples(&store, "C", 1)[0].0;
    assert_eq!(store.queue("adt", 0).unwrap(), [last]);
    store
        .complete("adt", 0, &[pipeline_result(last, MessageState::Processed)])
        .unwrap();
    wait_for_checkpoint(first_image.path());
    assert!(store.queue("adt", 0).unwrap().is_empty());
    let requeued = store
        .reprocess_dead_letters(&DeadLetterFilter::default(), |letter| {
            Some(letter.header.partition)
        })
        .unwrap();
    assert_eq!(requeued.len(), 1);

    let (store, _second_image) = crash(store, first_image.path());
    assert_eq!(
        store.queue("adt", 0).unwrap(),
        [ids[3]],
        "the reprocessed dead letter"
    );
    let status = store.status(ids[3]).unwrap().expect("status");
    assert_eq!(status.state, MessageState::Requeued);
    let pending = store.pending("adt", 0, 10, |_| false).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, ids[3]);
}

/// Ensures that outbound entries the store holds in memory (they deliver
/// the message as received and have not failed) come back after a crash of
/// the process, in their places: every output the message's status
/// records, but not one delivered (the delivery log says so) nor one that
/// went to the dead-letter queue.
#[test]
fn held_outbound_entries_come_back_after_a_crash_until_delivered() {
    use hl7wasm::store::{DeadLetterFilter, DeadLetterReason};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let samples = ingest_samples(&store, "H", 2);
    let ((first, sample), second) = (&samples[0], samples[1].0);
    let first = *first;
    assert_eq!(store.queue("adt", 0).unwrap(), [first, second]);
    store
        .complete(
            "adt",
            0,
            &[passed_on(first, &["a", "b"]), passed_on(second, &["a"])],
        )
        .unwrap();
    let waiting = |store: &Store, destination: &str| -> Vec<u64> {
        let entries = store.outbound("adt", destination, 0, 10).unwrap();
        entries.iter().map(|e| e.header.message_id).collect()
    };
    assert_eq!(waiting(&store, "a"), [first, second]);
    let sequence = store.outbound("adt", "a", 0, 10).unwrap()[0].sequence;
    let b_entry = store.outbound("adt", "b", 0, 10).unwrap().remove(0);
    assert_eq!(b_entry.body, sample.raw, "held, it delivers the message");
    store.delivered(&b_entry).unwrap();
    assert!(waiting(&store, "b").is_empty());
    let second_entry = store.outbound("adt", "a", 0, 10).unwrap().remove(1);
    store
        .dead_letter_outbound(&second_entry, DeadLetterReason::Rejected, "AR", NOW_MS)
        .unwrap();
    assert_eq!(waiting(&store, "a"), [first]);
    assert_eq!(store.outbound_depth("adt", "a", 0).unwrap(), 1);
    assert_eq!(store.outbound_queues().unwrap().len(), 1);
    assert!(store.awaits_delivery("adt", "a", first).unwrap());
    wait_for_checkpoint(dir.path());

    let (store, image) = crash(store, dir.path());
    assert_eq!(waiting(&store, "a"), [first], "not the dead-lettered one");
    assert!(waiting(&store, "b").is_empty(), "its delivery was recorded");
    let letters = store
        .dead_letters(&DeadLetterFilter::default(), 10)
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].header.message_id, second);
    let again = store.outbound("adt", "a", 0, 10).unwrap().remove(0);
    assert_eq!(again.sequence, sequence, "in its place in the queue");
    assert_eq!(again.body, sample.raw);
    assert_eq!(
        again.header.control_id.as_deref(),
        Some("H0"),
        "from its message"
    );
    store.delivered(&again).unwrap();

    let (store, _second_image) = crash(store, image.path());
    assert!(
        waiting(&store, "a").is_empty(),
        "delivered after the first crash"
    );
    assert!(waiting(&store, "b").is_empty());
}

/// Ensures that an output that left memory (it failed once, or went to the
/// dead-letter queue) is not held again when the store opens, even while
/// an older message keeps the low-water mark below it: delivered from
/// sled after a retry, purged, or reprocessed and delivered, it must not
/// go again. Its message's status stops naming it when it leaves memory.
#[test]
fn outputs_that_left_memory_are_not_held_again() {
    use hl7wasm::store::{DeadLetterFilter, DeadLetterReason, Processed};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids: Vec<u64> = ingest_samples(&store, "L", 4)
        .iter()
        .map(|(id, _)| *id)
        .collect();
    // The first message stays queued: the mark stays at it.
    assert_eq!(store.pending("adt", 0, 10, |_| false).unwrap().len(), 4);
    let done: Vec<Processed> = ids[1..].iter().map(|id| passed_on(*id, &["a"])).collect();
    store.complete("adt", 0, &done).unwrap();
    let entry_of = |store: &Store, id: u64| {
        let entries = store.outbound("adt", "a", 0, 10).unwrap();
        entries.into_iter().find(|e| e.header.message_id == id)
    };

    let mut retried = entry_of(&store, ids[1]).unwrap();
    retried.failed(NOW_MS, NOW_MS, "AE".into(), false);
    store.retry_later(&retried).unwrap();
    store.delivered(&retried).unwrap();

    let purged = entry_of(&store, ids[2]).unwrap();
    let letter = store
        .dead_letter_outbound(&purged, DeadLetterReason::Rejected, "AR", NOW_MS)
        .unwrap();
    let only = |sequence: u64| DeadLetterFilter {
        sequence: Some(sequence),
        ..DeadLetterFilter::default()
    };
    assert_eq!(store.purge_dead_letters(&only(letter)).unwrap(), 1);

    let reprocessed = entry_of(&store, ids[3]).unwrap();
    let letter = store
        .dead_letter_outbound(&reprocessed, DeadLetterReason::Rejected, "AR", NOW_MS)
        .unwrap();
    let requeued = store
        .reprocess_dead_letters(&only(letter), |letter| Some(letter.header.partition))
        .unwrap();
    assert_eq!(requeued.len(), 1);
    let again = entry_of(&store, ids[3]).unwrap();
    assert_ne!(again.sequence, reprocessed.sequence, "a new entry");
    store.delivered(&again).unwrap();
    assert!(store.outbound("adt", "a", 0, 10).unwrap().is_empty());
    assert_eq!(store.queue("adt", 0).unwrap(), [ids[0]], "the mark stays");
    wait_for_checkpoint(dir.path());

    let (store, image) = crash(store, dir.path());
    assert!(
        store.outbound("adt", "a", 0, 10).unwrap().is_empty(),
        "none of them goes again after a crash"
    );
    drop(store);
    let store = open(image.path());
    assert!(
        store.outbound("adt", "a", 0, 10).unwrap().is_empty(),
        "nor after a clean restart"
    );
}
