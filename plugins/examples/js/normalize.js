// The `normalize` example plugin in JavaScript: normalises patient names and
// phone numbers in PID segments and filters test patients. The transform is
// specified in ../SPEC.md; the Rust version, plugins/normalize, is the
// reference.
//
// jco / componentize-js conventions for the WIT world `plugin`:
// - the exported interface `transformer` is the export `transformer`, an
//   object with the functions `info`, `configure` and `transform`;
// - records are plain objects with camelCase fields (`content-type` ->
//   `contentType`), enums are strings (`'reject'`), `option<T>` is the value
//   or `undefined`, variants are `{ tag, val }`;
// - a function returning `result<T, E>` returns T on success and throws E
//   (the thrown value itself) on failure.
//
// Build: ./build.sh (see README.md).

const HL7_V2 = "application/hl7-v2+er7";

/** The family names that mark a test patient (configured; upper-cased). */
let testFamilyNames = ["TEST"];

/** ASCII letters upper-cased; other characters as they are. */
function asciiUpper(text) {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/** A name component: ASCII upper case, spaces trimmed and collapsed. */
function normalizeName(component) {
  return asciiUpper(component).replace(/^ +| +$/g, "").replace(/ {2,}/g, " ");
}

/** The ASCII digits of `text`. */
function digitsOf(text) {
  return text.replace(/[^0-9]+/g, "");
}

/** True when `text` holds at least one ASCII digit. */
function hasDigit(text) {
  return /[0-9]/.test(text);
}

/** Phone component 1: digits only, US 11-digit prefix dropped, 10 digits formatted. */
function normalizePhoneNumber(component) {
  if (!hasDigit(component)) {
    return component;
  }
  let digits = digitsOf(component);
  if (digits.length === 11 && digits[0] === "1") {
    digits = digits.slice(1);
  }
  if (digits.length === 10) {
    return `(${digits.slice(0, 3)})${digits.slice(3, 6)}-${digits.slice(6)}`;
  }
  return digits;
}

/** Phone components 6 and 7 (area code, local number): digits only. */
function digitsOnly(component) {
  return hasDigit(component) ? digitsOf(component) : component;
}

/**
 * Applies `edit(components)` (which changes the array in place) to every
 * repetition of a field and returns the field rebuilt.
 */
function editRepetitions(field, seps, edit) {
  return field
    .split(seps.repetition)
    .map((repetition) => {
      const components = repetition.split(seps.component);
      edit(components);
      return components.join(seps.component);
    })
    .join(seps.repetition);
}

/** Normalises one PID segment; returns the new segment and its PID-5.1. */
function normalizePid(segment, seps) {
  const fields = segment.split(seps.field);
  let family;
  if (fields.length > 5) {
    fields[5] = editRepetitions(fields[5], seps, (components) => {
      for (let i = 0; i < 3 && i < components.length; i++) {
        components[i] = normalizeName(components[i]);
      }
    });
    family = fields[5].split(seps.repetition)[0].split(seps.component)[0];
  }
  for (const n of [13, 14]) {
    if (fields.length > n) {
      fields[n] = editRepetitions(fields[n], seps, (components) => {
        components[0] = normalizePhoneNumber(components[0]);
        for (const i of [5, 6]) {
          if (i < components.length) {
            components[i] = digitsOnly(components[i]);
          }
        }
      });
    }
  }
  return { segment: fields.join(seps.field), family };
}

export const transformer = {
  info() {
    return {
      name: "normalize",
      version: "0.1.0",
      vendor: "hl7wasm examples",
      description: "Normalises patient names and phone numbers; filters test patients.",
      // `*`: every message type (the Rust SDK default; the host reads an
      // empty list as "none", although SPEC.md says "all (empty list)").
      messageTypes: ["*"],
    };
  },

  configure(configJson) {
    let config;
    try {
      config = JSON.parse(configJson);
    } catch (error) {
      throw `the configuration is not valid JSON: ${error.message}`;
    }
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw "the configuration must be a JSON object";
    }
    let names = ["TEST"];
    if (Object.prototype.hasOwnProperty.call(config, "test_family_names")) {
      const value = config.test_family_names;
      if (!Array.isArray(value) || !value.every((name) => typeof name === "string")) {
        throw "test_family_names: expected a list of strings";
      }
      names = value;
    }
    testFamilyNames = names.map((name) => name.toUpperCase());
  },

  transform(message) {
    if (message.contentType !== HL7_V2) {
      return { tag: "forward", val: [message] };
    }
    const body = message.body;
    if (!body.startsWith("MSH") || body.length < 8) {
      throw { kind: "reject", text: "not an HL7 v2 message", location: undefined };
    }
    const seps = { field: body[3], component: body[4], repetition: body[5] };
    // Splitting on `\r` and joining again keeps a trailing `\r` (the last
    // item is then empty) if and only if the input had one.
    let firstFamily;
    let seenPid = false;
    const segments = body.split("\r").map((segment) => {
      if (segment.split(seps.field, 1)[0] !== "PID") {
        return segment;
      }
      const result = normalizePid(segment, seps);
      if (!seenPid) {
        seenPid = true;
        firstFamily = result.family;
      }
      return result.segment;
    });
    if (firstFamily !== undefined && testFamilyNames.includes(firstFamily.toUpperCase())) {
      return { tag: "filter", val: "test patient" };
    }
    return { tag: "forward", val: [{ contentType: HL7_V2, body: segments.join("\r") }] };
  },
};
