"""Reference tables: GB/T 4754-2017 industries and GB/T 2260 regions, with their sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command

from marketplace.models import Industry, ReferenceTable, Region
from marketplace.reference import DATA_DIR, TABLES, load_reference_tables
from tests.conftest import ROLES, World

pytestmark = pytest.mark.django_db

SOURCES = json.loads((DATA_DIR / "sources.json").read_text(encoding="utf-8"))


def test_tables_are_loaded_by_migration_with_source_and_version() -> None:
    industries = ReferenceTable.objects.get(key="gbt4754")
    regions = ReferenceTable.objects.get(key="gbt2260")
    assert industries.standard == "GB/T 4754-2017"
    assert (
        industries.row_count == Industry.objects.count() == SOURCES["gbt4754_2017.csv"]["row_count"]
    )
    assert regions.standard.startswith("GB/T 2260")
    assert regions.row_count == Region.objects.count() == SOURCES["gbt2260.csv"]["row_count"]
    assert industries.source and regions.source and industries.version and regions.version


def test_industry_levels_match_the_standard() -> None:
    counts = {
        level: Industry.objects.filter(level=level).count()
        for level in ("section", "division", "group", "class")
    }
    assert counts["section"] == 20
    assert counts["division"] == 97
    assert counts == SOURCES["gbt4754_2017.csv"]["counts_by_level"]
    battery = Industry.objects.get(code="C3841")
    assert (battery.name_zh, battery.parent_id, battery.parent.parent_id) == (  # type: ignore[union-attr]
        "锂离子电池制造",
        "C384",
        "C38",
    )
    assert not Industry.objects.filter(level__in=["section", "division"], name_en="").exists()


def test_regions_form_a_tree_of_provinces() -> None:
    assert Region.objects.filter(level="province").count() == 34
    xuanwu = Region.objects.get(code="320102")
    assert (xuanwu.name_zh, xuanwu.parent_id) == ("玄武区", "320100")
    assert Region.objects.get(code="320100").parent_id == "320000"


def test_reloading_unchanged_files_is_a_no_op() -> None:
    before = ReferenceTable.objects.get(key="gbt4754").loaded_at
    assert load_reference_tables(lambda name: apps.get_model("marketplace", name)) == []
    assert ReferenceTable.objects.get(key="gbt4754").loaded_at == before
    call_command("load_reference_data", "--force", verbosity=0)
    assert ReferenceTable.objects.get(key="gbt4754").loaded_at > before
    assert Industry.objects.count() == SOURCES["gbt4754_2017.csv"]["row_count"]


@pytest.mark.parametrize("role", ROLES)
def test_reference_endpoints_are_public(world: World, role: str) -> None:
    client = world.client(role)
    divisions = client.get("/api/v1/reference/industries/", {"parent": "C", "page_size": "5"})
    assert divisions.status_code == 200
    assert [item["code"] for item in divisions.json()["results"]] == [
        "C13",
        "C14",
        "C15",
        "C16",
        "C17",
    ]
    tables = client.get("/api/v1/reference/tables/")
    assert [table["key"] for table in tables.json()] == [
        "gbt2260",
        "gbt4754",
        "ipc",
        "search_terms",
        "synonyms",
    ]


def test_industry_search_and_detail() -> None:
    from tests.conftest import client_for

    client = client_for(None)
    found = client.get("/api/v1/reference/industries/", {"q": "锂离子"}).json()["results"]
    assert "C3841" in [item["code"] for item in found]
    detail = client.get("/api/v1/reference/industries/C3841/").json()
    assert detail == {
        "code": "C3841",
        "level": "class",
        "parent": "C384",
        "name_zh": "锂离子电池制造",
        "name_en": detail["name_en"],
    }
    counties = client.get("/api/v1/reference/regions/", {"parent": "320100"}).json()["results"]
    assert "320102" in [item["code"] for item in counties]
    bad_level = client.get("/api/v1/reference/regions/", {"level": "planet"})
    assert bad_level.status_code == 400
    assert bad_level.json()["fields"]["level"][0]["code"] == "invalid_choice"
    too_long = client.get("/api/v1/reference/industries/", {"q": "x" * 51})
    assert too_long.status_code == 400
    assert too_long.json()["fields"]["q"][0]["code"] == "max_length"


def test_shipped_files_pass_their_own_integrity_check() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(DATA_DIR / "check.py")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_notes_on_each_table_read_in_chinese_and_in_english() -> None:
    # Given the tables as the migrations loaded them, when the public lists them
    from tests.conftest import client_for

    tables = client_for(None).get("/api/v1/reference/tables/").json()

    # Then each English note has its Chinese one, in the same order
    files = {spec.key: spec.file_name for spec in TABLES}
    files |= {"synonyms": "synonyms.tsv", "search_terms": "search_terms.csv"}
    for table in tables:
        source = SOURCES[files[table["key"]]]
        assert table["notes"] == "\n".join(source["notes"])
        assert table["notes_zh"] == "\n".join(source["notes_zh"])
        lines = table["notes_zh"].split("\n")
        assert len(lines) == len(source["notes"]) > 0
        assert all(re.search(r"[\u4e00-\u9fff]{4}", line) for line in lines)


@pytest.mark.parametrize("app", ["marketplace", "licensing", "matching"])
def test_every_apps_reference_notes_read_in_chinese_too(app: str) -> None:
    # Given each app's sources.json (licensing's fee schedule, matching's concordance)
    folder = Path(apps.get_app_config(app).path) / "reference_data"
    sources = json.loads((folder / "sources.json").read_text(encoding="utf-8"))

    # Then every file's English notes have Chinese ones, one for one, and so do the weights
    for file_name, source in sources.items():
        assert len(source["notes_zh"]) == len(source["notes"]) > 0, file_name
        for note in source["notes_zh"]:
            assert re.search(r"[\u4e00-\u9fff]{4}", note), (file_name, note)
        if "weights" in source:
            assert set(source["weights_zh"]) == set(source["weights"])
            assert all(
                re.search(r"[\u4e00-\u9fff]{2}", text) for text in source["weights_zh"].values()
            )


def test_the_concordance_passes_its_own_integrity_check() -> None:
    import subprocess
    import sys

    check = Path(apps.get_app_config("matching").path) / "reference_data" / "check.py"
    result = subprocess.run(
        [sys.executable, str(check)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
