//! Maps HL7 v2 message files natively and writes what came out, to check that
//! a change to the mapper leaves its output byte-identical.
//!
//! `cargo run --release -p hl7-to-fhir --example dump -- OUT_DIR FILE...`
//! writes, for every FILE, `OUT_DIR/<FILE with '/' as '%'>.out`: the compact
//! JSON bundle of `map_message_to_string` (or the error) under each of
//! several option sets, after checking that `map_message` gives the same
//! JSON. Compare two runs with `diff -r`.
//!
//! `... --example dump -- --time N FILE...` instead prints the mean µs per
//! message (map and serialise) over N rounds of every FILE.

use std::time::Instant;

use hl7_to_fhir::{Options, map_message, map_message_to_string};

/// The option sets every message is mapped under (as plugin JSON config).
const CONFIGS: [&str; 4] = [
    "{}",
    r#"{"bundle_type": "batch", "default_timezone": "+01:00"}"#,
    r#"{"bundle_type": "message", "default_timezone": "-05:30"}"#,
    r#"{"bundle_type": "collection", "realm": "us"}"#,
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (first, files) = args
        .split_first()
        .expect("OUT_DIR or --time N, then FILE...");
    let read = |file: &String| {
        String::from_utf8_lossy(&std::fs::read(file).expect("readable file")).into_owned()
    };
    if first == "--time" {
        let (rounds, files) = files.split_first().expect("--time N FILE...");
        let rounds: u32 = rounds.parse().expect("a number of rounds");
        let options = Options::default();
        for file in files {
            let body = read(file);
            let start = Instant::now();
            for _ in 0..rounds {
                let bundle = map_message_to_string(&body, &options);
                std::hint::black_box(bundle.ok());
            }
            let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
            println!("{micros:>9.1} µs  {file}");
        }
        return;
    }
    let options: Vec<Options> = CONFIGS
        .iter()
        .map(|config| Options::from_json(&serde_json::from_str(config).unwrap()).unwrap())
        .collect();
    std::fs::create_dir_all(first).expect("output directory");
    for file in files {
        let body = read(file);
        let mut out = String::new();
        for options in &options {
            match map_message_to_string(&body, options) {
                Ok(bundle) => {
                    let value = map_message(&body, options).expect("maps as a Value too");
                    assert_eq!(value.to_string(), bundle, "the two entry points differ");
                    out.push_str(&bundle);
                }
                Err(error) => out.push_str(&format!("error: {error:?} / {error}")),
            }
            out.push('\n');
        }
        let name = file.replace('/', "%");
        std::fs::write(format!("{first}/{name}.out"), out).expect("written output");
    }
}
