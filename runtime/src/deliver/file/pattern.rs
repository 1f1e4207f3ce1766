//! [`NamePattern`]: the `file_name` pattern of a file destination, checked once and
//! filled in for each delivery.
//!
//! Every placeholder's value is made a safe file name part: letters, digits, `-`, `_`
//! and `.` are kept, any other character becomes `_`, a value neither starts nor ends with
//! `.` nor holds `..`, and it is cut at [`MAX_VALUE_CHARS`]. Literal text may not hold a path
//! separator and the pattern may not start with `.`, so a name can never leave the
//! directory, be `.` or `..`, or pass for a hidden temporary file.

use crate::deliver::Delivery;

/// The longest a placeholder's value may be once sanitised, in characters.
pub const MAX_VALUE_CHARS: usize = 64;

/// The value written for a control id or message type the message does not have.
const MISSING: &str = "none";

/// A placeholder of the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Channel,
    Destination,
    Id,
    Seq,
    ControlId,
    Type,
    Ext,
    Date,
}

const PLACEHOLDERS: [(&str, Placeholder); 8] = [
    ("channel", Placeholder::Channel),
    ("destination", Placeholder::Destination),
    ("id", Placeholder::Id),
    ("seq", Placeholder::Seq),
    ("control_id", Placeholder::ControlId),
    ("type", Placeholder::Type),
    ("ext", Placeholder::Ext),
    ("date", Placeholder::Date),
];

/// A piece of the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(Placeholder),
}

/// A checked file name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    parts: Vec<Part>,
}

impl NamePattern {
    /// Checks `pattern`.
    ///
    /// # Errors
    ///
    /// Why it is invalid: an unknown or unclosed placeholder, a stray `}`, a path
    /// separator, a leading `.`, or no placeholder that tells messages apart.
    pub fn parse(pattern: &str) -> Result<NamePattern, String> {
        if pattern.starts_with('.') {
            return Err("it may not start with '.'".into());
        }
        if pattern.contains(['/', '\\', '\0']) {
            return Err("it may not hold a path separator: files go in dir".into());
        }
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(start) = rest.find(['{', '}']) {
            let (literal, tail) = rest.split_at(start);
            push_literal(&mut parts, literal);
            let (name, after) = tail
                .strip_prefix('{')
                .and_then(|inner| inner.split_once('}'))
                .filter(|(name, _)| !name.contains('{'))
                .ok_or("'{' and '}' must pair up around a placeholder name")?;
            parts.push(Part::Placeholder(placeholder(name)?));
            rest = after;
        }
        push_literal(&mut parts, rest);
        let distinct = [Placeholder::Id, Placeholder::Seq, Placeholder::ControlId];
        if !parts
            .iter()
            .any(|part| matches!(part, Part::Placeholder(p) if distinct.contains(p)))
        {
            return Err(
                "it needs {seq}, {id} or {control_id}, or every file overwrites the last".into(),
            );
        }
        Ok(NamePattern { parts })
    }

    /// The file name for `delivery`, written on `date` (`YYYYMMDD`).
    pub fn render(&self, delivery: &Delivery<'_>, date: &str) -> String {
        let mut name = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::Placeholder(placeholder) => {
                    name.push_str(&sanitise(&value(*placeholder, delivery, date)));
                }
            }
        }
        name
    }
}

fn push_literal(parts: &mut Vec<Part>, literal: &str) {
    if !literal.is_empty() {
        parts.push(Part::Literal(literal.to_owned()));
    }
}

fn placeholder(name: &str) -> Result<Placeholder, String> {
    PLACEHOLDERS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, placeholder)| *placeholder)
        .ok_or_else(|| {
            let known: Vec<String> = PLACEHOLDERS
                .iter()
                .map(|(n, _)| format!("{{{n}}}"))
                .collect();
            format!("unknown placeholder {{{name}}}; use {}", known.join(", "))
        })
}

fn value(placeholder: Placeholder, delivery: &Delivery<'_>, date: &str) -> String {
    match placeholder {
        Placeholder::Channel => delivery.channel.to_owned(),
        Placeholder::Destination => delivery.destination.to_owned(),
        Placeholder::Id => delivery.message_id.to_string(),
        Placeholder::Seq => delivery.sequence.to_string(),
        Placeholder::ControlId => delivery.control_id.unwrap_or(MISSING).to_owned(),
        Placeholder::Type => delivery.message_type.unwrap_or(MISSING).to_owned(),
        Placeholder::Ext => extension(delivery.content_type).to_owned(),
        Placeholder::Date => date.to_owned(),
    }
}

/// `json` for JSON (FHIR or not), `hl7` for HL7 v2, `txt` otherwise.
fn extension(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        "json"
    } else if essence.contains("hl7-v2") {
        "hl7"
    } else {
        "txt"
    }
}

/// `value` as a safe part of a file name, neither starting nor ending with `.`; `_`
/// for an empty value.
fn sanitise(value: &str) -> String {
    let mut safe = String::new();
    for c in value.chars().take(MAX_VALUE_CHARS) {
        let keep = c.is_ascii_alphanumeric()
            || c == '-'
            || c == '_'
            || (c == '.' && !safe.is_empty() && !safe.ends_with('.'));
        safe.push(if keep { c } else { '_' });
    }
    if safe.is_empty() || safe.ends_with('.') {
        safe.pop();
        safe.push('_');
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery<'a>(control_id: Option<&'a str>, content_type: &'a str) -> Delivery<'a> {
        Delivery {
            channel: "adt-in",
            destination: "fhir files",
            message_id: 7,
            sequence: 42,
            control_id,
            message_type: Some("ADT^A01"),
            content_type,
            body: b"",
        }
    }

    fn render(pattern: &str, delivery: &Delivery<'_>) -> String {
        NamePattern::parse(pattern)
            .unwrap()
            .render(delivery, "20240102")
    }

    /// Ensures that every placeholder is filled in, and names with spaces or `^` are made safe.
    #[test]
    fn placeholders_are_filled_in() {
        let delivery = delivery(Some("MSG-1"), "application/fhir+json");
        assert_eq!(
            render("{channel}-{id}-{seq}.{ext}", &delivery),
            "adt-in-7-42.json"
        );
        assert_eq!(
            render("{date}_{destination}_{type}_{control_id}.out", &delivery),
            "20240102_fhir_files_ADT_A01_MSG-1.out"
        );
    }

    /// Ensures that the extension follows the content type.
    #[test]
    fn extension_follows_content_type() {
        assert_eq!(extension("application/fhir+json; charset=utf-8"), "json");
        assert_eq!(extension("application/json"), "json");
        assert_eq!(extension("application/hl7-v2+er7"), "hl7");
        assert_eq!(extension("x-application/hl7-v2+er7"), "hl7");
        assert_eq!(extension("text/plain"), "txt");
    }

    /// Ensures that a control id can never name a path outside the directory.
    #[test]
    fn control_ids_cannot_escape() {
        for (control_id, name) in [
            ("../x", "_._x.hl7"),
            ("..", "__.hl7"),
            ("a/../../b", "a_.__.__b.hl7"),
            ("x.", "x_.hl7"),
            ("C:\\x", "C__x.hl7"),
            (".hidden", "_hidden.hl7"),
            ("", "_.hl7"),
            ("1..2", "1._2.hl7"),
        ] {
            let delivery = delivery(Some(control_id), "application/hl7-v2+er7");
            assert_eq!(
                render("{control_id}.{ext}", &delivery),
                name,
                "{control_id:?}"
            );
        }
        let long = "x".repeat(1000);
        let delivery = delivery(Some(&long), "text/plain");
        assert_eq!(render("{control_id}", &delivery).len(), MAX_VALUE_CHARS);
    }

    /// Ensures that a missing control id or type is written as "none".
    #[test]
    fn missing_values_are_none() {
        let mut delivery = delivery(None, "text/plain");
        delivery.message_type = None;
        assert_eq!(
            render("{control_id}-{type}-{seq}", &delivery),
            "none-none-42"
        );
    }

    /// Ensures that bad patterns are refused with a reason.
    #[test]
    fn bad_patterns_are_refused() {
        for (pattern, reason) in [
            ("{nope}-{seq}", "unknown placeholder {nope}"),
            ("{seq", "must pair up"),
            ("seq}", "must pair up"),
            ("{{seq}}", "must pair up"),
            ("../{seq}", "may not start with '.'"),
            ("out/{seq}", "path separator"),
            ("out\\{seq}", "path separator"),
            ("{channel}.{ext}", "needs {seq}"),
        ] {
            let error = NamePattern::parse(pattern).unwrap_err();
            assert!(error.contains(reason), "{pattern}: {error}");
        }
    }
}
