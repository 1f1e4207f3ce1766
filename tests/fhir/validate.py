"""Validates FHIR R4 bundles with the fhir.resources package (R4B models).

Usage: python3 validate.py DIR
Checks every DIR/**/*.json: the Bundle, then each entry's resource against its
own model. Prints one line per invalid file and exits 1 when there is any.
"""

import json
import sys
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


def main(directory: str) -> int:
    files = sorted(Path(directory).rglob("*.json"))
    invalid = 0
    for path in files:
        found = problems(json.loads(path.read_text(encoding="utf-8")))
        if found:
            invalid += 1
            print(f"INVALID {path.name}:\n  " + "\n  ".join(found))
    print(f"validated {len(files)} bundles: {len(files) - invalid} valid, {invalid} invalid")
    return 1 if invalid or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
