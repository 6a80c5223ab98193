"""The judged evaluation sets are well-formed, and the metric code computes what it says."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from bench import judged
from marketplace.patents.cleaning import PUBLICATION_RE
from marketplace.patents.numbers import parse_application_number

REFERENCE = Path(__file__).resolve().parent.parent / "marketplace" / "reference_data"
CSL_DEV = Path("/work/shared/data/csl/csl-dev.jsonl")

PATENTS = judged.patents()
QUERIES = judged.queries()
NEEDS = judged.needs()
PATENT_IDS = {p["id"] for p in PATENTS}


def _codes(name: str) -> set[str]:
    with (REFERENCE / name).open(encoding="utf-8") as handle:
        return {row[0] for row in csv.reader(handle)}


# ---- the patents ------------------------------------------------------------------------------


def test_patents_have_unique_ids_and_numbers_the_importer_accepts() -> None:
    assert len(PATENTS) >= 150
    assert len(PATENT_IDS) == len(PATENTS)
    numbers = [p["application_number"] for p in PATENTS]
    assert len(set(numbers)) == len(numbers)
    for patent in PATENTS:
        parsed = parse_application_number(patent["application_number"])
        assert parsed.canonical == patent["application_number"]
        assert parsed.patent_type == patent["patent_type"]
        assert patent["filing_date"].startswith(str(parsed.year))
        assert patent["publication_numbers"]
        assert all(PUBLICATION_RE.match(n) for n in patent["publication_numbers"])
        assert patent["title"].strip() and patent["abstract"].strip()
        assert re.fullmatch(r"[A-H][0-9]{2}[A-Z][0-9]{1,4}/[0-9]{2,6}", patent["main_ipc"])
    publications = [n for p in PATENTS for n in p["publication_numbers"]]
    assert len(set(publications)) == len(publications)


def test_patents_come_from_hand_and_from_csl_with_valid_regions() -> None:
    sources = Counter("csl" if p["source"].startswith("csl-dev-") else p["source"] for p in PATENTS)
    assert sources == {"hand-written": 79, "csl": 79}
    provinces = _codes("gbt2260.csv")
    assert all(p["province"] in provinces for p in PATENTS if p["province"])


@pytest.mark.skipif(not CSL_DEV.exists(), reason="the shared CSL split is not on this machine")
def test_csl_patents_keep_the_papers_text() -> None:
    papers = {}
    for line in CSL_DEV.read_text(encoding="utf-8").splitlines():
        paper = json.loads(line)
        papers[paper["id"]] = paper
    for patent in PATENTS:
        if patent["source"].startswith("csl-dev-"):
            paper = papers[patent["source"]]
            assert (patent["title"], patent["abstract"]) == (paper["title"], paper["abstract"])
            assert patent["id"] == "CSL-" + patent["source"][-4:]


# ---- queries and needs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "groups"), [(QUERIES, judged.QUERY_GROUPS), (NEEDS, judged.NEED_GROUPS)]
)
def test_groups_have_ten_each_and_every_judgment_resolves(
    rows: list[dict[str, object]], groups: tuple[str, ...]
) -> None:
    assert Counter(row["group"] for row in rows) == dict.fromkeys(groups, 10)
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        judgments = row["judgments"]
        assert isinstance(judgments, dict)
        assert set(judgments) <= PATENT_IDS, row["id"]
        assert all(grade in (1, 2, 3) for grade in judgments.values()), row["id"]
        assert judged.relevant_ids(judgments), f"{row['id']} has no relevant patent"


def test_no_query_is_written_twice() -> None:
    texts = [re.sub(r"\s+", "", q["query"]).lower() for q in QUERIES]
    assert len(set(texts)) == len(texts)
    titles = [n["title"] for n in NEEDS]
    assert len(set(titles)) == len(titles)


def test_each_number_query_names_its_one_patent() -> None:
    by_id = {p["id"]: p for p in PATENTS}
    for query in (q for q in QUERIES if q["group"] == "number"):
        (target,) = query["judgments"]
        patent = by_id[target]
        compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query["query"])).upper()
        digits = re.sub(r"^(ZL|CN)", "", compact).replace(".", "")
        application = patent["application_number"].replace(".", "")
        assert (
            compact in patent["publication_numbers"]
            or digits == application
            or digits == application[:-1]  # the check digit left off
        ), query["id"]


def test_needs_carry_consistent_smes_and_two_needs_smes_have_two() -> None:
    industries = _codes("gbt4754_2017.csv")
    provinces = _codes("gbt2260.csv")
    smes: dict[str, dict[str, str]] = {}
    counts: Counter[str] = Counter()
    for need in NEEDS:
        sme = need["sme"]
        assert smes.setdefault(sme["id"], sme) == sme
        counts[sme["id"]] += 1
        assert sme["industry"] in industries and sme["province"] in provinces
        assert need["keywords"] and need["description"].strip()
        assert need["language"] == ("en" if need["group"] == "en" else "zh")
    for need in NEEDS:
        assert counts[need["sme"]["id"]] == (2 if need["group"] == "two_needs" else 1)


# ---- the metrics, on a hand-computed example --------------------------------------------------


def test_metrics_on_a_hand_computed_ranking() -> None:
    # Ranked a, b, c; b is graded 3 and d (not ranked) 2; a and c are not judged (0).
    ranking = ["a", "b", "c"]
    judgments = {"b": 3, "d": 2}
    # DCG = 3 / log2(3) = 1.892789; ideal = 3 / log2(2) + 2 / log2(3) = 4.261860.
    assert judged.ndcg_at(ranking, judgments) == pytest.approx(0.444123, abs=1e-6)
    assert judged.reciprocal_rank(ranking, judgments) == 0.5
    assert judged.recall_at(ranking, judgments) == 0.5
    assert judged.first_hit(ranking, judgments) == 0.0
    assert judged.precision_at(ranking, judgments) == pytest.approx(0.2)
    assert judged.ndcg_at(["b", "d"], judgments) == pytest.approx(1.0)
    assert judged.first_hit(["b"], judgments) == 1.0
    # Grade 1 is related, not relevant: it counts in nDCG only.
    assert judged.reciprocal_rank(["e"], {"e": 1}) == 0.0
    assert judged.ndcg_at(["e"], {"e": 1}) == pytest.approx(1.0)
    assert judged.ndcg_at([], judgments) == 0.0


def test_evaluate_averages_per_group_and_overall() -> None:
    items = [
        {"id": "q1", "group": "x", "judgments": {"a": 3}},
        {"id": "q2", "group": "x", "judgments": {"b": 3}},
        {"id": "q3", "group": "y", "judgments": {"c": 2}},
    ]
    scores = judged.evaluate({"q1": ["a"], "q2": ["z", "b"], "q3": []}, items)
    assert scores.get("x", "MRR") == pytest.approx(0.75)
    assert scores.get("y", "MRR") == 0.0
    assert scores.get("all", "MRR") == pytest.approx(0.5)
    assert scores.get("x", "first hit") == 0.5


def test_bm25_baseline_ranks_by_character_bigrams() -> None:
    rows = [
        {"id": "battery", "title": "一种锂电池正极材料", "abstract": "提高锂电池的循环寿命。"},
        {"id": "display", "title": "一种显示面板", "abstract": "有机发光显示。"},
        {"id": "textile", "title": "一种阻燃面料", "abstract": "棉织物阻燃整理。"},
    ]
    baseline = judged.Bm25Baseline(rows)
    assert baseline.rank("锂电池") == ["battery"]
    assert baseline.rank("阻燃棉织物")[0] == "textile"
    assert baseline.rank("lithium") == []
