//! The example transform of `plugins/examples/SPEC.md`, in Rust: upper-cases
//! and tidies patient names (PID-5), formats phone numbers (PID-13, PID-14)
//! and filters test patients by family name. The Python, JavaScript and C
//! examples in `plugins/examples/` implement the same rules and must give
//! the same bytes.
//!
//! Configuration: `{"test_family_names": ["TEST", "ZZTEST"]}` (default
//! `["TEST"]`).

#[cfg(target_family = "wasm")]
mod component;

/// What the transform decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized {
    /// The rewritten message.
    Forward(String),
    /// A test patient: filtered.
    TestPatient,
}

/// The configured family names of test patients, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    test_family_names: Vec<String>,
}

impl Rules {
    /// Reads the configuration.
    ///
    /// # Errors
    /// When `test_family_names` is not a list of strings.
    pub fn from_json(config: &serde_json::Value) -> Result<Rules, String> {
        let names = match config.get("test_family_names") {
            None => vec!["TEST".to_string()],
            Some(value) => serde_json::from_value::<Vec<String>>(value.clone())
                .map_err(|e| format!("test_family_names: expected a list of strings ({e})"))?,
        };
        Ok(Rules {
            test_family_names: names.iter().map(|n| n.to_ascii_uppercase()).collect(),
        })
    }

    /// Applies the rules to an ER7 body.
    ///
    /// # Errors
    /// `not an HL7 v2 message` when the body does not start with `MSH` and
    /// its separators.
    pub fn apply(&self, body: &str) -> Result<Normalized, &'static str> {
        let bytes = body.as_bytes();
        if bytes.len() < 8 || !body.starts_with("MSH") {
            return Err("not an HL7 v2 message");
        }
        let separators = Separators {
            field: bytes[3] as char,
            component: bytes[4] as char,
            repetition: bytes[5] as char,
        };
        let trailing = body.ends_with('\r');
        let segments: Vec<String> = body
            .strip_suffix('\r')
            .unwrap_or(body)
            .split('\r')
            .map(|segment| {
                if separators.is_pid(segment) {
                    separators.pid(segment)
                } else {
                    segment.to_string()
                }
            })
            .collect();
        let first_pid = segments.iter().find(|s| separators.is_pid(s));
        if let Some(pid) = first_pid {
            let family = separators.part(pid, 5, 1);
            if self.test_family_names.contains(&family) {
                return Ok(Normalized::TestPatient);
            }
        }
        let mut out = segments.join("\r");
        if trailing {
            out.push('\r');
        }
        Ok(Normalized::Forward(out))
    }
}

/// MSH-1 and the separators of MSH-2 that the rules need.
struct Separators {
    field: char,
    component: char,
    repetition: char,
}

impl Separators {
    /// Whether `segment`'s id (its first field) is `PID`.
    fn is_pid(&self, segment: &str) -> bool {
        segment.split(self.field).next() == Some("PID")
    }

    /// A PID segment with PID-5, PID-13 and PID-14 rewritten.
    fn pid(&self, segment: &str) -> String {
        let mut fields: Vec<String> = segment.split(self.field).map(str::to_string).collect();
        if let Some(names) = fields.get_mut(5) {
            *names = self.each_component(names, &[1, 2, 3], name);
        }
        for n in [13, 14] {
            if let Some(phones) = fields.get_mut(n) {
                *phones = self.each_component(phones, &[1], phone);
                *phones = self.each_component(phones, &[6, 7], digits_if_any);
            }
        }
        fields.join(&self.field.to_string())
    }

    /// `field` with `rewrite` applied to the listed components (1-based) of
    /// every repetition.
    fn each_component(&self, field: &str, which: &[usize], rewrite: fn(&str) -> String) -> String {
        field
            .split(self.repetition)
            .map(|repetition| {
                repetition
                    .split(self.component)
                    .enumerate()
                    .map(|(i, c)| {
                        if which.contains(&(i + 1)) {
                            rewrite(c)
                        } else {
                            c.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(&self.component.to_string())
            })
            .collect::<Vec<_>>()
            .join(&self.repetition.to_string())
    }

    /// Component `c` of the first repetition of field `n` of `segment`.
    fn part(&self, segment: &str, n: usize, c: usize) -> String {
        segment
            .split(self.field)
            .nth(n)
            .and_then(|f| f.split(self.repetition).next())
            .and_then(|r| r.split(self.component).nth(c - 1))
            .unwrap_or("")
            .to_string()
    }
}

/// A name part: ASCII upper case, trimmed, inner runs of spaces collapsed.
fn name(part: &str) -> String {
    part.to_ascii_uppercase()
        .split(' ')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A telephone number: digits only, a leading 1 of 11 digits dropped, ten
/// digits as `(AAA)BBB-CCCC`.
fn phone(number: &str) -> String {
    let mut digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return number.to_string();
    }
    if digits.len() == 11 && digits.starts_with('1') {
        digits.remove(0);
    }
    if digits.len() == 10 {
        return format!("({}){}-{}", &digits[..3], &digits[3..6], &digits[6..]);
    }
    digits
}

/// The digits of `text`, or `text` when it has none.
fn digits_if_any(text: &str) -> String {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        text.to_string()
    } else {
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::from_json(&serde_json::json!({})).unwrap()
    }

    /// Ensures names, phones, area codes and the trailing CR follow the
    /// spec, and other fields are untouched.
    #[test]
    fn names_and_phones_are_normalised() {
        let body = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r\
                    PID|1||42^^^H^MR||  doe  jr ^jane^ q ~smith^anne||19800101|F|||x||1-555-555-1234^PRN^PH^^^555^5551234~12345||\r";
        let Normalized::Forward(out) = rules().apply(body).unwrap() else {
            panic!("forwarded");
        };
        assert_eq!(
            out,
            "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r\
             PID|1||42^^^H^MR||DOE JR^JANE^Q~SMITH^ANNE||19800101|F|||x||(555)555-1234^PRN^PH^^^555^5551234~12345||\r"
        );
    }

    /// Ensures test patients are filtered by the configured names and a
    /// body that is not ER7 is rejected.
    #[test]
    fn test_patients_are_filtered_and_junk_rejected() {
        let body = "MSH|^~\\&|A\rPID|1||1||Test^Pat\r";
        assert_eq!(rules().apply(body), Ok(Normalized::TestPatient));
        let custom =
            Rules::from_json(&serde_json::json!({"test_family_names": ["zztest"]})).unwrap();
        assert!(matches!(custom.apply(body), Ok(Normalized::Forward(_))));
        assert!(rules().apply("hello").is_err());
        assert!(Rules::from_json(&serde_json::json!({"test_family_names": 3})).is_err());
    }
}
