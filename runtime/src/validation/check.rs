//! Applying a profile to a parsed message: every breach becomes an ERR
//! detail with its location, its HL7 error code and a text that names the
//! rule but never repeats the value (which may be PHI).

use std::fmt::Write as _;

use hl7v2::ack::{ErrDetail, ErrLocation, ErrorCode, Severity};
use hl7v2::{Message, Repetition, Segment};

use super::profile::{CompiledField, Profile, RuleSeverity};
use crate::config::message_type;

/// The most findings reported for one message; an ACK stays readable.
const MAX_FINDINGS: usize = 25;

/// What a profile found in one message.
#[derive(Debug, Default)]
pub struct Findings {
    /// The breaches found, in message order within each kind of rule, at
    /// most [`MAX_FINDINGS`].
    pub details: Vec<ErrDetail>,
    /// How many breaches there were in all.
    pub total: usize,
}

impl Findings {
    /// Whether any breach refuses the message.
    pub fn refuses(&self) -> bool {
        self.details
            .iter()
            .any(|detail| detail.severity != Severity::Warning)
    }

    /// The codes and places of the findings, for a log line: for example
    /// `101@PID-3.1 103@PID-8`. No values.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for detail in &self.details {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{}", detail.code.code());
            if let Some(location) = &detail.location {
                let _ = write!(out, "@{}", place(location));
            }
        }
        if self.total > self.details.len() {
            let _ = write!(out, " (+{} more)", self.total - self.details.len());
        }
        out
    }

    fn add(
        &mut self,
        severity: RuleSeverity,
        code: ErrorCode,
        location: ErrLocation,
        text: String,
    ) {
        self.total += 1;
        if self.details.len() == MAX_FINDINGS {
            return;
        }
        let severity = match severity {
            RuleSeverity::Error => Severity::Error,
            RuleSeverity::Warning => Severity::Warning,
        };
        let message = format!("{}: {text}", place(&location));
        self.details.push(ErrDetail {
            location: Some(location),
            code,
            severity,
            message,
        });
    }
}

impl Profile {
    /// Checks `message` against every rule of the profile that applies to
    /// its type.
    pub fn check(&self, message: &Message<'_>) -> Findings {
        let mut findings = Findings::default();
        let kind = message.header().message_type();
        let (code, trigger) = (kind.code.unwrap_or(""), kind.trigger.unwrap_or(""));
        self.check_header(message, code, trigger, &mut findings);
        let applies = |patterns: &[String]| {
            patterns.is_empty()
                || patterns
                    .iter()
                    .any(|pattern| message_type::matches(pattern, code, trigger))
        };
        for rule in self.segments.iter().filter(|r| applies(&r.message_types)) {
            let count = message.segments_named(&rule.id).count();
            let (breach, sequence) = if count < rule.min {
                (
                    format!("occurs {count} times; at least {} required", rule.min),
                    count + 1,
                )
            } else if rule.max.is_some_and(|max| count > max) {
                let max = rule.max.unwrap_or_default();
                (
                    format!("occurs {count} times; at most {max} allowed"),
                    max + 1,
                )
            } else {
                continue;
            };
            let location = at(&rule.id, sequence, None);
            let code = ErrorCode::SegmentSequenceError;
            findings.add(rule.severity, code, location, breach);
        }
        for field in self
            .fields
            .iter()
            .filter(|f| applies(&f.rule.message_types))
        {
            let occurrences = message.segments_named(&field.segment);
            for (index, segment) in occurrences.enumerate() {
                check_field(field, &segment, index + 1, &mut findings);
            }
        }
        findings
    }

    fn check_header(&self, message: &Message<'_>, code: &str, trigger: &str, out: &mut Findings) {
        let admitted = |patterns: &[String]| {
            patterns
                .iter()
                .any(|pattern| message_type::matches(pattern, code, trigger))
        };
        if !self.message_types.is_empty() && !admitted(&self.message_types) {
            let known_code = self.message_types.iter().any(|pattern| {
                message_type::matches(pattern.split('^').next().unwrap_or(""), code, "")
            });
            let (error, component) = if known_code {
                (ErrorCode::UnsupportedEventCode, 2)
            } else {
                (ErrorCode::UnsupportedMessageType, 1)
            };
            let text = format!("message type {code}^{trigger} is not accepted by this channel");
            let location = at("MSH", 1, Some((9, 1, Some(component), None)));
            out.add(RuleSeverity::Error, error, location, text);
        }
        let listed = |list: &[String], path: &str| {
            let value = message.get(path).unwrap_or_default();
            list.is_empty() || list.iter().any(|item| *item == value)
        };
        if !listed(&self.versions, "MSH-12.1") {
            let text = format!("version is not one of {}", self.versions.join(", "));
            let location = at("MSH", 1, Some((12, 1, Some(1), None)));
            out.add(
                RuleSeverity::Error,
                ErrorCode::UnsupportedVersionId,
                location,
                text,
            );
        }
        if !listed(&self.processing_ids, "MSH-11.1") {
            let text = format!(
                "processing ID is not one of {}",
                self.processing_ids.join(", ")
            );
            let location = at("MSH", 1, Some((11, 1, Some(1), None)));
            out.add(
                RuleSeverity::Error,
                ErrorCode::UnsupportedProcessingId,
                location,
                text,
            );
        }
    }
}

fn check_field(field: &CompiledField, segment: &Segment<'_>, sequence: usize, out: &mut Findings) {
    let rule = &field.rule;
    let raw = segment.field(field.field).map_or("", |f| f.raw());
    let repetitions: Vec<Repetition<'_>> = match segment.field(field.field) {
        Some(whole) if !raw.is_empty() => whole.repetitions().collect(),
        _ => Vec::new(),
    };
    let location = |repetition: usize| {
        at(
            &field.segment,
            sequence,
            Some((field.field, repetition, field.component, field.subcomponent)),
        )
    };
    if let Some(max) = rule.max_repetitions.filter(|max| repetitions.len() > *max) {
        let text = format!("repeats {} times; at most {max} allowed", repetitions.len());
        out.add(
            rule.severity,
            ErrorCode::DataTypeError,
            location(max + 1),
            text,
        );
    }
    if repetitions.is_empty() {
        if rule.required {
            let text = "required but empty".to_string();
            out.add(
                rule.severity,
                ErrorCode::RequiredFieldMissing,
                location(1),
                text,
            );
        }
        return;
    }
    for (index, repetition) in repetitions.iter().enumerate() {
        let value = element(field, repetition);
        let location = || location(index + 1);
        if value.is_empty() {
            if rule.required {
                let text = "required but empty".to_string();
                out.add(
                    rule.severity,
                    ErrorCode::RequiredFieldMissing,
                    location(),
                    text,
                );
            }
            continue;
        }
        if value == "\"\"" {
            continue;
        }
        if !rule.values.is_empty() && !rule.values.contains(&value) {
            let text = format!("not one of the values allowed ({})", list(&rule.values));
            out.add(
                rule.severity,
                ErrorCode::TableValueNotFound,
                location(),
                text,
            );
        }
        if let Some(Err(form)) = rule.data_type.map(|data_type| data_type.check(&value)) {
            let text = format!("not {form}");
            out.add(rule.severity, ErrorCode::DataTypeError, location(), text);
        }
        if field
            .pattern
            .as_ref()
            .is_some_and(|pattern| !pattern.is_match(&value))
        {
            let text = "does not match the profile's pattern".to_string();
            out.add(rule.severity, ErrorCode::DataTypeError, location(), text);
        }
        if let Some(max) = rule.max_length.filter(|max| value.chars().count() > *max) {
            let text = format!("longer than {max} characters");
            out.add(rule.severity, ErrorCode::ValueTooLong, location(), text);
        }
    }
}

/// The unescaped text a rule looks at in one repetition: the component or
/// subcomponent it names, or for a time stamp field its first component.
fn element(field: &CompiledField, repetition: &Repetition<'_>) -> String {
    let first_of_ts = (field.rule.data_type == Some(super::DataType::TS)).then_some(1);
    match (field.component.or(first_of_ts), field.subcomponent) {
        (None, _) => repetition.value().into_owned(),
        (Some(component), None) => repetition
            .component(component)
            .map(|c| c.value().into_owned())
            .unwrap_or_default(),
        (Some(component), Some(subcomponent)) => repetition
            .component(component)
            .and_then(|c| c.subcomponent(subcomponent))
            .map(|s| s.value().into_owned())
            .unwrap_or_default(),
    }
}

/// A location: the segment's occurrence and optionally (field, repetition,
/// component, subcomponent).
fn at(
    segment: &str,
    sequence: usize,
    element: Option<(usize, usize, Option<usize>, Option<usize>)>,
) -> ErrLocation {
    let number = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut location = ErrLocation {
        segment: segment.to_string(),
        sequence: number(sequence),
        ..ErrLocation::default()
    };
    if let Some((field, repetition, component, subcomponent)) = element {
        location.field = Some(number(field));
        location.repetition = Some(number(repetition));
        location.component = component.map(number);
        location.subcomponent = subcomponent.map(number);
    }
    location
}

/// `PID[2]-3[1].4.1`, with the occurrence and repetition only past the
/// first.
fn place(location: &ErrLocation) -> String {
    let mut out = location.segment.clone();
    if location.sequence > 1 {
        let _ = write!(out, "[{}]", location.sequence);
    }
    if let Some(field) = location.field {
        let _ = write!(out, "-{field}");
        if let Some(repetition) = location.repetition.filter(|r| *r > 1) {
            let _ = write!(out, "[{repetition}]");
        }
        for part in [location.component, location.subcomponent]
            .into_iter()
            .flatten()
        {
            let _ = write!(out, ".{part}");
        }
    }
    out
}

/// The first values of a table, for an error text.
fn list(values: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut out = values[..values.len().min(SHOWN)].join(", ");
    if values.len() > SHOWN {
        let _ = write!(out, ", … {} in all", values.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::ProfileConfig;

    const ADT: &str = "MSH|^~\\&|REG|HOSP|EHR|HOSP|20240101120000||ADT^A01^ADT_A01|C1|P|2.5.1\r\
                       PID|1||123^^^HOSP^MR~456^^^SSA^SS||DOE^JOHN||19800231|X\r\
                       PV1|1|I\r";

    fn profile(text: &str) -> Profile {
        let config: ProfileConfig = toml::from_str(text).unwrap();
        Profile::compile("test", &config).unwrap()
    }

    fn findings(profile_text: &str, message: &str) -> Findings {
        let message = Message::parse(message.as_bytes()).unwrap();
        profile(profile_text).check(&message)
    }

    #[test]
    fn each_breach_has_its_code_and_place() {
        let found = findings(
            r#"
            versions = ["2.5.1"]
            [[segments]]
            id = "PID"
            min = 1
            max = 1
            [[segments]]
            id = "NK1"
            min = 1
            [[fields]]
            path = "PID-3.4"
            values = ["HOSP"]
            [[fields]]
            path = "PID-7"
            type = "DT"
            [[fields]]
            path = "PID-8"
            values = ["F", "M", "O", "U"]
            [[fields]]
            path = "PID-5.2"
            max_length = 3
            severity = "warning"
            [[fields]]
            path = "PID-18"
            required = true
            [[fields]]
            path = "PID-3"
            max_repetitions = 1
            "#,
            ADT,
        );
        assert_eq!(
            found.summary(),
            "100@NK1 103@PID-3[2].4 102@PID-7 103@PID-8 104@PID-5.2 101@PID-18 102@PID-3[2]",
        );
        assert!(found.refuses());
        let doe = found.details.iter().any(|d| d.message.contains("DOE"));
        assert!(!doe, "no values in the texts");
        let warning = &found.details[4];
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!(warning.message, "PID-5.2: longer than 3 characters");
    }

    #[test]
    fn a_pattern_covers_the_whole_value() {
        let rule = "[[fields]]\npath = \"PID-3.1\"\npattern = \"[0-9]{3}\"";
        assert!(findings(rule, ADT).details.is_empty(), "123 and 456 match");
        let long = ADT.replace("123^^^HOSP", "1234^^^HOSP");
        let found = findings(rule, &long);
        assert_eq!(found.summary(), "102@PID-3.1");
        assert_eq!(
            found.details[0].message,
            "PID-3.1: does not match the profile's pattern"
        );
    }

    #[test]
    fn warnings_alone_do_not_refuse() {
        let found = findings(
            "[[fields]]\npath = \"PID-19\"\nrequired = true\nseverity = \"warning\"",
            ADT,
        );
        assert_eq!(found.summary(), "101@PID-19");
        assert!(!found.refuses());
        assert!(findings("", ADT).details.is_empty());
    }

    #[test]
    fn header_rules_refuse_type_version_and_processing_id() {
        let found = findings(
            r#"message_types = ["ADT^A04", "ORU"]
               versions = ["2.3"]
               processing_ids = ["T"]"#,
            ADT,
        );
        let codes: Vec<u16> = found.details.iter().map(|d| d.code.code()).collect();
        assert_eq!(codes, [201, 203, 202]);
        let found = findings("message_types = [\"ORU\"]", ADT);
        assert_eq!(found.summary(), "200@MSH-9.1");
        assert!(
            findings("message_types = [\"ADT\"]", ADT)
                .details
                .is_empty()
        );
    }

    #[test]
    fn rules_scoped_to_other_types_do_not_apply() {
        let text = "[[segments]]\nid = \"OBR\"\nmin = 1\nmessage_types = [\"ORU\"]";
        assert!(findings(text, ADT).details.is_empty());
    }

    #[test]
    fn an_explicit_null_is_a_value() {
        let message = ADT.replace("19800231|X", "\"\"|M");
        let text = "[[fields]]\npath = \"PID-7\"\nrequired = true\ntype = \"DT\"";
        assert!(findings(text, &message).details.is_empty());
    }
}
