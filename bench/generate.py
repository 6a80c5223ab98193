"""Deterministic generator of realistic Chinese (≈85 %) and English (≈15 %) patents.

Every patent is drawn from one seeded random stream, so the first K rows of an N-row run are
the same as a K-row run. Text comes from two sources: technical terms curated per IPC section
(bench/vocab.py), and nouns of jieba's bundled segmentation dictionary (tags n/vn/nz, two or
more characters, weighted by the dictionary's frequency, technical-looking endings only).

Application numbers have the post-2003 form YYYY + type digit + 7-digit serial + check digit
(computed with marketplace.patents.numbers.check_digit); the year is the filing year, serials
are unique per (year, type) and start after `serial_offset`, so two benchmarks with different
offsets never share a number. Grants come 1-4 years after filing and never after 2026-11-01.

CLI: python bench/generate.py --rows 60000 --out bench/.data/patents.csv [--seed N]
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import os
import random
import sys
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import vocab  # noqa: E402
from marketplace.patents.numbers import check_digit  # noqa: E402
from marketplace.patents.terms import expiry_date  # noqa: E402

DEFAULT_SEED = 20261121
GRANT_CUTOFF = date(2026, 11, 1)
# The status date of the generated register: expiries before it are "expired".
STATUS_DATE = date(2026, 11, 21)
FIRST_YEAR, LAST_YEAR = 2005, 2024
IPC_CSV = ROOT / "marketplace" / "reference_data" / "ipc.csv"
CSV_HEADERS = (
    "申请号",
    "专利名称",
    "摘要",
    "主分类号",
    "其他分类号",
    "申请日",
    "授权公告日",
    "法律状态",
)
TYPES = (("invention", "1", 0.62), ("utility_model", "2", 0.33), ("design", "3", 0.05))
ZH_STATUS = {"in_force": "有效", "terminated": "终止", "expired": "期满"}
EN_STATUS = {"in_force": "in force", "terminated": "terminated", "expired": "expired"}
# Last characters that mark a dictionary noun as a thing, material, quantity or technique.
TECH_ENDINGS = frozenset(
    "器机剂料材体件板管线层膜液物度率量术统构置备路网码据号能质素酸盐碱油气电光热力波频片头"
    "轮轴杆架座壳盖腔孔槽阀泵箱柜仪表端芯极桩罐炉塔釜池粉纤胶漆泥钢铁铝铜硅碳氧氢氮磷硫钙钠"
    "钾镁锌锂钛镍钴锰酶菌苷肽醇酯醚醛酮烷烯炔胺"
)


class Weighted:
    """Items with cumulative weights, for fast repeated weighted draws."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]

    def distinct(self, rng: random.Random, count: int) -> list[Any]:
        chosen: list[Any] = []
        while len(chosen) < min(count, len(self.items)):
            item = self.pick(rng)
            if item not in chosen:
                chosen.append(item)
        return chosen


def _a(phrase: str) -> str:
    """The phrase with its indefinite article."""
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def zipf(items: Sequence[Any], exponent: float = 0.8) -> Weighted:
    return Weighted(items, [1 / (rank + 1) ** exponent for rank in range(len(items))])


@lru_cache(maxsize=1)
def dictionary_nouns() -> Weighted:
    """Technical-looking nouns of jieba's dictionary, weighted by their frequency."""
    import jieba

    from marketplace.search.segment import STOPWORDS

    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    words: list[str] = []
    weights: list[float] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) != 3:
                continue
            word, freq, tag = parts
            if (
                tag in ("n", "vn", "nz")
                and 2 <= len(word) <= 4
                and word[-1] in TECH_ENDINGS
                and word not in vocab.NOUN_BLOCKLIST
                and word not in STOPWORDS
            ):
                words.append(word)
                weights.append(float(freq))
    return Weighted(words, weights)


def known_subclasses() -> set[str] | None:
    """Subclasses of marketplace/reference_data/ipc.csv, or None while that file is missing."""
    if not IPC_CSV.exists():
        return None
    with IPC_CSV.open(encoding="utf-8", newline="") as handle:
        return {row["symbol"] for row in csv.DictReader(handle) if row["level"] == "subclass"}


def usable_subclasses(allowed: Collection[str] | None = None) -> dict[str, list[str]]:
    """Section → curated subclasses, restricted to ipc.csv when it exists."""
    allowed = known_subclasses() if allowed is None else allowed
    by_section: dict[str, list[str]] = {}
    for subclass in vocab.IPC_GROUPS:
        if allowed is None or subclass in allowed:
            by_section.setdefault(subclass[0], []).append(subclass)
    missing = set(vocab.SECTION_WEIGHTS) - set(by_section)
    if missing:
        raise SystemExit(f"ipc.csv has none of the curated subclasses of section(s) {missing}")
    return by_section


@dataclass(frozen=True)
class GeneratedPatent:
    application_number: str  # canonical, with the dot: 202110123456.7
    patent_type: str
    language: str  # "zh" or "en"
    title: str
    abstract: str
    main_ipc: str
    further_ipcs: tuple[str, ...]
    filing_date: date
    grant_date: date | None
    legal_status: str
    section: str
    subclass: str


class PatentGenerator:
    """A seeded stream of patents; `serial_offset` separates the number spaces of two runs."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        serial_offset: int = 0,
        subclasses: Collection[str] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.serial_offset = serial_offset
        self.counters: dict[tuple[int, str], int] = {}
        self.by_section = usable_subclasses(subclasses)
        self.sections = Weighted(
            list(self.by_section), [vocab.SECTION_WEIGHTS[s] for s in self.by_section]
        )
        self.subclasses = {s: zipf(subs, 0.7) for s, subs in self.by_section.items()}
        self.zh_terms = {s: zipf(terms) for s, terms in vocab.ZH_TERMS.items()}
        self.en_terms = {s: zipf(terms) for s, terms in vocab.EN_TERMS.items()}
        self.types = Weighted([t[:2] for t in TYPES], [t[2] for t in TYPES])
        years = list(range(FIRST_YEAR, LAST_YEAR + 1))
        self.years = Weighted(years, [year - 2003 for year in years])
        self.nouns = dictionary_nouns()

    # ---- numbers, classes and dates -------------------------------------------------------

    def _number(self, year: int, type_digit: str) -> str:
        key = (year, type_digit)
        self.counters[key] = self.counters.get(key, 0) + 1
        serial = self.serial_offset + self.counters[key]
        if serial > 9_999_999:
            raise ValueError(f"serials of {key} exhausted; use a smaller serial_offset")
        digits = f"{year}{type_digit}{serial:07d}"
        return f"{digits}.{check_digit(digits)}"

    def _ipcs(self, section: str, subclass: str) -> tuple[str, tuple[str, ...]]:
        rng = self.rng
        main = f"{subclass} {rng.choice(vocab.IPC_GROUPS[subclass])}"
        further: list[str] = []
        for _ in range(rng.choices((0, 1, 2, 3), (35, 35, 20, 10))[0]):
            other = subclass if rng.random() < 0.7 else self.subclasses[section].pick(rng)
            symbol = f"{other} {rng.choice(vocab.IPC_GROUPS[other])}"
            if symbol != main and symbol not in further:
                further.append(symbol)
        return main, tuple(further)

    def _dates(self, patent_type: str) -> tuple[date, date | None, str]:
        rng = self.rng
        year = self.years.pick(rng)
        filing = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        longest = (GRANT_CUTOFF - filing).days
        shortest, usual = (365, 4 * 365) if patent_type == "invention" else (365, 2 * 365)
        grant = None
        if longest >= shortest:
            grant = filing + timedelta(days=rng.randint(shortest, min(usual, longest)))
        if expiry_date(patent_type, filing) < STATUS_DATE:
            status = "expired"
        else:
            status = "terminated" if rng.random() < 0.08 else "in_force"
        return filing, grant, status

    # ---- text -----------------------------------------------------------------------------

    def _zh_text(self, section: str, patent_type: str) -> tuple[str, str]:
        rng = self.rng
        terms = self.zh_terms[section]
        t1, t2, t3 = terms.distinct(rng, 3)
        obj = rng.choice(vocab.ZH_OBJECTS[section])
        if patent_type == "design":
            variant = rng.choice(("一", "二", "三", "A型", "B款", "便携款"))
            title = f"{t1}{obj}（{variant}）"
            text = (
                f"本外观设计产品的名称为{title}。本外观设计产品用于{t2}和{t3}领域，"
                f"用作{self.nouns.pick(rng)}的{obj}。设计要点在于产品的形状与图案的结合。"
                "最能表明设计要点的图片为立体图。"
            )
        else:
            if patent_type == "invention":
                pattern = rng.randrange(5)
                if pattern == 0 and section in "ACD":
                    title = f"一种{t1}{obj}及其制备方法"
                elif pattern == 1:
                    title = f"一种基于{t1}的{t2}{obj}"
                elif pattern == 2:
                    title = f"{t1}{obj}的{rng.choice(('制备', '控制', '检测', '处理'))}方法"
                elif pattern == 3:
                    title = f"一种用于{t1}的{t2}{obj}"
                else:
                    title = f"一种{t1}{t2}{obj}"
                lead = "本发明"
            else:
                title = rng.choice(
                    (f"一种{t1}{obj}", f"一种用于{t1}的{obj}", f"一种{t1}用{t2}{obj}")
                )
                lead = "本实用新型"
            core = title.removeprefix("一种")
            text = f"{lead}公开了一种{core}，"
        target = rng.randint(150, 300)
        while len(text) < target:
            sentence = self._zh_sentence(terms, obj)
            if len(text) + len(sentence) > 300:
                if len(text) >= 150:
                    break
                sentence = sentence[: 299 - len(text)] + "。"
            text += sentence
        if text.endswith("，"):
            text = text[:-1] + "。"
        return title, text

    def _zh_sentence(self, terms: Weighted, obj: str) -> str:
        rng = self.rng
        clauses = []
        for _ in range(rng.choice((1, 2, 2, 3))):
            t1, t2, t3 = terms.distinct(rng, 3)
            n1, n2 = self.nouns.pick(rng), self.nouns.pick(rng)
            quality = rng.choice(vocab.ZH_QUALITIES)
            verb = rng.choice(vocab.ZH_VERBS)
            clauses.append(
                rng.choice(
                    (
                        f"所述{obj}包括{t1}、{t2}和{n1}",
                        f"所述{t1}设置在{n1}的{rng.choice(vocab.ZH_POSITIONS)}",
                        f"所述{t1}与{t2}{verb}",
                        f"通过{t1}对{n1}进行{verb}",
                        f"能够有效提高{t1}的{quality}",
                        f"解决了现有{t1}{quality}不足的问题",
                        f"具有结构简单、{quality}高、{rng.choice(vocab.ZH_COSTS)}低的优点",
                        f"对{n1}进行{verb}，得到{t1}",
                        f"将{t1}与{n2}混合后{verb}",
                        f"实验表明，{t1}的{quality}提高了{rng.randint(5, 60)}%",
                        f"可广泛应用于{n1}及{t3}等领域",
                        f"采用{t1}作为{n1}，显著降低了{rng.choice(vocab.ZH_COSTS)}",
                        f"{n1}和{n2}之间设有{t1}",
                        f"所述{t2}的{n1}为{rng.randint(2, 95)}至{rng.randint(100, 900)}",
                    )
                )
            )
        return "，".join(clauses) + "。"

    def _en_text(self, section: str, patent_type: str) -> tuple[str, str]:
        rng = self.rng
        terms = self.en_terms[section]
        t1, t2 = terms.distinct(rng, 2)
        obj = rng.choice(vocab.EN_OBJECTS[section])
        if patent_type == "design":
            title = f"{t1} {obj} ({rng.choice(('I', 'II', 'III', 'portable'))})"
            text = f"The design relates to {_a(t1)} {obj} for use with {t2}. "
        else:
            title = rng.choice(
                (
                    f"{t1} {obj} and preparation method thereof",
                    f"{t1}-based {t2} {obj}",
                    f"{obj} for {t1}",
                    f"method for {rng.choice(vocab.EN_VERBS)} {t1} {obj}",
                    f"{t1} {t2} {obj}",
                )
            )
            kind = "invention" if patent_type == "invention" else "utility model"
            text = f"The {kind} discloses {_a(title)}. "
        title = title[0].upper() + title[1:]
        target = rng.randint(150, 300)
        while len(text) < target:
            a, b, c = terms.distinct(rng, 3)
            quality = rng.choice(vocab.EN_QUALITIES)
            sentence = rng.choice(
                (
                    f"The {obj} comprises {_a(a)}, {_a(b)} and {_a(c)}. ",
                    f"The {a} is connected to the {b}. ",
                    f"By means of the {a}, the {quality} of the {b} is improved. ",
                    f"The method comprises {rng.choice(vocab.EN_VERBS)} the {a} and "
                    f"{rng.choice(vocab.EN_VERBS)} the {b}. ",
                    f"It has a simple structure, low cost and high {quality}. ",
                    f"It can be used in the field of {a} and {c}. ",
                )
            )
            if len(text) + len(sentence) > 300 and len(text) >= 150:
                break
            text += sentence
        return title, text.strip()[:300]

    # ---- the stream -----------------------------------------------------------------------

    def patents(self, count: int) -> Iterator[GeneratedPatent]:
        rng = self.rng
        for _ in range(count):
            section = self.sections.pick(rng)
            subclass = self.subclasses[section].pick(rng)
            main, further = self._ipcs(section, subclass)
            patent_type, type_digit = self.types.pick(rng)
            filing, grant, status = self._dates(patent_type)
            language = "en" if rng.random() < 0.15 else "zh"
            if language == "en":
                title, abstract = self._en_text(section, patent_type)
            else:
                title, abstract = self._zh_text(section, patent_type)
            yield GeneratedPatent(
                application_number=self._number(filing.year, type_digit),
                patent_type=patent_type,
                language=language,
                title=title,
                abstract=abstract,
                main_ipc=main,
                further_ipcs=further,
                filing_date=filing,
                grant_date=grant,
                legal_status=status,
                section=section,
                subclass=subclass,
            )


# ---- import spreadsheet (CSV with the Chinese headers) -------------------------------------


def csv_row(patent: GeneratedPatent, rng: random.Random) -> list[str]:
    """One spreadsheet row, in the small variations real exports show (CN prefix, 2021.03.15)."""
    number = patent.application_number
    roll = rng.random()
    if roll < 0.03:
        number = f"CN{number}"
    elif roll < 0.06:
        number = number.replace(".", "")

    def day(value: date | None) -> str:
        if value is None:
            return ""
        return value.strftime("%Y.%m.%d") if rng.random() < 0.1 else value.isoformat()

    statuses = EN_STATUS if patent.language == "en" else ZH_STATUS
    return [
        number,
        patent.title,
        patent.abstract,
        patent.main_ipc,
        "; ".join(patent.further_ipcs),
        day(patent.filing_date),
        day(patent.grant_date),
        statuses[patent.legal_status],
    ]


def write_csv(
    out: TextIO, rows: int, *, seed: int = DEFAULT_SEED, serial_offset: int = 0
) -> dict[str, int]:
    """Write `rows` patents with the Chinese import headers; returns counts by language/type."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    variation = random.Random(seed + 1)
    counts: dict[str, int] = {}
    for patent in PatentGenerator(seed, serial_offset).patents(rows):
        writer.writerow(csv_row(patent, variation))
        for key in (patent.language, patent.patent_type):
            counts[key] = counts.get(key, 0) + 1
    return counts


# ---- rows for COPY into marketplace_patent --------------------------------------------------

COPY_COLUMNS = (
    "application_number",
    "patent_type",
    "is_pct",
    "title",
    "abstract",
    "claims",
    "main_ipc",
    "further_ipcs",
    "ipc_prefixes",
    "filing_date",
    "grant_date",
    "expiry_date",
    "publication_numbers",
    "legal_status",
    "is_suspended",
    "is_under_preservation",
    "title_tokens",
    "body_tokens",
    "gram_tokens",
    "is_listed",
    "created_at",
    "updated_at",
    "owner_id",
)


def model_row(
    patent: GeneratedPatent, *, owner_id: int, created_at: datetime, is_listed: bool = True
) -> tuple[Any, ...]:
    """Values in COPY_COLUMNS order, derived as clean_patent derives them."""
    from marketplace.patents.ipc import parse_ipc
    from marketplace.search.segment import index_grams, index_tokens

    symbols = [parse_ipc(patent.main_ipc), *(parse_ipc(s) for s in patent.further_ipcs)]
    prefixes = list(dict.fromkeys(p for symbol in symbols for p in symbol.prefixes))
    further = [s.canonical for s in symbols[1:] if s.canonical != symbols[0].canonical]
    return (
        patent.application_number,
        patent.patent_type,
        False,
        patent.title,
        patent.abstract,
        "",
        symbols[0].canonical,
        list(dict.fromkeys(further)),
        prefixes,
        patent.filing_date,
        patent.grant_date,
        expiry_date(patent.patent_type, patent.filing_date),
        [],
        patent.legal_status,
        False,
        False,
        index_tokens(patent.title),
        index_tokens(f"{patent.abstract}\n"),
        index_grams(f"{patent.title}\n{patent.abstract}"),
        is_listed,
        created_at,
        created_at,
        owner_id,
    )


# ---- queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchQuery:
    """A search as a user types it, with two filters."""

    q: str
    language: str
    filters: tuple[tuple[str, str], ...]  # (("ipc", "H01M"), ("patent_type", "invention"))

    def params(self) -> list[tuple[str, str]]:
        return [("q", self.q), *self.filters]

    def label(self) -> str:
        return f"{self.q} | " + " ".join(f"{k}={v}" for k, v in self.filters)


def make_queries(
    count: int,
    *,
    seed: int = DEFAULT_SEED + 7,
    subclasses: Collection[str] | None = None,
    provinces: Sequence[str] | None = None,
) -> list[BenchQuery]:
    """2-3 words of one section (as documents use them), half with IPC subclass + type, half
    with the owner's province + IPC section."""
    rng = random.Random(seed)
    generator = PatentGenerator(seed, 0, subclasses)
    province_codes = list(provinces or vocab.PROVINCE_WEIGHTS)
    regions = Weighted(
        province_codes, [vocab.PROVINCE_WEIGHTS.get(code, 0.1) for code in province_codes]
    )
    queries: list[BenchQuery] = []
    seen: set[str] = set()
    while len(queries) < count:
        section = generator.sections.pick(rng)
        language = "en" if rng.random() < 0.15 else "zh"
        terms = (generator.en_terms if language == "en" else generator.zh_terms)[section]
        words = terms.distinct(rng, rng.choice((2, 2, 3)))
        filters: tuple[tuple[str, str], ...]
        if len(queries) % 2 == 0:
            patent_type = "invention" if rng.random() < 0.7 else "utility_model"
            subclass = generator.subclasses[section].pick(rng)
            filters = (("ipc", subclass), ("patent_type", patent_type))
        else:
            filters = (("region", regions.pick(rng)), ("ipc", section))
        query = BenchQuery(" ".join(words), language, filters)
        if query.label() not in seen:
            seen.add(query.label())
            queries.append(query)
    return queries


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="patents to write (1000)")
    parser.add_argument("--out", default="-", help="CSV file to write, '-' for stdout")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--serial-offset",
        type=int,
        default=0,
        help="first serial minus one, per filing year and type (keeps runs apart)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.out == "-":
        counts = write_csv(sys.stdout, args.rows, seed=args.seed, serial_offset=args.serial_offset)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8", newline="") as handle:
            counts = write_csv(handle, args.rows, seed=args.seed, serial_offset=args.serial_offset)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
    print(f"{args.rows} rows in {elapsed:.1f} s ({summary})", file=sys.stderr)
    if known_subclasses() is None:
        print("note: ipc.csv is missing; all curated subclasses were used", file=sys.stderr)


if __name__ == "__main__":
    main()
