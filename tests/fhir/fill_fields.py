"""Writes variants of the corpus's messages whose empty fields are filled
with values of their HL7 data type, to map fields the corpus leaves empty.

Usage: python3 fill_fields.py CORPUS_DIR OUT_DIR [--count N] [--seed S] [--fill P]
Each field of a segment that the HL7 v2-to-FHIR IG maps
(CORPUS_DIR/mappings/hl7-v2-to-fhir/segments/*.csv give its data type) is
filled, when empty, with probability P (and replaced with P / 6) by a value
of that type: composite types down to subcomponents with components left
out at random, times of every precision with and without an offset,
numbers with signs and odd decimals, text with escapes and non-ASCII
letters. OBX get a value of a random value type (OBX-2 and OBX-5 together),
units, reference ranges and result statuses. MSH-1, -2, -9, -10, -12, -18
and -20 stay as they are. The same arguments write the same files.
"""

import argparse
import csv
import random
import re
from pathlib import Path

# The components of composite types (v2.5.1 to v2.8), by type.
COMPONENTS = {
    "CX": "ST ST ID HD ID HD DT DT CWE CWE", "HD": "IS ST ID",
    "XPN": "FN ST ST ST ST IS ID ID CWE DR ID DR ST ST ST", "FN": "ST ST ST ST ST",
    "XAD": "SAD ST ST ST ST ID ID ST IS IS ID DR DTM DTM ST ST ST ST ST ST", "SAD": "ST ST ST",
    "XTN": "ST ID ID ST NM NM NM NM ST ST ST ST DTM DTM ST ST NM NM",
    "CWE": "ST ST ID ST ST ID ST ST ST ST ST ID ST ST ID ST ST ID ST ST ST ST",
    "CE": "ST ST ID ST ST ID", "CF": "ST ST ID ST ST ID ST ST ST",
    "XCN": "ST FN ST ST ST ST IS IS HD ID ST ID ID HD ID ID DR ID DTM DTM ST CWE CWE",
    "XON": "ST IS NM NM ID HD ID HD ID ST", "PL": "HD HD HD HD IS IS HD IS ST EI",
    "EI": "ST IS ST ID", "EIP": "EI EI", "CQ": "NM CWE", "SN": "ST NM ST NM", "DR": "DTM DTM",
    "MSG": "ID ID ID", "PT": "ID ID", "VID": "ID CWE CWE", "ED": "HD ID ID ID TX",
    "RP": "ST HD ID ID", "MO": "NM ID", "CP": "MO ID NM NM CWE ID", "DLN": "ST IS DT",
    "PPN": "ST FN ST ST ST ST IS IS HD ID ST ID ID HD ID ID DR ID DTM", "FC": "IS DTM",
    "JCC": "IS IS TX", "CNN": "ST ST ST ST ST ST IS IS IS ID",
    "NDL": "CNN DTM DTM IS IS IS IS IS HD IS IS", "TS": "DTM ID",
    "TQ": "CQ ST ST DTM DTM ST ST TX ST ST ST ST", "DLD": "CWE DTM", "AUI": "ST DT ST",
    "DDI": "NM MO NM", "EIS": "EI DTM", "SPS": "CWE CWE CWE CWE CWE CWE CWE",
    "OSP": "CWE DT DT", "RI": "IS ST", "PLN": "ST CWE ST DT", "CCD": "ID DTM",
    "DIN": "DTM CWE", "MOC": "MO CWE", "MOP": "ID NM CWE", "ICD": "CWE ID DTM",
    "PIP": "CWE CWE DT DT EI", "LA2": "PL IS XON XAD XTN ID NM NM NM NM",
}
COMPONENTS["CNE"] = COMPONENTS["CWE"]
WORDS = ["Alpha", "beta", "O'Neil", "Müller", "José", "Straße", "naïve", "12B", "St. Mary's",
         "X-ray", "#4", "50%", "a/b", "ÅÄÖ", "東京", "dose (mg)", "<5", ">=10"]
ESCAPES = ["\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\.br\\", "\\X41\\", "\\H\\", "\\N\\"]
CODES = ["A", "B", "C", "D", "F", "I", "M", "N", "O", "P", "R", "S", "U", "X", "Y", "Z", "AB",
         "ER", "NE", "AL", "SU", "H", "L", "HH", "LL", "MR", "SS", "PRN", "PH", "CP", "FX",
         "Internet", "NET", "WPN", "HL70001", "LN", "SCT", "I10", "99ZZZ", "ISO", "DNS", "CD",
         "NW", "CA", "SC", "RE", "IP", "CM"]
VALUE_TYPES = ["ST", "NM", "SN", "CWE", "CE", "CNE", "TX", "FT", "DT", "TM", "DTM", "TS", "ED",
               "RP", "CQ", "NA", "MA", "ID", "IS", "XAD", "XPN", "XTN", "XCN", "CX", "HD", "EI",
               "PN", "DR", "CP", "MO", "CF"]
# Fields kept: the encoding, the type, the control id, the version, the
# character set and the message profile steer how a message is read.
KEPT = {"MSH": {1, 2, 9, 10, 12, 18, 20}, "OBX": {2, 5}}


def field_types(tables: Path) -> dict:
    """{segment: {field number: (data type, max cardinality)}} from the IG's tables."""
    types = {}
    for table in sorted(tables.glob("*.csv")):
        with table.open(encoding="utf-8", errors="replace", newline="") as rows:
            for row in list(csv.reader(rows))[2:]:
                if len(row) > 5 and re.fullmatch(r"[A-Z0-9]{3}-\d+", row[1].strip()):
                    segment, number = row[1].strip().split("-")
                    types.setdefault(segment, {}).setdefault(
                        int(number), (row[3].strip(), row[5].strip()))
    return types


class Filler:
    def __init__(self, types, seed, fill):
        self.types, self.random, self.fill = types, random.Random(seed), fill

    def time(self, date_only=False):
        r = self.random
        text = "%04d%02d%02d%02d%02d%02d" % (r.randint(1900, 2030), r.randint(1, 12),
                                             r.randint(1, 28), r.randint(0, 23),
                                             r.randint(0, 59), r.randint(0, 59))
        digits = r.choice([4, 6, 8, 10, 12, 14, 14, 14, 16, 18, 19])
        if date_only:
            return text[:min(digits, 8)]
        text = text[:min(digits, 14)]
        if digits > 14:
            text += "." + "".join(r.choice("0123456789") for _ in range(digits - 15 or 1))
        if digits >= 10 and r.random() < 0.6:
            text += r.choice("+-") + "%02d%02d" % (r.randint(0, 12), r.choice([0, 30, 45]))
        return text

    def number(self):
        r = self.random
        return r.choice(["", "-", "+"]) + str(r.randint(0, 999)) + r.choice(["", ".5", ".25", ".", ".000"])

    def primitive(self, kind):
        r = self.random
        if kind in ("DTM", "TS"):
            return self.time()
        if kind in ("DT", "DATE"):
            return self.time(date_only=True)
        if kind == "TM":
            return "%02d%02d" % (r.randint(0, 23), r.randint(0, 59)) + r.choice(["", "00", "30.5", "15+0100"])
        if kind == "SI":
            return str(r.randint(1, 30))
        if kind == "NM":
            return self.number()
        if kind in ("ID", "IS"):
            return r.choice(CODES)
        text = " ".join(r.choice(WORDS) for _ in range(r.randint(1, 3)))
        if r.random() < 0.2:
            text += r.choice(ESCAPES) + r.choice(WORDS)
        return text

    def value(self, kind, depth=0):
        parts = COMPONENTS.get(kind)
        if not parts or depth >= 2:
            return self.primitive(kind)
        parts = parts.split()[: self.random.randint(1, len(parts.split()))]
        separator = "^" if depth == 0 else "&"
        return separator.join(
            "" if self.random.random() < 0.25 else self.value(part, depth + 1) for part in parts
        ).rstrip(separator)

    def observation(self, fields):
        r = self.random
        kind = r.choice(VALUE_TYPES)
        fields.extend([""] * (12 - len(fields)))
        fields[2] = kind
        if kind == "SN":
            fields[5] = "^".join([r.choice(["", "<", ">", "<=", ">=", "="]), self.number(),
                                  r.choice(["", "-", ":", "/", "+", "."]),
                                  r.choice(["", self.number()])])
        elif kind == "ED":
            fields[5] = "^".join(["", r.choice(["TEXT", "AP", "IM", "application"]),
                                  r.choice(["", "PDF", "pdf", "octet-stream", "RTF"]),
                                  r.choice(["Base64", "A", "Hex", "", "base64"]),
                                  r.choice(["SGVsbG8=", "48656C6C6F", "not base64!", ""])])
        elif kind in ("NA", "MA"):
            fields[5] = "^".join(self.number() for _ in range(r.randint(1, 4)))
        else:
            fields[5] = "~".join(self.value(kind) for _ in range(r.choice([1, 1, 1, 2, 3])))
        if r.random() < 0.5:
            fields[6] = self.value("CWE")
        if r.random() < 0.5:
            fields[7] = r.choice(["10-20", "<5", ">=3.5", "neg", "-5--1", "20-10", "3.5-", "-"])
        if r.random() < 0.5:
            fields[11] = r.choice(["F", "P", "C", "X", "I", "D", "R", "S", "W", "N", "U", "", "Z"])

    def segment(self, segment):
        fields = segment.split("|")
        name = fields[0]
        # MSH-1 is the field separator itself, so MSH-n is fields[n - 1].
        shift = 1 if name == "MSH" else 0
        for number, (kind, most) in self.types.get(name, {}).items():
            if number in KEPT.get(name, ()):
                continue
            at = number - shift
            fields.extend([""] * (at + 1 - len(fields)))
            r = self.random
            if (fields[at] == "" and r.random() < self.fill) or r.random() < self.fill / 6:
                repeats = 1 if most == "1" or r.random() < 0.7 else r.randint(2, 3)
                fields[at] = "~".join(self.value(kind) for _ in range(repeats))
        if name == "OBX" and self.random.random() < 0.6:
            self.observation(fields)
        return "|".join(fields)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fill", type=float, default=0.7)
    args = parser.parse_args()
    filler = Filler(field_types(args.corpus / "mappings/hl7-v2-to-fhir/segments"),
                    args.seed, args.fill)
    messages = sorted(p for p in (args.corpus / "hl7v2").rglob("*.hl7") if p.is_file())
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for n in range(args.count):
        source = filler.random.choice(messages)
        text = source.read_bytes().decode("utf-8", "replace")
        segments = [s for s in re.split(r"\r\n|\r|\n", text) if s]
        # Only messages with the usual encoding characters (fields are split on "|").
        if not segments or not segments[0].startswith("MSH|^~\\&"):
            continue
        filled = "\r".join(filler.segment(s) for s in segments) + "\r"
        (args.out / f"{n:05}_{source.name}").write_text(filled, encoding="utf-8")
        written += 1
    print(f"wrote {written} messages")


if __name__ == "__main__":
    main()
