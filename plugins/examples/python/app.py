"""The `normalize` example plugin, in Python (componentize-py).

Implements plugins/examples/SPEC.md: normalises patient names (PID-5) and
phone numbers (PID-13, PID-14) and filters test patients. Build it with
`build.sh`; see README.md.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    ErrorKind,
    Message,
    Outcome,
    Outcome_Filter,
    Outcome_Forward,
    PluginInfo,
    TransformError,
)

HL7_V2 = "application/hl7-v2+er7"
DEFAULT_TEST_FAMILY_NAMES = ["TEST"]

_UPPER = {ord(c): ord(c) - 32 for c in "abcdefghijklmnopqrstuvwxyz"}
_DIGITS = frozenset("0123456789")


def ascii_upper(text: str) -> str:
    """Upper-cases ASCII letters only; other characters stay as they are."""
    return text.translate(_UPPER)


def normalize_name(text: str) -> str:
    """ASCII upper-case, trim spaces, collapse runs of inner spaces to one."""
    return " ".join(part for part in ascii_upper(text).split(" ") if part)


def digits_of(text: str) -> str:
    return "".join(c for c in text if c in _DIGITS)


def normalize_phone_number(text: str) -> str:
    digits = digits_of(text)
    if not digits:
        return text
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) == 10:
        return f"({digits[:3]}){digits[3:6]}-{digits[6:]}"
    return digits


def normalize_digits(text: str) -> str:
    digits = digits_of(text)
    return digits if digits else text


def map_components(field: str, rep_sep: str, comp_sep: str, fixes) -> str:
    """Applies fixes[index] to component index (0-based) of every repetition."""
    reps = []
    for rep in field.split(rep_sep):
        comps = rep.split(comp_sep)
        for index, fix in fixes.items():
            if index < len(comps):
                comps[index] = fix(comps[index])
        reps.append(comp_sep.join(comps))
    return rep_sep.join(reps)


NAME_FIXES = {0: normalize_name, 1: normalize_name, 2: normalize_name}
PHONE_FIXES = {0: normalize_phone_number, 5: normalize_digits, 6: normalize_digits}


# The configuration lives at module level: componentize-py makes a new
# `Transformer` object for every exported call, so instance attributes do
# not survive from `configure` to `transform`.
test_family_names = list(DEFAULT_TEST_FAMILY_NAMES)


class Transformer(exports.Transformer):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="normalize",
            version="0.1.0",
            vendor="hl7wasm examples",
            description="Normalises patient names and phone numbers; filters test patients.",
            message_types=["*"],  # SPEC.md says "all"; the host reads an empty list as none
        )

    def configure(self, config_json: str) -> None:
        try:
            config = json.loads(config_json)
        except ValueError as error:
            raise Err(f"the configuration is not valid JSON: {error}")
        names = DEFAULT_TEST_FAMILY_NAMES
        # Like the Rust reference, a document that is not an object sets nothing.
        if isinstance(config, dict) and "test_family_names" in config:
            names = config["test_family_names"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise Err("test_family_names: expected a list of strings")
        global test_family_names
        test_family_names = [ascii_upper(n) for n in names]

    def transform(self, message: Message) -> Outcome:
        if message.content_type != HL7_V2:
            return Outcome_Forward([message])
        body = message.body
        # At least 8 UTF-8 bytes, like the Rust reference.
        if not body.startswith("MSH") or len(body.encode("utf-8")) < 8:
            raise Err(TransformError(ErrorKind.REJECT, "not an HL7 v2 message", None))
        if len(body) < 6:
            # 8 bytes but under 6 characters: no room for a PID segment.
            return Outcome_Forward([Message(HL7_V2, body)])
        field_sep, comp_sep, rep_sep = body[3], body[4], body[5]

        # Splitting on \r and joining again keeps a trailing \r exactly when
        # the input had one (the last item is then empty).
        segments = body.split("\r")
        first_family = None
        for i, segment in enumerate(segments):
            fields = segment.split(field_sep)
            if fields[0] != "PID":
                continue
            if len(fields) > 5:
                fields[5] = map_components(fields[5], rep_sep, comp_sep, NAME_FIXES)
            for n in (13, 14):
                if len(fields) > n:
                    fields[n] = map_components(fields[n], rep_sep, comp_sep, PHONE_FIXES)
            segments[i] = field_sep.join(fields)
            if first_family is None:
                # A missing PID-5.1 counts as empty.
                first_family = fields[5].split(rep_sep)[0].split(comp_sep)[0] if len(fields) > 5 else ""

        if first_family is not None and first_family in test_family_names:
            return Outcome_Filter("test patient")
        return Outcome_Forward([Message(HL7_V2, "\r".join(segments))])
