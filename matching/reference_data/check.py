#!/usr/bin/env python3
"""Validate the IPC ↔ GB/T 4754-2017 concordance in this folder (stdlib only).

Checks ipc_industry.csv and sources.json against the code lists in
marketplace/reference_data (ipc.csv, gbt4754_2017.csv):
  * UTF-8 without BOM, LF line ends, exact header row, no surrounding whitespace
  * ipc_prefix is an IPC class or subclass listed in ipc.csv, or a main-group
    (H01M10) or subgroup (H01M10/052) prefix in the project's compact form whose
    subclass is listed there
  * industry_code is a GB/T 4754-2017 division, group or class in gbt4754_2017.csv
  * weight is a decimal in (0, 1]; source and note are not empty
  * no duplicate (ipc_prefix, industry_code) pair
  * every IPC class has a class-level row
  * row_count and counts_by_level equal those in sources.json; sources.json has
    the expected keys, a Chinese note for each English one and each weight
    explained in Chinese (notes_zh, weights_zh), and names no URL
  * spot checks: longest-prefix lookups that the matching engine relies on

Exit status 0 when everything passes, 1 otherwise.
"""

import csv
import io
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKETPLACE_REF = HERE.parent.parent / "marketplace" / "reference_data"

CONCORDANCE = "ipc_industry.csv"
SOURCES = "sources.json"
HEADER = ["ipc_prefix", "industry_code", "weight", "source", "note"]
SOURCES_KEYS = ["standard", "version", "source", "row_count", "counts_by_level", "notes"]

CLASS_RE = re.compile(r"^[A-H][0-9]{2}$")
SUBCLASS_RE = re.compile(r"^[A-H][0-9]{2}[A-Z]$")
# Compact form of marketplace.patents.ipc: no spaces, no leading zeros in the main group.
GROUP_RE = re.compile(r"^(?P<subclass>[A-H][0-9]{2}[A-Z])[1-9][0-9]{0,3}$")
SUBGROUP_RE = re.compile(r"^(?P<subclass>[A-H][0-9]{2}[A-Z])[1-9][0-9]{0,3}/[0-9]{2,6}$")
WEIGHT_RE = re.compile(r"^(?:0\.[0-9]*[1-9][0-9]*|1(?:\.0+)?)$")
INDUSTRY_LEVELS = ("division", "group", "class")
URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://|\bwww\.", re.IGNORECASE)

# (IPC symbol in compact form, GB/T code of a company) pairs that must be related:
# the longest matching prefix must have a row whose code is the company's code, one of
# its ancestors, or one of its descendants.
SPOT_CHECKS = [
    ("H01M10/052", "C3841"),  # lithium-ion cells → 锂离子电池制造
    ("H01M4/525", "C3841"),
    ("H01M50/409", "C3841"),
    ("H01M", "C3841"),
    ("H10K50/11", "C3974"),  # OLED → 显示器件制造
    ("G09G3/32", "C3974"),
    ("G02F1/1333", "C3974"),
    ("H01L27/32", "C3974"),
    ("H01L51/50", "C3974"),
    ("H01L33/00", "C3975"),
    ("H01L21/02", "C3973"),
    ("H10D30/60", "C3972"),
    ("D01H1/00", "C17"),  # textiles D01-D06 → 纺织业
    ("D02G3/00", "C17"),
    ("D03D15/00", "C17"),
    ("D04B1/00", "C17"),
    ("D05B1/00", "C17"),
    ("D06P1/00", "C17"),
    ("D06M13/00", "C17"),
    ("G06F16/00", "I65"),  # software → 软件和信息技术服务业
    ("G06F9/455", "I65"),
    ("G06Q50/00", "I65"),
    ("G06N3/08", "I65"),
    ("H04L67/10", "I65"),
    ("H04L9/32", "I65"),
    ("A61K31/00", "C27"),  # pharmaceuticals → 医药制造业
    ("A61K36/00", "C27"),
    ("A61P35/00", "C27"),
    ("C07D401/00", "C27"),
    ("B60L53/00", "C36"),  # electric vehicles → 汽车制造业
    ("B60L50/00", "C36"),
    ("H04W72/00", "I63"),  # telecom
    ("H04W72/00", "C392"),
    ("H04L5/00", "C392"),
    ("A01B1/00", "C35"),  # agriculture
    ("A01G9/00", "A01"),
    ("C08L23/00", "C265"),  # polymers
    ("C08J5/00", "C29"),
]


class Checker:
    def __init__(self):
        self.errors = []

    def fail(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # -- inputs ------------------------------------------------------------
    def load_reference(self, name, key):
        path = MARKETPLACE_REF / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(name, f"cannot read {path}: {exc}")
            return {}
        return {row[key]: row for row in csv.DictReader(io.StringIO(text, newline=""))}

    def read_concordance(self):
        path = HERE / CONCORDANCE
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.fail(CONCORDANCE, f"cannot read: {exc}")
            return []
        if raw.startswith(b"\xef\xbb\xbf"):
            self.fail(CONCORDANCE, "starts with a UTF-8 BOM")
        if b"\r" in raw:
            self.fail(CONCORDANCE, "contains CR characters (line ends must be LF)")
        if not raw.endswith(b"\n"):
            self.fail(CONCORDANCE, "does not end with a newline")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(CONCORDANCE, f"not valid UTF-8: {exc}")
            return []
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows:
            self.fail(CONCORDANCE, "empty file")
            return []
        if rows[0] != HEADER:
            self.fail(CONCORDANCE, f"header is {rows[0]}, expected {HEADER}")
            return []
        out = []
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(HEADER):
                self.fail(CONCORDANCE, f"line {line}: {len(row)} fields, expected {len(HEADER)}")
                continue
            rec = dict(zip(HEADER, row, strict=True))
            for key, value in rec.items():
                if value != value.strip():
                    self.fail(CONCORDANCE, f"line {line}: {key} has surrounding whitespace")
            rec["_line"] = str(line)
            out.append(rec)
        return out

    def load_sources(self):
        path = HERE / SOURCES
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.fail(SOURCES, f"cannot load: {exc}")
            return {}
        if raw.startswith(b"\xef\xbb\xbf"):
            self.fail(SOURCES, "starts with a UTF-8 BOM")
        if URL_RE.search(raw.decode("utf-8", "replace")):
            self.fail(SOURCES, "contains a URL; name the source instead")
        meta = data.get(CONCORDANCE) if isinstance(data, dict) else None
        if not isinstance(meta, dict):
            self.fail(SOURCES, f"no entry for {CONCORDANCE}")
            return {}
        for key in SOURCES_KEYS:
            if key not in meta:
                self.fail(SOURCES, f"{CONCORDANCE}: missing key {key!r}")
            elif key in ("standard", "version", "source") and not meta[key]:
                self.fail(SOURCES, f"{CONCORDANCE}: {key!r} is empty")
        if not isinstance(meta.get("notes"), list) or not meta.get("notes"):
            self.fail(SOURCES, f"{CONCORDANCE}: 'notes' must be a non-empty list")
        # People read the notes in either language: one Chinese note for each English one.
        if len(meta.get("notes_zh") or []) != len(meta.get("notes") or []):
            self.fail(
                SOURCES, f"{CONCORDANCE}: 'notes_zh' does not have one note per 'notes' entry"
            )
        if set(meta.get("weights_zh") or {}) != set(meta.get("weights") or {}):
            self.fail(SOURCES, f"{CONCORDANCE}: 'weights_zh' does not explain each weight")
        return meta

    # -- checks ------------------------------------------------------------
    def prefix_level(self, prefix, ipc):
        """Return class/subclass/group/subgroup, or None when the prefix is not valid."""
        if CLASS_RE.match(prefix):
            return "class" if ipc.get(prefix, {}).get("level") == "class" else None
        if SUBCLASS_RE.match(prefix):
            return "subclass" if ipc.get(prefix, {}).get("level") == "subclass" else None
        for level, regex in (("group", GROUP_RE), ("subgroup", SUBGROUP_RE)):
            match = regex.match(prefix)
            if match:
                subclass = ipc.get(match["subclass"], {})
                return level if subclass.get("level") == "subclass" else None
        return None

    def check_rows(self, rows, ipc, gbt):
        counts = {"class": 0, "subclass": 0, "group": 0, "subgroup": 0}
        seen = set()
        for r in rows:
            line, prefix, code = r["_line"], r["ipc_prefix"], r["industry_code"]
            level = self.prefix_level(prefix, ipc)
            if level is None:
                self.fail(
                    CONCORDANCE,
                    f"line {line}: ipc_prefix {prefix!r} is not a known IPC "
                    "class or subclass, nor a group of a known subclass in compact form",
                )
            else:
                counts[level] += 1
            entry = gbt.get(code)
            if entry is None or entry["level"] not in INDUSTRY_LEVELS:
                self.fail(
                    CONCORDANCE,
                    f"line {line}: industry_code {code!r} is not a GB/T "
                    "4754-2017 division, group or class in gbt4754_2017.csv",
                )
            if not WEIGHT_RE.match(r["weight"]):
                self.fail(CONCORDANCE, f"line {line}: weight {r['weight']!r} is not in (0, 1]")
            for key in ("source", "note"):
                if not r[key]:
                    self.fail(CONCORDANCE, f"line {line}: empty {key}")
            pair = (prefix, code)
            if pair in seen:
                self.fail(CONCORDANCE, f"line {line}: duplicate pair {prefix} → {code}")
            seen.add(pair)
        covered = {r["ipc_prefix"] for r in rows}
        for symbol, entry in ipc.items():
            if entry.get("level") == "class" and symbol not in covered:
                self.fail(CONCORDANCE, f"IPC class {symbol} has no class-level row")
        return counts

    def check_sources(self, meta, rows, counts):
        if not meta:
            return
        if meta.get("row_count") != len(rows):
            self.fail(SOURCES, f"row_count is {meta.get('row_count')}, file has {len(rows)} rows")
        if meta.get("counts_by_level") != counts:
            self.fail(
                SOURCES, f"counts_by_level is {meta.get('counts_by_level')}, file has {counts}"
            )

    @staticmethod
    def level_prefixes(symbol):
        """H01M10/052 → [H01M10/052, H01M10, H01M, H01], as marketplace.patents.ipc does."""
        out = [symbol]
        if "/" in symbol:
            out.append(symbol.split("/", 1)[0])
        match = re.match(r"^([A-H][0-9]{2})([A-Z]?)", symbol)
        if match and match[2]:
            out.append(match[1] + match[2])
        if match:
            out.append(match[1])
        return list(dict.fromkeys(out))

    def check_spots(self, rows):
        by_prefix: dict[str, list[str]] = {}
        for r in rows:
            by_prefix.setdefault(r["ipc_prefix"], []).append(r["industry_code"])
        for symbol, company in SPOT_CHECKS:
            hit = next((p for p in self.level_prefixes(symbol) if p in by_prefix), None)
            if hit is None:
                self.fail("spot check", f"{symbol} has no matching prefix")
                continue
            codes = by_prefix[hit]
            if not any(c.startswith(company) or company.startswith(c) for c in codes):
                self.fail(
                    "spot check", f"{symbol} (matched {hit}: {codes}) is not related to {company}"
                )

    def run(self):
        ipc = self.load_reference("ipc.csv", "symbol")
        gbt = self.load_reference("gbt4754_2017.csv", "code")
        rows = self.read_concordance()
        meta = self.load_sources()
        if ipc and gbt and rows:
            counts = self.check_rows(rows, ipc, gbt)
            self.check_sources(meta, rows, counts)
            self.check_spots(rows)
        return not self.errors


def main():
    checker = Checker()
    ok = checker.run()
    for err in checker.errors:
        print(f"FAIL {err}")
    if ok:
        print(f"reference data OK: {CONCORDANCE}, {SOURCES}")
        return 0
    print(f"{len(checker.errors)} problem(s) found")
    return 1


if __name__ == "__main__":
    sys.exit(main())
