//! HL7 v2 ER7 parsing, encoding, terser-style paths and ACKs, shared by the hl7wasm host
//! and its plugin SDK. Builds for native targets and `wasm32-wasip2`; depends only on
//! `memchr` and `thiserror`.
//!
//! # Design
//!
//! [`Message::parse`] does three passes over the input and allocates two vectors:
//!
//! 1. **MSH from raw bytes** (`msh.rs`): skip a UTF-8 BOM and leading junk, require `MSH`,
//!    read MSH-1 and MSH-2 (never assumed) and MSH-18, all before decoding, because the
//!    delimiters and the charset are needed to decode.
//! 2. **Decode** ([`charset`]): the text is borrowed from the input when it is valid UTF-8
//!    (the common case) and transcoded only for Latin-1.
//! 3. **Index** (`index.rs`): one pass over the text, stopping at the field separator,
//!    `\r` and `\n`, records each segment's start and each field's end as `u32` byte
//!    offsets into the text. Repetitions, components and subcomponents are split
//!    lazily, on access, by the borrowed views ([`Segment`], [`Field`], [`Repetition`],
//!    [`Component`], [`Subcomponent`]), so parsing costs the same whatever the
//!    message's depth.
//!
//! Everything between two segments (line breaks of any kind, blank lines, NULs, spaces)
//! is the first segment's terminator, and everything before MSH is a prefix; both are
//! kept, so [`OwnedMessage`] re-encodes an unedited message byte for byte, with its
//! own delimiters, terminators and charset.
//!
//! Values are read through terser-style paths ([`path`]): `PID-3[2].1`, `OBX[3]-5.2`.
//! [`Message::get_raw`] borrows the escaped text; [`Message::get`] decodes escapes
//! ([`mod@escape`]) and borrows when there are none.
//!
//! Around this: [`Header`] (typed MSH), [`Timestamp`] (DTM/TS), [`split_batch`] (FHS/BHS
//! batches) and [`ack`] (ACK codes, modes, ERR segments, and a lenient MSH scan so that
//! broken messages can still be answered).

pub mod ack;
mod batch;
pub mod charset;
mod delimiters;
mod error;
pub mod escape;
mod field;
mod header;
mod index;
mod message;
mod msh;
mod owned;
pub mod path;
mod segment;
mod timestamp;

pub use batch::{Batch, split_batch, starts_batch};
pub use charset::Charset;
pub use delimiters::Delimiters;
pub use error::{ParseError, ParseErrorKind};
pub use escape::{escape, unescape};
pub use field::{Component, Field, Repetition, Subcomponent};
pub use header::{Header, MessageType};
pub use message::Message;
pub use owned::{OwnedMessage, OwnedSegment};
pub use path::{Path, PathError};
pub use segment::Segment;
pub use timestamp::{Precision, Timestamp, TimestampError};
