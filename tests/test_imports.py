"""Bulk import from CSV and XLSX: template, row errors, all-or-nothing, re-import, refusals."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from marketplace.models import ImportJob, Patent, PatentCoOwner, PatentEvent
from marketplace.search.segment import index_grams
from marketplace.services.imports import import_job_create, import_run
from tests.conftest import ROLES, World, client_for
from tests.factories import OrganisationFactory, application_number, make_patent

pytestmark = pytest.mark.django_db

HEADERS_ZH = [
    "申请号",
    "专利名称",
    "摘要",
    "主分类号",
    "其他分类号",
    "申请日",
    "授权公告日",
    "法律状态",
]


def row(serial: int, **overrides: str) -> list[str]:
    values = {
        "申请号": application_number(2021, "1", serial),
        "专利名称": f"一种锂离子电池正极材料及其制备方法{serial}",
        "摘要": "本发明公开了一种高镍正极材料的包覆方法。",
        "主分类号": "H01M 4/525",
        "其他分类号": "H01M 10/0525",
        "申请日": "2021-03-15",
        "授权公告日": "2023-06-20",
        "法律状态": "有效",
    }
    values.update(overrides)
    return [values[header] for header in HEADERS_ZH]


def csv_bytes(
    rows: list[list[str]], headers: list[str] = HEADERS_ZH, encoding: str = "utf-8"
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], headers: list[str] = HEADERS_ZH) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(headers)
    for values in rows:
        sheet.append(values)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def run(world: World, data: bytes, name: str = "portfolio.csv", **options: Any) -> ImportJob:
    job = import_job_create(
        actor=world.university_member,
        organisation_id=world.university.pk,
        upload=io.BytesIO(data),
        file_name=name,
        size=len(data),
        all_or_nothing=options.get("all_or_nothing", False),
        enqueue=False,
    )
    return import_run(job_id=job.pk)


def test_good_rows_are_imported_and_bad_rows_reported_by_row_and_column(world: World) -> None:
    data = csv_bytes(
        [
            row(1),
            row(2, 申请号="202110000002.5"),
            row(3, 主分类号="battery"),
            row(4, 申请日="2021-13-01"),
            row(5),
        ]
    )
    job = run(world, data)
    assert (job.status, job.total_rows, job.created_count, job.error_count) == (
        "succeeded_with_errors",
        5,
        2,
        3,
    )
    assert [(e["row"], e["column"], e["code"]) for e in job.errors] == [
        (3, "申请号", "application_number_check_digit"),
        (4, "主分类号", "invalid_ipc"),
        (5, "申请日", "invalid_date"),
    ]
    assert set(Patent.objects.values_list("application_number", flat=True)) == {
        application_number(2021, "1", 1),
        application_number(2021, "1", 5),
    }
    assert PatentEvent.objects.filter(verb="imported").count() == 2


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(world: World) -> None:
    job = run(world, csv_bytes([row(1), row(2, 主分类号="battery")]), all_or_nothing=True)
    assert (job.status, job.error_count, job.created_count) == ("failed", 1, 0)
    assert not Patent.objects.exists()


def test_importing_the_same_file_again_updates_instead_of_duplicating(world: World) -> None:
    first = run(world, csv_bytes([row(1), row(2)]))
    assert (first.created_count, first.updated_count) == (2, 0)
    before = Patent.objects.get(application_number=application_number(2021, "1", 1))
    assert not Patent.objects.filter(pk=before.pk, search_vector="改进").exists()
    second = run(world, csv_bytes([row(1, 专利名称="一种改进的正极材料"), row(2), row(3)]))
    assert (second.created_count, second.updated_count) == (1, 2)
    assert Patent.objects.count() == 3
    after = Patent.objects.get(application_number=application_number(2021, "1", 1))
    assert after.pk == before.pk
    assert after.title == "一种改进的正极材料"
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
    # The generated search vector follows the new title (the upsert goes through COPY).
    assert Patent.objects.filter(pk=after.pk, search_vector="改进").exists()


def test_a_patent_of_another_organisation_is_not_taken_over(world: World) -> None:
    make_patent(world.sme, 1)
    job = run(world, csv_bytes([row(1), row(2)]))
    assert [(e["row"], e["code"]) for e in job.errors] == [
        (2, "patent_owned_by_another_organisation")
    ]
    assert (
        Patent.objects.get(application_number=application_number(2021, "1", 1)).owner == world.sme
    )


def test_duplicate_rows_in_one_file_are_reported(world: World) -> None:
    job = run(world, csv_bytes([row(1), row(1)]))
    assert [(e["row"], e["code"]) for e in job.errors] == [(3, "duplicate_in_file")]
    assert Patent.objects.count() == 1


def test_co_owners_by_name_or_credit_code(world: World) -> None:
    partner = OrganisationFactory.create(name="合作研究院")
    headers = [*HEADERS_ZH, "共有人"]
    job = run(
        world,
        csv_bytes(
            [[*row(1), partner.name], [*row(2), partner.credit_code], [*row(3), "不存在的机构"]],
            headers=headers,
        ),
    )
    assert [(e["row"], e["code"]) for e in job.errors] == [(4, "unknown_co_owner")]
    assert PatentCoOwner.objects.filter(organisation=partner).count() == 2


def test_xlsx_with_english_headers_and_real_dates(world: World) -> None:
    from datetime import date

    headers = ["application_number", "title", "main_ipc", "filing_date", "grant_date", "notes"]
    job = run(
        world,
        xlsx_bytes(
            [
                [
                    application_number(2021, "1", 7),
                    "Solid electrolyte",
                    "H01M 10/0562",
                    date(2021, 5, 10),
                    date(2023, 8, 1),
                    "ignored",
                ]
            ],
            headers=headers,
        ),
        name="portfolio.xlsx",
    )
    assert (job.status, job.created_count, job.ignored_columns) == ("succeeded", 1, ["notes"])
    assert Patent.objects.get().grant_date == date(2023, 8, 1)


def test_gb18030_csv_from_chinese_excel_is_read(world: World) -> None:
    job = run(world, csv_bytes([row(1)], encoding="gb18030"))
    assert (job.status, job.created_count) == ("succeeded", 1)


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"\xff\xfe\x00a\x00b", "portfolio.csv", "import_wrong_encoding"),
        ("申请号,摘要\n202110123456.7,x\n".encode(), "portfolio.csv", "import_missing_columns"),
        (b"%PDF-1.7 not a spreadsheet", "portfolio.pdf", "import_not_a_spreadsheet"),
        (b"not a zip", "portfolio.xlsx", "import_not_a_spreadsheet"),
        (b"PK\x03\x04broken zip", "portfolio.xlsx", "import_not_a_spreadsheet"),
        (b"", "portfolio.csv", "empty"),
    ],
)
def test_malformed_files_are_refused_and_change_nothing(
    world: World, data: bytes, name: str, code: str
) -> None:
    response = client_for(world.university_member).post(
        "/api/v1/patent-imports/",
        {"organisation": world.university.pk, "file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert code in (body["code"], body["fields"].get("file", [{}])[0].get("code"))
    assert not ImportJob.objects.exists()
    assert not Patent.objects.exists()


def test_files_over_the_size_limit_are_refused(world: World, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 100
    response = client_for(world.university_member).post(
        "/api/v1/patent-imports/",
        {
            "organisation": world.university.pk,
            "file": SimpleUploadedFile("a.csv", csv_bytes([row(1)])),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "import_file_too_large"
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_only_members_upload_and_read_imports(world: World, role: str) -> None:
    response = world.client(role).post(
        "/api/v1/patent-imports/",
        {
            "organisation": world.university.pk,
            "file": SimpleUploadedFile("a.csv", csv_bytes([row(1)])),
        },
        format="multipart",
    )
    if role in {"member", "org_admin"}:
        assert response.status_code == 202
        job_id = response.json()["id"]
        assert world.client(role).get(f"/api/v1/patent-imports/{job_id}/").status_code == 200
        assert (
            world.client("other_member").get(f"/api/v1/patent-imports/{job_id}/").status_code == 404
        )
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_templates_download_in_both_formats_and_import_cleanly(world: World, language: str) -> None:
    client = client_for(None)
    as_csv = client.get(
        "/api/v1/patent-imports/template/", {"file_format": "csv", "language": language}
    )
    assert as_csv.status_code == 200
    text = as_csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("申请号" if language == "zh" else "application_number")
    as_xlsx = client.get(
        "/api/v1/patent-imports/template/", {"file_format": "xlsx", "language": language}
    )
    workbook = load_workbook(io.BytesIO(as_xlsx.content))
    assert workbook.sheetnames == ["patents", "columns"]
    job = run(world, as_csv.content)
    assert (job.status, job.created_count) == ("succeeded", 1), job.errors
    job = run(world, as_xlsx.content, name="template.xlsx")
    assert (job.status, job.updated_count) == ("succeeded", 1), job.errors


def test_bad_template_query_is_refused() -> None:
    response = client_for(None).get("/api/v1/patent-imports/template/", {"file_format": "pdf"})
    assert response.status_code == 400
    assert response.json()["fields"]["file_format"][0]["code"] == "invalid_choice"


def test_management_command_imports_with_progress(world: World, tmp_path: Any) -> None:
    from django.core.management import call_command

    path = tmp_path / "portfolio.csv"
    path.write_bytes(csv_bytes([row(1), row(2)]))
    out = io.StringIO()
    call_command(
        "import_patents",
        str(path),
        organisation=world.university.pk,
        user=world.university_member.email,
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "created 2, updated 0, errors 0" in out.getvalue()
    assert Patent.objects.count() == 2


def queued(world: World, data: bytes) -> ImportJob:
    return import_job_create(
        actor=world.university_member,
        organisation_id=world.university.pk,
        upload=io.BytesIO(data),
        file_name="portfolio.csv",
        size=len(data),
        all_or_nothing=False,
        enqueue=False,
    )


def lose_worker(job: ImportJob, *, attempts: int, minutes_ago: int) -> None:
    """What a worker killed mid-run leaves: a running job whose heartbeat stopped."""
    from datetime import timedelta

    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(
        status="running",
        phase="writing",
        processed_rows=1,
        attempts=attempts,
        heartbeat_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_progress_beats_the_heart_and_counts_attempts(world: World) -> None:
    job = run(world, csv_bytes([row(1)]))
    assert job.attempts == 1
    assert job.heartbeat_at is not None and job.started_at is not None
    assert job.heartbeat_at >= job.started_at


def test_an_import_whose_worker_was_lost_is_queued_again_and_finishes(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    from marketplace.services.imports import imports_resume_stale

    job = queued(world, csv_bytes([row(1), row(2)]))
    lose_worker(job, attempts=1, minutes_ago=16)
    with django_capture_on_commit_callbacks() as callbacks:
        # (the callbacks are captured, not run: no message goes to the broker here)
        assert imports_resume_stale() == {"requeued": 1, "failed": 0}
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.phase, job.processed_rows) == ("queued", "queued", 0)
    # What the worker does with the message: the rerun imports every row.
    job = import_run(job_id=job.pk)
    assert (job.status, job.created_count, job.attempts) == ("succeeded", 2, 2)
    assert Patent.objects.filter(owner=world.university).count() == 2


def test_a_running_import_with_a_recent_heartbeat_is_left_alone(world: World) -> None:
    from marketplace.services.imports import imports_resume_stale

    job = queued(world, csv_bytes([row(1)]))
    lose_worker(job, attempts=1, minutes_ago=14)
    assert imports_resume_stale() == {"requeued": 0, "failed": 0}
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 1)


def test_an_import_lost_three_times_fails_with_a_reason(world: World) -> None:
    from marketplace.services.imports import imports_resume_stale

    job = queued(world, csv_bytes([row(1)]))
    lose_worker(job, attempts=3, minutes_ago=60)
    assert imports_resume_stale() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert (job.status, job.phase) == ("failed", "done")
    assert "3" in job.failure and job.finished_at is not None
    assert not Patent.objects.filter(owner=world.university).exists()


def test_a_column_absent_from_the_sheet_leaves_the_stored_value_alone(world: World) -> None:
    """Re-importing without 摘要 and 公开公告号 keeps the abstract and publication numbers;
    a present, empty cell clears; the history names each change, old and new."""
    headers = [*HEADERS_ZH, "公开公告号"]
    number = application_number(2021, "1", 1)
    run(world, csv_bytes([[*row(1), "CN114123456A"]], headers=headers))
    before = Patent.objects.get(application_number=number)
    assert (before.abstract, before.publication_numbers) == (
        "本发明公开了一种高镍正极材料的包覆方法。",
        ["CN114123456A"],
    )
    partner = OrganisationFactory.create(name="共有研究院")
    PatentCoOwner.objects.create(patent=before, organisation=partner)
    short = [h for h in HEADERS_ZH if h != "摘要"]
    values = dict(zip(HEADERS_ZH, row(1, 专利名称="一种改进的正极材料"), strict=True))
    job = run(world, csv_bytes([[values[h] for h in short]], headers=short))
    assert (job.status, job.updated_count) == ("succeeded", 1)
    after = Patent.objects.get(application_number=number)
    assert (after.title, after.abstract, after.publication_numbers) == (
        "一种改进的正极材料",
        "本发明公开了一种高镍正极材料的包覆方法。",
        ["CN114123456A"],
    )
    assert after.body_tokens == before.body_tokens  # derived from the kept abstract
    # The bigrams: of the new title and the kept abstract.
    assert after.gram_tokens == index_grams(
        "一种改进的正极材料\n本发明公开了一种高镍正极材料的包覆方法。"
    )
    assert list(
        PatentCoOwner.objects.filter(patent=after).values_list("organisation", flat=True)
    ) == [partner.pk]
    event = PatentEvent.objects.filter(patent=after).order_by("-id").first()
    assert event is not None
    assert event.changes == {
        "import_job": job.pk,
        "row": 2,
        "file": "portfolio.csv",
        "changed": {"title": {"old": before.title, "new": "一种改进的正极材料"}},
    }
    # A present, empty cell clears the stored value.
    cleared = run(world, csv_bytes([[*row(1, 摘要=""), ""]], headers=headers))
    after = Patent.objects.get(application_number=number)
    assert (after.abstract, after.publication_numbers) == ("", [])
    event = PatentEvent.objects.filter(patent=after).order_by("-id").first()
    assert event is not None and event.changes["import_job"] == cleared.pk
    assert event.changes["changed"] == {
        "title": {"old": "一种改进的正极材料", "new": before.title},
        "abstract": {"old": "本发明公开了一种高镍正极材料的包覆方法。", "new": ""},
        "publication_numbers": {"old": ["CN114123456A"], "new": []},
    }
