"""Validates FHIR R4 bundles with the fhir.resources package (R4B models).

Usage: python3 validate.py DIR
Checks every DIR/**/*.json: the Bundle, then each entry's resource against its
own model, then what the models leave out: the Bundle invariants bdl-3,
bdl-7 and bdl-12, no empty element anywhere (ele-1), that every urn:uuid:
reference names an entry of the bundle, and the resource invariants that
mappers break most (see RESOURCE_RULES).
Prints one line per invalid file and exits 1 when there is any.
"""

import json
import sys
from datetime import datetime
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


def problems(bundle: dict) -> list[str]:
    """The validation errors of a bundle and of each of its resources."""
    found = []
    resources = [("Bundle", bundle)] + [
        (f"entry[{i}]", entry.get("resource", {}))
        for i, entry in enumerate(bundle.get("entry", []))
    ]
    for where, resource in resources:
        try:
            get_fhir_model_class(resource.get("resourceType", "")).model_validate(resource)
        except (ValidationError, KeyError, ValueError) as error:
            found.append(f"{where} {resource.get('resourceType')}: {error}")
    return found


def references(node):
    """Every `reference` string anywhere under `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def empty_elements(node, path="Bundle"):
    """The paths of empty objects, arrays and strings, and nulls, under
    `node`: FHIR's ele-1 wants a value or children in every element."""
    if isinstance(node, dict):
        if not node:
            yield path
        for key, value in node.items():
            yield from empty_elements(value, f"{path}.{key}")
    elif isinstance(node, list):
        if not node:
            yield path
        for i, value in enumerate(node):
            yield from empty_elements(value, f"{path}[{i}]")
    elif node is None or (isinstance(node, str) and not node.strip()):
        yield path


def codes(concept):
    return {coding.get("code") for coding in (concept or {}).get("coding", [])}


def has_value(resource):
    return any(key.startswith("value") for key in resource)


def periods_in_order(node):
    """per-1 for every Period under `node`: a start not after its end, two
    dateTimes compared to the coarser precision (an end `2024` covers the
    whole year), instants by their moment."""
    if isinstance(node, dict):
        start, end = node.get("start"), node.get("end")
        if isinstance(start, str) and isinstance(end, str):
            moments = [datetime.fromisoformat(t.replace("Z", "+00:00")) if "T" in t else None
                       for t in (start, end)]
            if all(m is not None and m.tzinfo for m in moments):
                if moments[0] > moments[1]:
                    return False
            else:
                n = min(len(start), len(end), 10)
                if start[:n] > end[:n]:
                    return False
        return all(periods_in_order(value) for value in node.values())
    if isinstance(node, list):
        return all(periods_in_order(item) for item in node)
    return True


def contact_points(node):
    """Every ContactPoint-like object (a `value` beside `use` or `system`)."""
    if isinstance(node, dict):
        if "value" in node and ("use" in node or "system" in node) and "code" not in node:
            yield node
        for value in node.values():
            yield from contact_points(value)
    elif isinstance(node, list):
        for item in node:
            yield from contact_points(item)


def objects(node):
    """Every object under `node`, `node` included, with the key it is under."""
    stack = [(None, node)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            yield key, value
            stack.extend(value.items())
        elif isinstance(value, list):
            stack.extend((key, item) for item in value)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def holds_everywhere(rule):
    """A check that `rule(key, object)` holds for every object of a resource."""
    return lambda resource: all(rule(key, node) for key, node in objects(resource))


def quantity_coded_with_system(key, node):
    """qty-3: a Quantity with a unit code has its system."""
    return not (is_number(node.get("value")) and "code" in node) or "system" in node


def range_in_order(key, node):
    """rng-2: a Range's low is not above its high (in the same unit)."""
    low, high = node.get("low"), node.get("high")
    if not (isinstance(low, dict) and isinstance(high, dict)):
        return True
    if not (is_number(low.get("value")) and is_number(high.get("value"))):
        return True
    unit = lambda q: (q.get("system"), q.get("code") or q.get("unit"))
    return unit(low) != unit(high) or low["value"] <= high["value"]


def extension_has_value_or_children(key, node):
    """ext-1: an extension has nested extensions or a value, not both."""
    if key not in ("extension", "modifierExtension"):
        return True
    return ("extension" in node) != has_value(node)


def attachment_data_typed(key, node):
    """att-1: an Attachment with data has a content type."""
    return "data" not in node or "contentType" in node


def ratio_whole(key, node):
    """rat-1: a Ratio has both a numerator and a denominator, or neither."""
    if key not in ("valueRatio", "ratio"):
        return True
    return ("numerator" in node) == ("denominator" in node)


# Invariants of single resources, by the resource types they hold for:
# (name, check) where check(resource) is True when the rule holds.
RESOURCE_RULES = {
    "*": [
        ("per-1", periods_in_order),
        ("cpt-2", lambda r: all("system" in c for c in contact_points(r.get("telecom", [])))),
        ("qty-3", holds_everywhere(quantity_coded_with_system)),
        ("rng-2", holds_everywhere(range_in_order)),
        ("ext-1", holds_everywhere(extension_has_value_or_children)),
        ("att-1", holds_everywhere(attachment_data_typed)),
        ("rat-1", holds_everywhere(ratio_whole)),
    ],
    "Observation": [
        ("obs-3", lambda r: all(
            any(k in rr for k in ("low", "high", "text")) for rr in r.get("referenceRange", []))),
        ("obs-6", lambda r: not ("dataAbsentReason" in r and has_value(r))),
        ("obs-7", lambda r: not has_value(r) or not any(
            codes(c.get("code")) & codes(r.get("code")) for c in r.get("component", []))),
    ],
    "Patient": [
        ("pat-1", lambda r: all(
            any(k in c for k in ("name", "telecom", "address", "organization"))
            for c in r.get("contact", []))),
    ],
    "AllergyIntolerance": [
        ("ait-1", lambda r: "entered-in-error" in codes(r.get("verificationStatus"))
         or "clinicalStatus" in r),
        ("ait-2", lambda r: "entered-in-error" not in codes(r.get("verificationStatus"))
         or "clinicalStatus" not in r),
    ],
    "Condition": [
        ("con-3", lambda r: "clinicalStatus" in r
         or "entered-in-error" in codes(r.get("verificationStatus"))
         or not any("problem-list-item" in codes(c) for c in r.get("category", []))),
        ("con-4", lambda r: not any(k.startswith("abatement") for k in r)
         or codes(r.get("clinicalStatus")) & {"inactive", "resolved", "remission"}
         or "entered-in-error" in codes(r.get("verificationStatus"))),
        ("con-5", lambda r: "entered-in-error" not in codes(r.get("verificationStatus"))
         or "clinicalStatus" not in r),
    ],
    "Appointment": [
        ("apt-2", lambda r: ("start" in r) == ("end" in r)),
    ],
    "ServiceRequest": [
        ("prr-1", lambda r: "orderDetail" not in r or "code" in r),
    ],
}


def invariants(bundle: dict) -> list[str]:
    """Breaches of the Bundle invariants that the models do not check, and
    references to entries the bundle does not have."""
    found = []
    entries = bundle.get("entry", [])
    full_urls = [entry.get("fullUrl") for entry in entries]
    if len(set(full_urls)) != len(full_urls):
        found.append("bdl-7: fullUrl repeated")
    if bundle.get("type") in ("transaction", "batch"):
        if any("request" not in entry for entry in entries):
            found.append("bdl-3: an entry of a transaction or batch has no request")
    if bundle.get("type") == "message":
        first = entries[0].get("resource", {}) if entries else {}
        if first.get("resourceType") != "MessageHeader":
            found.append("bdl-12: a message bundle must start with its MessageHeader")
    empty = list(empty_elements(bundle))
    if empty:
        found.append(f"ele-1: empty elements {empty[:5]}")
    for i, entry in enumerate(entries):
        resource = entry.get("resource", {})
        rules = RESOURCE_RULES["*"] + RESOURCE_RULES.get(resource.get("resourceType"), [])
        broken = [name for name, holds in rules if not holds(resource)]
        if broken:
            found.append(f"entry[{i}] {resource.get('resourceType')}: breaks {broken}")
    dangling = {r for r in references(entries) if r.startswith("urn:uuid:")} - set(full_urls)
    if dangling:
        found.append(f"references to no entry: {sorted(dangling)}")
    return found


def main(directory: str) -> int:
    files = sorted(Path(directory).rglob("*.json"))
    invalid = 0
    for path in files:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        found = problems(bundle) + invariants(bundle)
        if found:
            invalid += 1
            print(f"INVALID {path.name}:\n  " + "\n  ".join(found))
    print(f"validated {len(files)} bundles: {len(files) - invalid} valid, {invalid} invalid")
    return 1 if invalid or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
