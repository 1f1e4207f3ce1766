//! The shared test corpus, read relative to the crate (`<repo>/../shared/corpus`).

use std::path::{Path, PathBuf};

use hl7v2::{Message, split_batch};

/// Every message file under `shared/corpus/hl7v2`, sorted, as (path relative to the
/// corpus, bytes).
pub fn corpus_messages() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"));
    let mut files = Vec::new();
    collect(&root.join("hl7v2"), &mut files);
    files.sort();
    assert!(
        files.len() > 200,
        "corpus not found or incomplete under {}",
        root.display()
    );
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            let bytes = std::fs::read(&path).unwrap();
            (relative, bytes)
        })
        .collect()
}

/// Calls `check` with the path, bytes and parse of every message of every corpus
/// file that parses (a batch's messages one by one); returns how many.
#[allow(dead_code)] // Each test crate uses a subset of this module.
pub fn for_each_parsed(mut check: impl FnMut(&str, &[u8], &Message<'_>)) -> usize {
    let mut parsed = 0;
    for (path, bytes) in corpus_messages() {
        let Ok(batch) = split_batch(&bytes) else {
            continue;
        };
        for raw in batch.messages {
            if let Ok(message) = Message::parse(raw) {
                check(&path, raw, &message);
                parsed += 1;
            }
        }
    }
    parsed
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "hl7") {
            files.push(path);
        }
    }
}
