//! [`Ack::build`]: the ER7 text of an acknowledgment.
//!
//! ```text
//! MSH|^~\&|<MSH-5>|<MSH-6>|<MSH-3>|<MSH-4>|<timestamp>||ACK^<trigger>^ACK|<new id>|<MSH-11>|<MSH-12>
//! MSA|<code>|<MSH-10>[|<text>, before v2.5]
//! ERR||<SEG^seq^field^rep^comp^sub>|<code>^<text>^HL70357|<E/W/I/F>||||<message>   (v2.5+, one per error)
//! ERR|<SEG^seq^field^code&text&HL70357>~...                                          (before v2.5)
//! ```
//!
//! Segments end with `\r`. The caller supplies MSH-7 and MSH-10, which keeps this crate
//! deterministic. An unknown version gets the v2.5 form, and MSH-12 `2.5`; an unknown
//! processing ID MSH-11 `P`.

use crate::escape::escape_into;
use crate::{Delimiters, escape};

use super::{AckCode, AckContext, ErrDetail, ErrLocation};

/// Builds acknowledgment messages.
#[derive(Debug, Clone, Copy)]
pub struct Ack;

impl Ack {
    /// The ER7 text of an ACK to the message described by `context`.
    ///
    /// `control_id` becomes MSH-10 and `timestamp` MSH-7 (both escaped); `errors` become
    /// ERR segments in the form the message's version expects.
    pub fn build(
        context: &AckContext,
        code: AckCode,
        errors: &[ErrDetail],
        control_id: &str,
        timestamp: &str,
    ) -> String {
        let d = &context.delimiters;
        let (fs, cs) = (char::from(d.field), char::from(d.component));
        let legacy = context.version_number().is_some_and(|v| v < (2, 5));
        // Written into one string: an ACK goes out for every message.
        let mut out = String::with_capacity(192 + errors.len() * 128);
        out.push_str("MSH");
        out.push(fs);
        out.push_str(&d.encoding_characters());
        for field in [
            &context.receiving_application,
            &context.receiving_facility,
            &context.sending_application,
            &context.sending_facility,
        ] {
            out.push(fs);
            out.push_str(field);
        }
        out.push(fs);
        escape_into(&mut out, timestamp, d);
        out.push(fs);
        out.push(fs);
        out.push_str("ACK");
        if let Some(trigger) = &context.trigger {
            out.push(cs);
            out.push_str(trigger);
            out.push(cs);
            out.push_str("ACK");
        }
        out.push(fs);
        escape_into(&mut out, control_id, d);
        // Both are required in the ACK: when the message gave none that
        // could be read, production and the v2.5 of the ERR form.
        out.push(fs);
        out.push_str(context.processing_id.as_deref().unwrap_or("P"));
        out.push(fs);
        out.push_str(context.version.as_deref().unwrap_or("2.5"));
        out.push('\r');

        out.push_str("MSA");
        out.push(fs);
        out.push_str(code.as_str());
        out.push(fs);
        out.push_str(context.control_id.as_deref().unwrap_or_default());
        if legacy && !errors.is_empty() {
            let text: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
            out.push(fs);
            escape_into(&mut out, &text.join("; "), d);
        }
        out.push('\r');

        if legacy && !errors.is_empty() {
            let reps: Vec<String> = errors.iter().map(|e| err1(e, context)).collect();
            out.push_str("ERR");
            out.push(fs);
            out.push_str(&reps.join(&char::from(d.repetition).to_string()));
            out.push('\r');
        } else {
            for error in errors {
                out.push_str(&err_v25(error, context));
                out.push('\r');
            }
        }
        out
    }
}

/// An ERR segment in the v2.5+ form.
fn err_v25(error: &ErrDetail, context: &AckContext) -> String {
    let d = &context.delimiters;
    let cs = char::from(d.component);
    let location = error
        .location
        .as_ref()
        .map(|l| location(l, d))
        .unwrap_or_default();
    let code = format!(
        "{}{cs}{}{cs}HL70357",
        error.code.code(),
        escape(error.code.text(), d)
    );
    let fields = [
        "ERR",
        "",
        &location,
        &code,
        error.severity.code(),
        "",
        "",
        "",
        &escape(&error.message, d),
    ];
    fields.join(&char::from(d.field).to_string())
}

/// One ERR-1 repetition in the pre-v2.5 form: `SEG^seq^field^code&text&HL70357`.
fn err1(error: &ErrDetail, context: &AckContext) -> String {
    let d = &context.delimiters;
    let (cs, ss) = (char::from(d.component), char::from(d.subcomponent));
    let place = match &error.location {
        Some(l) => format!(
            "{}{cs}{}{cs}{}",
            escape(&l.segment, d),
            l.sequence,
            number(l.field)
        ),
        None => format!("{cs}{cs}"),
    };
    let text = escape(error.code.text(), d);
    format!("{place}{cs}{}{ss}{text}{ss}HL70357", error.code.code())
}

/// ERR-2 (ERL): `SEG^seq^field^rep^comp^sub`, trailing empty components dropped.
fn location(l: &ErrLocation, d: &Delimiters) -> String {
    let parts = [
        escape(&l.segment, d),
        l.sequence.to_string(),
        number(l.field),
        number(l.repetition),
        number(l.component),
        number(l.subcomponent),
    ];
    let used = parts
        .iter()
        .rposition(|p| !p.is_empty())
        .map_or(0, |i| i + 1);
    parts[..used].join(&char::from(d.component).to_string())
}

fn number(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}
