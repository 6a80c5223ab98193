"""Search export (CSV, XLSX) and saved searches: their API per role, the alerts a newly announced
declaration raises (exactly one per matching saved search) and the daily e-mail digest."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from openpyxl import load_workbook

from marketplace.models import (
    Notification,
    OutboundEmail,
    SavedSearch,
    SavedSearchAlert,
    SavedSearchDigest,
    User,
)
from marketplace.services import saved_searches as services
from marketplace.tasks import alert_saved_searches, send_saved_search_digests
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import make_patent
from tests.live import SmtpSink, WorkerProcess

BATTERY = "一种锂离子电池正极材料及其制备方法"
PUMP = "一种农田灌溉用离心水泵"
PUMP_ABSTRACT = "本发明公开了一种离心水泵，叶轮采用双吸结构，适用于农田灌溉。"


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def _state() -> tuple[Any, ...]:
    return tuple(
        SavedSearch.objects.order_by("id").values_list(
            "id", "owner_id", "name", "query", "is_paused"
        )
    )


# ---- export --------------------------------------------------------------------------------


@pytest.fixture
def hits(world: World) -> dict[str, Any]:
    declared = declarable_patent(world.university, 1, title='=HYPERLINK("http://x")锂离子电池')
    declaration = announced(declared, world.university_admin, world.reviewer)
    plain = make_patent(world.university, 2, is_listed=True)
    pump = make_patent(world.university, 3, is_listed=True, title=PUMP, abstract=PUMP_ABSTRACT)
    return {"declared": declared, "declaration": declaration, "plain": plain, "pump": pump}


def test_csv_export_has_a_bom_english_headers_the_hits_in_order_and_no_formula(
    hits: dict[str, Any],
) -> None:
    response = client_for(None, "en").get(
        "/api/v1/search/patents/", {"q": "锂离子电池", "file_format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="patent-search.csv"'
    content = _body(response).decode("utf-8")
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.removeprefix("\ufeff"))))
    assert rows[0][:4] == ["Application number", "Patent number", "Title", "Patent type"]
    assert len(rows[0]) == 17
    declared, plain, declaration = hits["declared"], hits["plain"], hits["declaration"]
    page = client_for(None).get("/api/v1/search/patents/", {"q": "锂离子电池"}).json()
    assert [row[0] for row in rows[1:]] == [item["application_number"] for item in page["results"]]
    assert {row[0] for row in rows[1:]} == {declared.application_number, plain.application_number}
    by_number = {row[0]: row for row in rows[1:]}
    first = by_number[declared.application_number]
    # A title that a spreadsheet would run as a formula is written as text.
    assert first[2] == '\'=HYPERLINK("http://x")锂离子电池'
    assert first[3] == "invention (发明)"
    assert first[10:] == [
        declaration.number,
        "entry fee plus royalty (入门费附加提成)",
        "",
        "50000.00",
        "3.5000",
        "50000.00",
        "0",
    ]
    assert by_number[plain.application_number][10:] == ["", "", "", "", "", "", ""]


def test_csv_export_speaks_chinese_when_asked(hits: dict[str, Any]) -> None:
    response = client_for(None, "zh-hans").get(
        "/api/v1/search/patents/", {"q": "离心水泵", "file_format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8").removeprefix("\ufeff"))))
    assert rows[0][:3] == ["申请号", "专利号", "名称"]
    assert rows[1][0] == hits["pump"].application_number
    assert len(rows) == 2


def test_xlsx_export_is_a_workbook_of_text_cells(hits: dict[str, Any]) -> None:
    response = client_for(None, "en").get(
        "/api/v1/search/patents/", {"q": "锂离子电池", "file_format": "xlsx"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = load_workbook(io.BytesIO(_body(response)))
    sheet = workbook.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Application number"
    assert len(rows) == 3
    cells = [cell for row in sheet.iter_rows() for cell in row]
    # Text cells only (shared or inline strings): no formula ("f") anywhere.
    assert {cell.data_type for cell in cells} <= {"s", "inlineStr"}
    assert '\'=HYPERLINK("http://x")锂离子电池' in [row[2] for row in rows]


def test_export_stops_at_the_limit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace.api import exports

    monkeypatch.setattr(exports, "EXPORT_LIMIT", 3)
    monkeypatch.setattr(exports, "CHUNK", 2)
    for serial in range(1, 6):
        make_patent(world.university, serial, is_listed=True)
    for params in ({"q": "锂离子电池"}, {}):
        response = client_for(None).get("/api/v1/search/patents/", {**params, "file_format": "csv"})
        assert len(_body(response).decode("utf-8").splitlines()) == 4, params


def test_an_unknown_export_format_is_refused(world: World) -> None:
    response = client_for(None).get("/api/v1/search/patents/", {"file_format": "pdf"})
    assert response.status_code == 400
    body = response.json()
    assert body["fields"] == {
        "file_format": [{"code": "invalid_choice", "message": "csv or xlsx."}]
    }


# ---- the saved-search API ------------------------------------------------------------------

CREATE = {"name": "锂电池", "query": {"q": "锂离子电池", "ipc": ["H01M"], "max_royalty_rate": "5"}}


def _chinese(*users: User) -> None:
    for user in users:
        user.preferred_language = "zh-hans"
        user.save(update_fields=["preferred_language"])


def _saved(user: User, name: str = "锂电池", **query: Any) -> SavedSearch:
    return services.saved_search_create(actor=user, name=name, query=query or {"q": "锂离子电池"})


def test_a_user_saves_a_search_and_lists_only_their_own(world: World) -> None:
    owner = world.sme_admin
    response = client_for(owner).post("/api/v1/saved-searches/", CREATE, format="json")
    assert response.status_code == 201, response.json()
    saved = SavedSearch.objects.get()
    body = response.json()
    assert body == {
        "id": saved.pk,
        "name": "锂电池",
        "query": {
            "q": "锂离子电池",
            "ipc": ["H01M"],
            "max_royalty_rate": "5.0000",
            "sort": "relevance",
        },
        "is_paused": False,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert saved.owner == owner
    _saved(world.university_admin, "别人的")
    listing = client_for(owner).get("/api/v1/saved-searches/").json()
    assert [item["id"] for item in listing["results"]] == [saved.pk]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "新名字"}),
        ("post", "pause/", None),
        ("post", "resume/", None),
        ("delete", "", None),
    ],
)
def test_saved_search_detail_answers_each_role(
    world: World, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    saved = _saved(world.sme_admin)
    if suffix == "resume/":
        services.saved_search_set_paused(
            actor=world.sme_admin, saved_search_id=saved.pk, is_paused=True
        )
    url = f"/api/v1/saved-searches/{saved.pk}/{suffix}"
    before = _state()
    for role in ("anonymous", "member", "org_admin", "reviewer", "mediator"):
        response = getattr(world.client(role), method)(url, body, format="json")
        assert response.status_code == (401 if role == "anonymous" else 404), role
        assert set(response.json()) == {"code", "detail", "fields"}
        assert _state() == before, role
    response = getattr(world.client("other_member"), method)(url, body, format="json")
    expected = {"get": 200, "patch": 200, "post": 200, "delete": 204}[method]
    assert response.status_code == expected
    if method == "delete":
        assert not SavedSearch.objects.exists()
        return
    saved.refresh_from_db()
    assert response.json()["id"] == saved.pk
    if method == "patch":
        assert saved.name == "新名字"
    if suffix == "pause/":
        assert saved.is_paused is True
    if suffix == "resume/":
        assert saved.is_paused is False


def test_saved_search_list_and_create_need_a_login(world: World) -> None:
    assert client_for(None).get("/api/v1/saved-searches/").status_code == 401
    response = client_for(None).post("/api/v1/saved-searches/", CREATE, format="json")
    assert response.status_code == 401
    assert not SavedSearch.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "query": {"q": "a", "colour": "red"}}, "query.colour"),
        ({"name": "x", "query": {"ipc": ["not an ipc"]}}, "query.ipc"),
        ({"name": "", "query": {}}, "name"),
        ({"name": "x", "query": {"scope": "mine"}}, "query.scope"),
        ({"query": {}}, "name"),
    ],
)
def test_a_bad_saved_search_is_refused_and_nothing_saved(
    world: World, body: dict[str, Any], field: str
) -> None:
    response = client_for(world.sme_admin).post("/api/v1/saved-searches/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not SavedSearch.objects.exists()


def test_a_rename_to_nothing_is_refused_and_keeps_the_name(world: World) -> None:
    saved = _saved(world.sme_admin)
    response = client_for(world.sme_admin).patch(
        f"/api/v1/saved-searches/{saved.pk}/", {"name": ""}, format="json"
    )
    assert response.status_code == 400
    saved.refresh_from_db()
    assert saved.name == "锂电池"


def test_a_user_keeps_at_most_fifty_saved_searches(world: World) -> None:
    for index in range(services.MAX_SAVED_SEARCHES):
        _saved(world.sme_admin, f"s{index}")
    before = _state()
    response = client_for(world.sme_admin).post("/api/v1/saved-searches/", CREATE, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "saved_search_limit"
    assert _state() == before


# ---- alerts --------------------------------------------------------------------------------


def test_an_announcement_alerts_each_matching_saved_search_exactly_once(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    sme, other = world.sme_admin, world.university_member
    _chinese(sme, other)
    words = _saved(sme, "锂电池", q="锂离子电池")
    filtered = _saved(other, "H01M 发明", ipc=["H01M"], patent_type=["invention"])
    second_of_same_user = _saved(sme, "正极", q="正极材料")
    _saved(sme, "水泵", q="离心水泵")  # other words
    _saved(sme, "外观设计", q="锂离子电池", patent_type=["design"])  # a filter it fails
    _saved(sme, "太贵", q="锂离子电池", max_royalty_rate="1")  # the declared rate is 3.5 %
    paused = _saved(other, "暂停", q="锂离子电池")
    services.saved_search_set_paused(actor=other, saved_search_id=paused.pk, is_paused=True)
    patent = declarable_patent(world.university, 7)
    with django_capture_on_commit_callbacks() as callbacks:
        declaration = announced(patent, world.university_admin, world.reviewer)
    # Scheduled after commit with publish_after_commit, on the notifications' (default) queue.
    sent = [
        c.args
        for c in callbacks
        if getattr(c, "args", None) and c.args[0] == alert_saved_searches.delay
    ]
    assert sent == [(alert_saved_searches.delay, (declaration.pk,))]
    assert alert_saved_searches.app.amqp.router.route({}, alert_saved_searches.name)[
        "queue"
    ].name == ("default")

    assert alert_saved_searches(declaration.pk) == 3
    alerts = SavedSearchAlert.objects.order_by("saved_search_id")
    assert [(a.saved_search_id, a.patent_id, a.declaration_id) for a in alerts] == [
        (words.pk, patent.pk, declaration.pk),
        (filtered.pk, patent.pk, declaration.pk),
        (second_of_same_user.pk, patent.pk, declaration.pk),
    ]
    notes = Notification.objects.filter(kind="saved_search_match").order_by("id")
    assert [(n.user_id, n.title) for n in notes] == [
        (sme.pk, "新匹配：您保存的搜索“锂电池”"),
        (other.pk, "新匹配：您保存的搜索“H01M 发明”"),
        (sme.pk, "新匹配：您保存的搜索“正极”"),
    ]
    assert notes[0].body == (
        f"专利 {patent.patent_number}（{patent.title}）现已根据开放许可声明 {declaration.number} "
        f"提供许可。\nGET /api/v1/patents/{patent.pk}/"
    )
    assert notes[0].data == {
        "saved_search": words.pk,
        "patent": patent.pk,
        "declaration": declaration.pk,
    }
    # The in-app alert sends no mail of its own: the digest does.
    assert not OutboundEmail.objects.filter(kind="saved_search_match").exists()

    # A duplicate delivery of the task adds nothing.
    assert alert_saved_searches(declaration.pk) == 0
    assert SavedSearchAlert.objects.count() == 3
    assert Notification.objects.filter(kind="saved_search_match").count() == 3


def test_a_saved_number_alerts_for_that_patent_only(world: World) -> None:
    target = declarable_patent(world.university, 8)
    saved = _saved(world.sme_admin, "那件专利", q=target.patent_number)
    other = announced(
        declarable_patent(world.university, 9), world.university_admin, world.reviewer
    )
    assert alert_saved_searches(other.pk) == 0
    declaration = announced(target, world.university_admin, world.reviewer)
    assert alert_saved_searches(declaration.pk) == 1
    assert SavedSearchAlert.objects.get().saved_search == saved


def test_a_withdrawn_or_unknown_declaration_alerts_nobody(world: World) -> None:
    _saved(world.sme_admin)
    assert alert_saved_searches(999_999) == 0
    assert not SavedSearchAlert.objects.exists()


def test_an_english_user_reads_the_alert_in_english(world: World) -> None:
    _saved(world.sme_admin, "batteries")
    declaration = announced(
        declarable_patent(world.university, 10), world.university_admin, world.reviewer
    )
    alert_saved_searches(declaration.pk)
    note = Notification.objects.get(kind="saved_search_match")
    assert note.title == "New match for your saved search “batteries”"


# ---- the daily digest ----------------------------------------------------------------------


def _announce_and_alert(world: World, serial: int) -> Any:
    declaration = announced(
        declarable_patent(world.university, serial), world.university_admin, world.reviewer
    )
    alert_saved_searches(declaration.pk)
    return declaration


def test_the_digest_is_one_mail_a_day_per_user_in_their_language(world: World) -> None:
    sme, english = world.sme_admin, world.university_member
    _chinese(sme)
    _saved(sme, "锂电池")
    _saved(sme, "正极", q="正极材料")
    _saved(english, "batteries")
    first = _announce_and_alert(world, 11)
    second = _announce_and_alert(world, 12)
    mail.outbox.clear()
    today = date(2026, 12, 7)

    assert services.saved_search_digests_send(day=today) == 2
    rows = OutboundEmail.objects.filter(kind="saved_search_digest").order_by("to_email")
    assert [(row.to_email, row.subject) for row in rows] == [
        ("admin@sme.example.com", "您保存的搜索：4 条新匹配"),
        ("member@uni.example.com", "Your saved searches: 2 new matches"),
    ]
    chinese = rows[0].body
    assert chinese.count("GET /api/v1/patents/") == 4
    assert f"锂电池：专利 ZL{first.patent.application_number}" in chinese
    assert f"声明 {second.number}" in chinese
    assert SavedSearchDigest.objects.filter(day=today).count() == 2
    assert not SavedSearchAlert.objects.filter(digest__isnull=True).exists()

    # A second run the same day (a duplicate beat or delivery) sends nothing more, even with a
    # new match: that one waits for tomorrow's digest.
    _announce_and_alert(world, 13)
    assert services.saved_search_digests_send(day=today) == 0
    assert OutboundEmail.objects.filter(kind="saved_search_digest").count() == 2
    assert services.saved_search_digests_send(day=today + timedelta(days=1)) == 2
    latest = OutboundEmail.objects.filter(kind="saved_search_digest").order_by("-id")
    assert sorted(row.subject for row in latest[:2]) == [
        "Your saved searches: 1 new match",
        "您保存的搜索：2 条新匹配",
    ]


def test_a_paused_search_is_left_out_of_the_digest(world: World) -> None:
    saved = _saved(world.sme_admin)
    _announce_and_alert(world, 14)
    services.saved_search_set_paused(
        actor=world.sme_admin, saved_search_id=saved.pk, is_paused=True
    )
    assert services.saved_search_digests_send(day=date(2026, 12, 7)) == 0
    assert not OutboundEmail.objects.filter(kind="saved_search_digest").exists()


def test_the_digest_task_is_scheduled_daily_by_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["saved-search-digests"]
    assert entry == {
        "task": "marketplace.tasks.send_saved_search_digests",
        "schedule": 24 * 3600.0,
    }
    assert send_saved_search_digests.name == entry["task"]


@pytest.mark.django_db(transaction=True)
def test_an_announcement_reaches_a_saved_search_in_app_and_by_digest_through_the_worker(
    celery_worker_process: WorkerProcess, smtp_sink: SmtpSink
) -> None:
    from marketplace import roles
    from marketplace.reference import load_reference_tables
    from marketplace.services.platform import platform_role_grant
    from tests.factories import MembershipFactory, UserFactory

    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    patentee = MembershipFactory.create(user__email="saved-patentee@example.com").user
    reviewer = UserFactory.create(email="saved-reviewer@example.com")
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    searcher = UserFactory.create(email="saved-searcher@example.com", preferred_language="en")
    saved = _saved(searcher, "batteries")
    announced(declarable_patent(patentee.memberships.get().organisation), patentee, reviewer)
    deadline = time.monotonic() + 20
    while not SavedSearchAlert.objects.filter(saved_search=saved).exists():
        assert time.monotonic() < deadline, "no alert from the worker"
        time.sleep(0.1)
    assert Notification.objects.filter(user=searcher, kind="saved_search_match").count() == 1
    send_saved_search_digests.delay()
    message = smtp_sink.wait_for("saved-searcher@example.com", subject_contains="saved searches")
    assert message["Subject"] == "Your saved searches: 1 new match"
    assert SavedSearchAlert.objects.get(saved_search=saved).digest is not None
