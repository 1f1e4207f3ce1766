#!/usr/bin/env python3
"""Checks ACKs built by the hl7v2 crate with an independent parser (PyPI `hl7`).

Usage: check_ack.py DIR

DIR holds NAME.hl7 (one ACK, segments separated by CR) and NAME.json:
  {"segments": ["MSH", "MSA", ...],          # segment IDs in order
   "fields": {"MSH.F9": "ACK^A01^ACK", ...},  # python-hl7 paths -> raw text
   "unescaped": {"ERR.F8": "a | b", ...}}     # paths -> text after unescaping

Exits 0 when every expectation holds, 1 on a mismatch, 2 when `hl7` is missing.
"""

import json
import pathlib
import re
import sys

try:
    import hl7
except ImportError:
    print("the PyPI package `hl7` is required: pip install hl7", file=sys.stderr)
    sys.exit(2)


def read(message, accessor: str) -> str:
    """The raw text at an accessor; `SEG[k].Fn` alone means the whole field (python-hl7
    itself would give its first component)."""
    whole = re.fullmatch(r"([A-Z0-9]{3})(\d*)\.F(\d+)", accessor)
    if whole is None:
        return str(message[accessor])
    segment_id, occurrence, field = whole.groups()
    segment = message.segments(segment_id)[int(occurrence or 1) - 1]
    return str(segment[int(field)]) if int(field) < len(segment) else ""


def check(path: pathlib.Path) -> list[str]:
    text = path.read_bytes().decode("utf-8")
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    message = hl7.parse(text)
    problems = []
    ids = [str(segment[0]) for segment in message]
    if ids != expected["segments"]:
        problems.append(f"segments {ids} != {expected['segments']}")
    for accessor, want in expected.get("fields", {}).items():
        got = read(message, accessor)
        if got != want:
            problems.append(f"{accessor}: {got!r} != {want!r}")
    for accessor, want in expected.get("unescaped", {}).items():
        got = message.unescape(read(message, accessor))
        if got != want:
            problems.append(f"{accessor} (unescaped): {got!r} != {want!r}")
    return [f"{path.name}: {p}" for p in problems]


def main() -> int:
    directory = pathlib.Path(sys.argv[1])
    files = sorted(directory.glob("*.hl7"))
    if not files:
        print(f"no ACKs in {directory}", file=sys.stderr)
        return 1
    problems = [p for f in files for p in check(f)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"checked {len(files)} ACKs, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
