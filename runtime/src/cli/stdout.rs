//! The commands' standard output.

use std::fmt;
use std::io::{self, ErrorKind, Write};
use std::process;

/// Writes one line to standard output, as `println!` does, except on a
/// failed write: a reader that closed the pipe early (`hl7wasm send … |
/// head -1`) ends the program quietly with success, as Unix tools do, and
/// any other error ends it with a message and failure instead of a panic.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let written = writeln!(io::stdout().lock(), "{args}");
    match written {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::BrokenPipe => process::exit(0),
        Err(error) => {
            eprintln!("error: writing to standard output: {error}");
            process::exit(1);
        }
    }
}
