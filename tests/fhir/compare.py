"""Compares our bundles with Microsoft FHIR-Converter's expected outputs.

Usage: python3 compare.py OURS_DIR CORPUS_DIR [--min PERCENT]
For every CORPUS_DIR/expected/fhir-converter/NAME.json, reads our bundle
OURS_DIR/fhir-converter/NAME.json and measures agreement on key fields per
resource type. Resources of a type are paired by code (then in order; a
MedicationRequest by its Medication's code); a field
counts when either side has it, and agrees when both normalise to the same
value. Prints markdown tables; exits 1 when overall agreement < --min.
"""

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path


def when(text):
    """A dateTime as a UTC instant when it has a time, else as written."""
    if not isinstance(text, str):
        return None
    if "T" not in text:
        return text
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).isoformat() if moment.tzinfo else text


def same_time(a, b):
    """Equal instants, or equal dates when either side has only a date."""
    if a is None or b is None or ("T" in a) == ("T" in b):
        return a == b
    return a[:10] == b[:10]


def codes(concept):
    return frozenset(c.get("code") for c in (concept or {}).get("coding", []) if c.get("code")) or None


def value(obs):
    if "valueQuantity" in obs:
        return ("quantity", float(obs["valueQuantity"].get("value", "nan")))
    if "valueCodeableConcept" in obs:
        return ("code", codes(obs["valueCodeableConcept"]))
    if "valueString" in obs:
        return ("string", " ".join(obs["valueString"].split()))
    for key in ("valueDateTime", "valuePeriod", "valueRange", "valueRatio", "valueTime"):
        if key in obs:
            return (key, json.dumps(obs[key], sort_keys=True))
    if "component" in obs:
        return ("components", tuple(value(c) for c in obs["component"]))
    return None


FIELDS = {
    "Patient": {
        "identifiers": lambda r: frozenset(i.get("value") for i in r.get("identifier", [])) or None,
        "name": lambda r: frozenset(
            ((n.get("family") or "").lower(), tuple(g.lower() for g in n.get("given", [])))
            for n in r.get("name", [])
        ) or None,
        "birthDate": lambda r: r.get("birthDate"),
        "gender": lambda r: r.get("gender"),
        "address": lambda r: frozenset(
            (tuple(a.get("line", [])), (a.get("city") or "").strip(), a.get("state"), a.get("postalCode"))
            for a in r.get("address", [])
        ) or None,
        "telecom": lambda r: frozenset(t.get("value") for t in r.get("telecom", [])) or None,
    },
    "Encounter": {
        "class": lambda r: (r.get("class") or {}).get("code"),
        "status": lambda r: r.get("status"),
        "period.start": lambda r: when((r.get("period") or {}).get("start")),
        "period.end": lambda r: when((r.get("period") or {}).get("end")),
        "location": lambda r: tuple(sorted(l.get("status", "") for l in r.get("location", []))) or None,
    },
    "Observation": {
        "code": lambda r: codes(r.get("code")),
        "value": value,
        "unit": lambda r: (r.get("valueQuantity") or {}).get("unit"),
        "status": lambda r: r.get("status"),
        "effective": lambda r: when(r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start")),
    },
    "DiagnosticReport": {
        "code": lambda r: codes(r.get("code")),
        "status": lambda r: r.get("status"),
    },
    "Immunization": {
        "vaccineCode": lambda r: codes(r.get("vaccineCode")),
        "occurrence": lambda r: when(r.get("occurrenceDateTime")),
    },
    "MedicationRequest": {
        "medication": lambda r: codes(r.get("medicationCodeableConcept") or r.get("_medication")),
        "status": lambda r: r.get("status"),
        "intent": lambda r: r.get("intent"),
    },
    "AllergyIntolerance": {"code": lambda r: codes(r.get("code"))},
    "Condition": {"code": lambda r: codes(r.get("code"))},
}
TIME_FIELDS = {"period.start", "period.end", "effective", "occurrence"}
CODE_FIELD = {"Observation": "code", "DiagnosticReport": "code", "Immunization": "vaccineCode",
              "AllergyIntolerance": "code", "Condition": "code", "MedicationRequest": "medication"}


def resources(bundle, resource_type):
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == resource_type]


def pairs(ours, theirs, resource_type):
    """Pairs by shared code, then the rest in order; unpaired sides get None."""
    key = FIELDS[resource_type].get(CODE_FIELD.get(resource_type, ""), lambda r: None)
    left, result = list(theirs), []
    for mine in ours:
        match = next((t for t in left if key(mine) and key(t) and key(mine) & key(t)), None)
        if match is None and left and not CODE_FIELD.get(resource_type):
            match = left[0]
        if match is not None:
            left.remove(match)
        result.append((mine, match))
    return result + [(None, t) for t in left]


def inline_medications(bundle):
    """Copies each referenced Medication's code into its MedicationRequest
    (as `_medication`), found by fullUrl or by `Medication/id`."""
    by_reference = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Medication":
            by_reference[entry.get("fullUrl")] = resource
            by_reference[f"Medication/{resource.get('id')}"] = resource
    for request in resources(bundle, "MedicationRequest"):
        reference = (request.get("medicationReference") or {}).get("reference")
        if reference in by_reference:
            request["_medication"] = by_reference[reference].get("code")


def compare(ours, theirs, tally, per_message, message):
    for bundle in (ours, theirs):
        inline_medications(bundle)
    for resource_type, fields in FIELDS.items():
        for mine, other in pairs(resources(ours, resource_type), resources(theirs, resource_type), resource_type):
            for field, read in fields.items():
                a = read(mine) if mine else None
                b = read(other) if other else None
                if a is None and b is None:
                    continue
                agree = same_time(a, b) if field in TIME_FIELDS else a == b
                for counts in (tally[(resource_type, field)], per_message[(message, resource_type)]):
                    counts[0] += agree
                    counts[1] += 1


def percent(agree, total):
    return f"{100 * agree / total:.1f}%" if total else "n/a"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ours")
    parser.add_argument("corpus")
    parser.add_argument("--min", type=float, default=0.0)
    args = parser.parse_args()
    tally, per_message, missing = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0]), []
    for expected in sorted((Path(args.corpus) / "expected" / "fhir-converter").glob("*.json")):
        mine = Path(args.ours) / "fhir-converter" / expected.name
        if not mine.exists():
            missing.append(expected.stem)
            continue
        theirs = json.loads(expected.read_text(encoding="utf-8-sig"))
        compare(json.loads(mine.read_text(encoding="utf-8")), theirs, tally, per_message, expected.stem)
    print("| resource | field | compared | agree | agreement |\n|---|---|---:|---:|---:|")
    for (resource_type, field), (agree, total) in tally.items():
        print(f"| {resource_type} | {field} | {total} | {agree} | {percent(agree, total)} |")
    agree, total = sum(a for a, _ in tally.values()), sum(t for _, t in tally.values())
    print(f"| **all** | | {total} | {agree} | **{percent(agree, total)}** |\n")
    print("| message | resource | agree/compared |\n|---|---|---:|")
    for (message, resource_type), (a, t) in sorted(per_message.items()):
        print(f"| {message} | {resource_type} | {a}/{t} |")
    if missing:
        print(f"\nNot mapped (unsupported message types): {', '.join(missing)}")
    overall = 100 * agree / total if total else 0
    print(f"\noverall agreement: {overall:.1f}% (floor {args.min}%)")
    return 0 if overall >= args.min and total else 1


if __name__ == "__main__":
    sys.exit(main())
