//! `hl7wasm parse`: prints HL7 v2 messages as JSON, for a person debugging a
//! feed. Batch files are split into their messages.

use std::path::PathBuf;
use std::process::ExitCode;

use hl7v2::{Component, Field, Message, Repetition};
use serde_json::{Map, Value, json};

use super::message_files::each_message;

/// Arguments of `hl7wasm parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// HL7 v2 files: one message each, or a batch (FHS/BHS ... BTS/FTS).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Prints one JSON document per message; exit code 1 when any file or
/// message could not be parsed (the error names the file and position).
pub fn run(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    each_message(&args.files, |file, index, message| {
        let document = message_json(&file.display().to_string(), index, message);
        say!("{}", serde_json::to_string_pretty(&document)?);
        Ok(true)
    })
}

/// A message as JSON: header facts, then each segment's non-empty fields
/// keyed by their terser path (`PID-3`, `PID-3[2]` for a repetition).
/// Components become arrays, subcomponents nested arrays; values are
/// decoded (escape sequences resolved).
fn message_json(file: &str, index: usize, message: &Message<'_>) -> Value {
    let header = message.header();
    let segments: Vec<Value> = message
        .segments()
        .map(|segment| {
            let mut fields = Map::new();
            for (n, field) in segment.fields().enumerate() {
                add_field(&mut fields, &format!("{}-{}", segment.id(), n + 1), field);
            }
            json!({ "segment": segment.id(), "fields": fields })
        })
        .collect();
    json!({
        "file": file,
        "message": index,
        "control_id": header.control_id(),
        "message_type": header.message_type().event(),
        "version": header.version(),
        "charset": format!("{:?}", message.charset()),
        "segments": segments,
    })
}

fn add_field(fields: &mut Map<String, Value>, path: &str, field: Field<'_>) {
    if field.is_empty() {
        return;
    }
    if path == "MSH-1" || path == "MSH-2" {
        fields.insert(path.to_string(), Value::String(field.raw().to_string()));
        return;
    }
    for (r, repetition) in field.repetitions().enumerate() {
        if repetition.is_empty() {
            continue;
        }
        let key = if r == 0 {
            path.to_string()
        } else {
            format!("{path}[{}]", r + 1)
        };
        fields.insert(key, repetition_json(repetition));
    }
}

fn repetition_json(repetition: Repetition<'_>) -> Value {
    let components: Vec<Component<'_>> = repetition.components().collect();
    match components.as_slice() {
        [single] => component_json(*single),
        _ => Value::Array(components.into_iter().map(component_json).collect()),
    }
}

fn component_json(component: Component<'_>) -> Value {
    let subcomponents: Vec<Value> = component
        .subcomponents()
        .map(|sub| Value::String(sub.value().into_owned()))
        .collect();
    match <[Value; 1]>::try_from(subcomponents) {
        Ok([single]) => single,
        Err(many) => Value::Array(many),
    }
}
