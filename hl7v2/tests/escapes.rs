//! Ensures that escape sequences are decoded on read and encoded on write, and that
//! sequences this crate does not interpret pass through untouched.

use std::borrow::Cow;

use hl7v2::{Delimiters, escape, unescape};

fn d() -> Delimiters {
    Delimiters::default()
}

#[test]
fn delimiter_escapes_decode() {
    assert_eq!(
        unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", &d()),
        "a|b^c&d~e\\f"
    );
}

#[test]
fn hex_and_line_break_decode() {
    assert_eq!(unescape("x\\X0D0A\\y", &d()), "x\r\ny");
    assert_eq!(unescape("caf\\XC3A9\\", &d()), "café");
    assert_eq!(unescape("caf\\XE9\\", &d()), "café");
    assert_eq!(unescape("one\\.br\\two", &d()), "one\ntwo");
}

#[test]
fn other_sequences_pass_through() {
    for raw in [
        "\\H\\bold\\N\\",
        "\\Z1234\\",
        "\\C2842\\",
        "\\.sp2\\",
        "\\X\\",
        "\\X0\\",
        "\\XZZ\\",
        "C:\\temp",
        "\\P\\",
        "trailing\\",
        "\\\\",
    ] {
        assert_eq!(unescape(raw, &d()), raw, "{raw}");
    }
}

#[test]
fn unescape_borrows_without_escapes() {
    assert!(matches!(unescape("plain text", &d()), Cow::Borrowed(_)));
}

#[test]
fn escape_encodes_delimiters_and_controls() {
    assert_eq!(
        escape("a|b^c&d~e\\f", &d()),
        "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"
    );
    assert_eq!(escape("one\ntwo\r", &d()), "one\\.br\\two\\X0D\\");
    assert_eq!(escape("tab\there", &d()), "tab\\X09\\here");
    assert_eq!(escape("café ünïcode", &d()), "café ünïcode");
}

#[test]
fn truncation_character_is_escaped_only_when_declared() {
    let with = Delimiters {
        truncation: Some(b'#'),
        ..d()
    };
    assert_eq!(escape("a#b", &with), "a\\P\\b");
    assert_eq!(unescape("a\\P\\b", &with), "a#b");
    assert_eq!(escape("a#b", &d()), "a#b");
}

#[test]
fn custom_escape_character() {
    let custom = Delimiters {
        escape: b'!',
        ..d()
    };
    assert_eq!(escape("a|b!c\\d", &custom), "a!F!b!E!c\\d");
    assert_eq!(unescape("a!F!b!E!c\\d", &custom), "a|b!c\\d");
}
