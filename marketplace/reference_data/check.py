#!/usr/bin/env python3
"""Validate the reference data files in this folder (stdlib only).

Checks gbt4754_2017.csv, gbt2260.csv, ipc.csv and sources.json:
  * UTF-8 without BOM, LF line ends, exact header row
  * code format per level (regex), no duplicate codes, rows ordered by code
  * every parent_code exists and has the expected level
  * names non-empty; name_en present for every section and division
  * ipc.csv: sections exactly A..H, title_en and title_zh on every row, no references left
  * row counts and per-level counts equal to those in sources.json
  * a few sanity rows that other code relies on

Exit status 0 when everything passes, 1 otherwise.
"""

import csv
import io
import json
import os
import re
import sys
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))

GBT4754 = "gbt4754_2017.csv"
GBT2260 = "gbt2260.csv"
IPC = "ipc.csv"
SOURCES = "sources.json"

HEADERS = {
    GBT4754: ["code", "level", "parent_code", "name_zh", "name_en"],
    GBT2260: ["code", "level", "parent_code", "name_zh"],
    IPC: ["symbol", "level", "parent_symbol", "title_en", "title_zh"],
}

LEVELS_4754 = {
    "section": re.compile(r"^[A-T]$"),
    "division": re.compile(r"^[A-T]\d{2}$"),
    "group": re.compile(r"^[A-T]\d{3}$"),
    "class": re.compile(r"^[A-T]\d{4}$"),
}
PARENT_LEVEL_4754 = {"division": "section", "group": "division", "class": "group"}

LEVELS_2260 = {
    "province": re.compile(r"^\d{2}0000$"),
    "prefecture": re.compile(r"^\d{2}(?!00)\d{2}00$"),
    "county": re.compile(r"^\d{4}(?!00)\d{2}$"),
}

LEVELS_IPC = {
    "section": re.compile(r"^[A-H]$"),
    "class": re.compile(r"^[A-H][0-9]{2}$"),
    "subclass": re.compile(r"^[A-H][0-9]{2}[A-Z]$"),
}
PARENT_LEVEL_IPC = {"class": "section", "subclass": "class"}
# Titles are main titles only: references such as "(... C25B)" are removed in both languages.
IPC_FORBIDDEN_IN_TITLES = ("(", ")", "（", "）", "〔", "〕")
CJK = re.compile(r"[\u4e00-\u9fff]")

SOURCES_KEYS = [
    "standard",
    "title_zh",
    "title_en",
    "version",
    "source",
    "row_count",
    "counts_by_level",
    "notes",
]

SANITY_4754 = {
    "C": ("section", "", "制造业"),
    "C38": ("division", "C", "电气机械和器材制造业"),
    "C384": ("group", "C38", "电池制造"),
    "C3841": ("class", "C384", "锂离子电池制造"),
    "I651": ("group", "I65", "软件开发"),
    "I6513": ("class", "I651", "应用软件开发"),
}
SANITY_IPC = {
    "A": ("section", "", "HUMAN NECESSITIES", "人类生活必需"),
    "B": ("section", "", "PERFORMING OPERATIONS; TRANSPORTING", "作业；运输"),
    "C": ("section", "", "CHEMISTRY; METALLURGY", "化学；冶金"),
    "D": ("section", "", "TEXTILES; PAPER", "纺织；造纸"),
    "E": ("section", "", "FIXED CONSTRUCTIONS", "固定建筑物"),
    "F": (
        "section",
        "",
        "MECHANICAL ENGINEERING; LIGHTING; HEATING; WEAPONS; BLASTING",
        "机械工程；照明；加热；武器；爆破",
    ),
    "G": ("section", "", "PHYSICS", "物理"),
    "H": ("section", "", "ELECTRICITY", "电学"),
    "A61": ("class", "A", None, None),
    "A61K": ("subclass", "A61", None, None),
    "B60": ("class", "B", None, None),
    "B60L": ("subclass", "B60", None, None),
    "C07": ("class", "C", None, None),
    "C07D": ("subclass", "C07", "HETEROCYCLIC COMPOUNDS", "杂环化合物"),
    "G06": ("class", "G", None, None),
    "G06F": ("subclass", "G06", "ELECTRIC DIGITAL DATA PROCESSING", "电数字数据处理"),
    "G06N": ("subclass", "G06", None, None),
    "G06Q": ("subclass", "G06", None, None),
    "H01": ("class", "H", "ELECTRIC ELEMENTS", None),
    "H01L": ("subclass", "H01", None, None),
    "H01M": (
        "subclass",
        "H01",
        "PROCESSES OR MEANS, e.g. BATTERIES, FOR THE DIRECT CONVERSION OF CHEMICAL ENERGY INTO "
        "ELECTRICAL ENERGY",
        "用于直接转变化学能为电能的方法或装置，例如电池组",
    ),
    "H04": ("class", "H", None, None),
    "H04L": ("subclass", "H04", None, None),
    "H04W": ("subclass", "H04", "WIRELESS COMMUNICATION NETWORKS", "无线通信网络"),
}
SANITY_2260 = {
    "110000": ("province", "", "北京市"),
    "320000": ("province", "", "江苏省"),
    "320100": ("prefecture", "320000", "南京市"),
    "320102": ("county", "320100", "玄武区"),
    "440300": ("prefecture", "440000", "深圳市"),
    "710000": ("province", "", "台湾省"),
    "810000": ("province", "", "香港特别行政区"),
    "820000": ("province", "", "澳门特别行政区"),
}


class Checker:
    def __init__(self):
        self.errors = []

    def fail(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # -- generic ---------------------------------------------------------
    def read_csv(self, name):
        path = os.path.join(HERE, name)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            self.fail(name, f"cannot read: {exc}")
            return []
        if raw.startswith(b"\xef\xbb\xbf"):
            self.fail(name, "starts with a UTF-8 BOM")
        if b"\r" in raw:
            self.fail(name, "contains CR characters (line ends must be LF)")
        if not raw.endswith(b"\n"):
            self.fail(name, "does not end with a newline")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(name, f"not valid UTF-8: {exc}")
            return []
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = list(reader)
        if not rows:
            self.fail(name, "empty file")
            return []
        if rows[0] != HEADERS[name]:
            self.fail(name, f"header is {rows[0]}, expected {HEADERS[name]}")
            return []
        width = len(HEADERS[name])
        out = []
        for i, row in enumerate(rows[1:], start=2):
            if len(row) != width:
                self.fail(name, f"line {i}: {len(row)} fields, expected {width}")
                continue
            rec = dict(zip(HEADERS[name], row, strict=True))
            for key, value in rec.items():
                if value != value.strip():
                    self.fail(name, f"line {i}: {key} has surrounding whitespace")
            rec["_line"] = str(i)
            out.append(rec)
        return out

    def check_tree(
        self,
        name,
        rows,
        level_re,
        parent_level,
        root_level,
        keys=("code", "parent_code", "name_zh"),
    ):
        code_key, parent_key, name_key = keys
        by_code = {}
        prev = None
        for r in rows:
            code, level, line = r[code_key], r["level"], r["_line"]
            if level not in level_re:
                self.fail(name, f"line {line}: unknown level {level!r}")
            elif not level_re[level].match(code):
                self.fail(name, f"line {line}: code {code!r} does not match level {level}")
            if code in by_code:
                self.fail(name, f"line {line}: duplicate code {code}")
            by_code[code] = r
            if prev is not None and code <= prev:
                self.fail(name, f"line {line}: not ordered by code ({prev} then {code})")
            prev = code
            if not r[name_key]:
                self.fail(name, f"line {line}: empty {name_key}")
        for r in rows:
            code, level, parent, line = r[code_key], r["level"], r[parent_key], r["_line"]
            if level == root_level:
                if parent:
                    self.fail(name, f"line {line}: {level} {code} must have an empty {parent_key}")
                continue
            if level not in parent_level:
                continue
            allowed = parent_level[level]
            if isinstance(allowed, str):
                allowed = (allowed,)
            if not parent:
                self.fail(name, f"line {line}: {code} has no {parent_key}")
                continue
            p = by_code.get(parent)
            if p is None:
                self.fail(name, f"line {line}: parent {parent} of {code} does not exist")
                continue
            if p["level"] not in allowed:
                self.fail(
                    name,
                    f"line {line}: parent {parent} of {code} is a {p['level']}, "
                    f"expected {' or '.join(allowed)}",
                )
            if not code.startswith(self.parent_prefix(name, parent, p["level"])):
                self.fail(
                    name,
                    f"line {line}: code {code} does not start with its parent's prefix {parent}",
                )
        return by_code

    @staticmethod
    def parent_prefix(name, parent, parent_level):
        if name == GBT2260:
            return parent[:2] if parent_level == "province" else parent[:4]
        return parent

    def check_counts(self, name, rows, meta, levels):
        counts = dict.fromkeys(levels, 0)
        for r in rows:
            if r["level"] in counts:
                counts[r["level"]] += 1
        if meta.get("row_count") != len(rows):
            self.fail(name, f"{len(rows)} rows, sources.json says {meta.get('row_count')}")
        if meta.get("counts_by_level") != counts:
            self.fail(
                name, f"counts by level {counts}, sources.json says {meta.get('counts_by_level')}"
            )
        return counts

    def check_sanity(self, name, by_code, expected):
        for code, (level, parent, name_zh) in expected.items():
            r = by_code.get(code)
            if r is None:
                self.fail(name, f"sanity row {code} missing")
                continue
            got = (r["level"], r["parent_code"], r["name_zh"])
            if got != (level, parent, name_zh):
                self.fail(name, f"sanity row {code} is {got}, expected {(level, parent, name_zh)}")

    # -- files -----------------------------------------------------------
    def load_sources(self):
        path = os.path.join(HERE, SOURCES)
        try:
            raw = Path(path).read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.fail(SOURCES, f"cannot load: {exc}")
            return {}
        if raw.startswith(b"\xef\xbb\xbf"):
            self.fail(SOURCES, "starts with a UTF-8 BOM")
        if not isinstance(data, dict):
            self.fail(SOURCES, "top level is not an object")
            return {}
        for fname in (GBT4754, GBT2260, IPC):
            meta = data.get(fname)
            if not isinstance(meta, dict):
                self.fail(SOURCES, f"no entry for {fname}")
                continue
            for key in SOURCES_KEYS:
                if key not in meta:
                    self.fail(SOURCES, f"{fname}: missing key {key!r}")
                elif key not in ("row_count", "counts_by_level", "notes") and not meta[key]:
                    self.fail(SOURCES, f"{fname}: {key!r} is empty")
            # People read the notes in either language: one Chinese note for each English one.
            if len(meta.get("notes_zh", [])) != len(meta.get("notes", [])):
                self.fail(SOURCES, f"{fname}: 'notes_zh' does not have one note per 'notes' entry")
        # Sources are named (repository and path, or package and version), never linked.
        if re.search(r"[a-z][a-z0-9+.-]*://", raw.decode("utf-8", "replace"), re.I):
            self.fail(SOURCES, "contains a URL; name the source instead")
        return data

    def check_4754(self, meta):
        rows = self.read_csv(GBT4754)
        if not rows:
            return
        by_code = self.check_tree(GBT4754, rows, LEVELS_4754, PARENT_LEVEL_4754, "section")
        for r in rows:
            if r["level"] in ("section", "division") and not r["name_en"]:
                self.fail(GBT4754, f"line {r['_line']}: {r['level']} {r['code']} has no name_en")
        # sections must be exactly A..T, divisions 01..97 with the right section
        sections = sorted(c for c, r in by_code.items() if r["level"] == "section")
        if sections != [chr(c) for c in range(ord("A"), ord("T") + 1)]:
            self.fail(GBT4754, f"sections are {sections}, expected A..T")
        divisions = sorted(c[1:] for c, r in by_code.items() if r["level"] == "division")
        if divisions != [f"{i:02d}" for i in range(1, 98)]:
            self.fail(GBT4754, "divisions are not exactly 01..97")
        self.check_counts(GBT4754, rows, meta, ["section", "division", "group", "class"])
        self.check_sanity(GBT4754, by_code, SANITY_4754)
        # every group has at least one class and every division at least one group
        has_child = {r["parent_code"] for r in rows}
        for c, r in by_code.items():
            if r["level"] != "class" and c not in has_child:
                self.fail(GBT4754, f"{r['level']} {c} has no children")

    def check_2260(self, meta):
        rows = self.read_csv(GBT2260)
        if not rows:
            return
        parent_level = {"prefecture": "province", "county": ("prefecture", "province")}
        by_code = self.check_tree(GBT2260, rows, LEVELS_2260, parent_level, "province")
        # a county must hang under its prefecture whenever that prefecture exists
        for r in rows:
            if r["level"] == "county":
                pref = r["code"][:4] + "00"
                if pref in by_code and r["parent_code"] != pref:
                    self.fail(
                        GBT2260, f"line {r['_line']}: county {r['code']} should have parent {pref}"
                    )
        provinces = [c for c, r in by_code.items() if r["level"] == "province"]
        if len(provinces) != 34:
            self.fail(GBT2260, f"{len(provinces)} provinces, expected 34")
        self.check_counts(GBT2260, rows, meta, ["province", "prefecture", "county"])
        self.check_sanity(GBT2260, by_code, SANITY_2260)

    def check_ipc(self, meta):
        rows = self.read_csv(IPC)
        if not rows:
            return
        keys = ("symbol", "parent_symbol", "title_zh")
        by_code = self.check_tree(IPC, rows, LEVELS_IPC, PARENT_LEVEL_IPC, "section", keys=keys)
        for r in rows:
            line, symbol = r["_line"], r["symbol"]
            if not r["title_en"]:  # an empty title_zh is already reported by check_tree
                self.fail(IPC, f"line {line}: empty title_en")
            for key in ("title_en", "title_zh"):
                if any(ch in r[key] for ch in IPC_FORBIDDEN_IN_TITLES):
                    self.fail(IPC, f"line {line}: {symbol} {key} still contains a reference")
            if r["title_zh"] and not CJK.search(r["title_zh"]):
                self.fail(IPC, f"line {line}: {symbol} title_zh has no Chinese characters")
        # sections must be exactly A..H (Y is a CPC section, not an IPC one)
        sections = sorted(c for c, r in by_code.items() if r["level"] == "section")
        if sections != list("ABCDEFGH"):
            self.fail(IPC, f"sections are {sections}, expected A..H")
        self.check_counts(IPC, rows, meta, ["section", "class", "subclass"])
        for code, (level, parent, title_en, title_zh) in SANITY_IPC.items():
            r = by_code.get(code)
            if r is None:
                self.fail(IPC, f"sanity row {code} missing")
                continue
            if (r["level"], r["parent_symbol"]) != (level, parent):
                self.fail(
                    IPC,
                    f"sanity row {code} is {(r['level'], r['parent_symbol'])}, "
                    f"expected {(level, parent)}",
                )
            for key, expected in (("title_en", title_en), ("title_zh", title_zh)):
                if expected is not None and r[key] != expected:
                    self.fail(IPC, f"sanity row {code}: {key} is {r[key]!r}, expected {expected!r}")
        # every section and class has at least one child
        has_child = {r["parent_symbol"] for r in rows}
        for c, r in by_code.items():
            if r["level"] != "subclass" and c not in has_child:
                self.fail(IPC, f"{r['level']} {c} has no children")

    def run(self):
        sources = self.load_sources()
        self.check_4754(sources.get(GBT4754, {}))
        self.check_2260(sources.get(GBT2260, {}))
        self.check_ipc(sources.get(IPC, {}))
        return not self.errors


def main():
    checker = Checker()
    ok = checker.run()
    for err in checker.errors:
        print(f"FAIL {err}")
    if ok:
        print("reference data OK: gbt4754_2017.csv, gbt2260.csv, ipc.csv, sources.json")
        return 0
    print(f"{len(checker.errors)} problem(s) found")
    return 1


if __name__ == "__main__":
    sys.exit(main())
