"""Concurrency and faults on the real components (issue 15, "Under concurrency and faults").

Requests race on threads, each with a database connection of its own, released together by a
barrier. Outcomes are asserted exactly and the invariants are checked in the database after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from licensing.models import Declaration, DeclarationEvent, IdempotencyRecord, License
from licensing.services import declarations as declaration_services
from marketplace import roles
from marketplace.models import User
from marketplace.reference import load_reference_tables
from marketplace.services.platform import platform_role_grant
from tests.conftest import client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, OrganisationFactory, SmeProfileFactory, UserFactory
from tests.test_licenses import accept_body

Answer = tuple[int, str, dict[str, Any]]


def _reference_data() -> None:
    """Transactional tests flush the database afterwards; put the reference tables back."""
    load_reference_tables(lambda name: apps.get_model("marketplace", name))


def _in_threads(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Run the calls at the same moment, one thread and one database connection each."""
    barrier = threading.Barrier(len(calls))
    answers: list[Answer | BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            answers[index] = calls[index]()
        except BaseException as error:  # reported below, in the test's thread
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    failed = [answer for answer in answers if not isinstance(answer, tuple)]
    assert not failed, failed
    return [answer for answer in answers if isinstance(answer, tuple)]


def _accept(user_id: int, body: dict[str, Any], key: str) -> Callable[[], Answer]:
    def call() -> Answer:
        client = client_for(User.objects.get(pk=user_id))
        response = client.post("/api/v1/licenses/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        return response.status_code, response.get("Idempotent-Replay", ""), response.json()

    return call


def _market(name: str, smes: int) -> tuple[Declaration, User, User, list[tuple[int, int]]]:
    """An announced declaration of a university, and `smes` SMEs (admin id, organisation id)."""
    _reference_data()
    university = OrganisationFactory.create(name=name)
    patentee = MembershipFactory.create(organisation=university, role="admin").user
    reviewer = UserFactory.create()
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    declaration = announced(declarable_patent(university), patentee, reviewer)
    licensees = []
    for index in range(smes):
        sme = SmeProfileFactory.create(organisation__name=f"{name}企业{index}").organisation
        admin = MembershipFactory.create(organisation=sme, role="admin").user
        licensees.append((admin.pk, sme.pk))
    return declaration, patentee, reviewer, licensees


@pytest.mark.django_db(transaction=True)
def test_fifty_pairs_of_same_key_acceptances_sent_at_once_both_get_the_first_answer() -> None:
    declaration, _patentee, _reviewer, licensees = _market("幂等大学", smes=50)
    for user_id, sme_id in licensees:
        body = accept_body(declaration, sme_id)
        pair = _in_threads([_accept(user_id, body, f"pair-{sme_id}")] * 2)
        statuses = sorted((status, replay) for status, replay, _body in pair)
        assert statuses == [(201, ""), (201, "true")], (sme_id, pair)
        assert pair[0][2] == pair[1][2]  # the replay is the first answer, to the byte
    licenses = License.objects.filter(declaration=declaration)
    assert sorted(licenses.values_list("licensee_id", flat=True)) == sorted(
        sme_id for _user, sme_id in licensees
    )
    assert IdempotencyRecord.objects.count() == 50


@pytest.mark.django_db(transaction=True)
def test_acceptances_duplicates_and_same_key_retries_racing_a_withdrawal() -> None:
    """12 SMEs each send a notice twice with one key and once more with another key, all at
    once (36 requests), while the withdrawal is approved as soon as the first license exists."""
    declaration, patentee, reviewer, licensees = _market("竞速幂等大学", smes=12)
    declaration_services.declaration_request_withdrawal(
        actor=patentee,
        declaration_id=declaration.pk,
        reason="竞速测试",
    )

    def withdraw() -> Answer:
        for _attempt in range(3000):
            if License.objects.filter(declaration=declaration).exists():
                break
            threading.Event().wait(0.005)
        declaration_services.declaration_approve_withdrawal(
            actor=reviewer, declaration_id=declaration.pk
        )
        return 0, "", {}

    calls: list[Callable[[], Answer]] = []
    for user_id, sme_id in licensees:
        body = accept_body(declaration, sme_id)
        calls += [
            _accept(user_id, body, f"retry-{sme_id}"),
            _accept(user_id, body, f"retry-{sme_id}"),
            _accept(user_id, body, f"other-{sme_id}"),
        ]
    answers = _in_threads([*calls, withdraw])[:-1]

    withdrawal = DeclarationEvent.objects.get(declaration=declaration, to_status="withdrawn")
    licenses = {row.licensee_id: row for row in License.objects.filter(declaration=declaration)}
    assert licenses, "the withdrawal waits for a first license"
    # Nothing granted after the withdrawal took effect; at most one license per SME.
    assert all(row.created_at < withdrawal.created_at for row in licenses.values())
    for index, (_user_id, sme_id) in enumerate(licensees):
        first, retry, other = answers[3 * index : 3 * index + 3]
        same_key = sorted([first, retry], key=lambda answer: answer[1])
        codes = [answer[2].get("code", "") for answer in (first, retry, other)]
        if sme_id not in licenses:
            # Refused: the declaration was withdrawn before any of its three notices.
            assert [first[0], retry[0], other[0]] == [409] * 3, (sme_id, answers)
            assert codes == ["declaration_withdrawn"] * 3
            continue
        granted = licenses[sme_id].pk
        if other[0] == 201:
            # The other key won: both same-key requests found the license, or the withdrawal.
            assert other[2]["id"] == granted
            assert [first[0], retry[0]] == [409, 409], (sme_id, answers)
            assert set(codes[:2]) <= {"license_exists", "declaration_withdrawn"}
        else:
            # The same key won: one 201 and its replay, byte for byte; the other key is told.
            assert [(status, replay) for status, replay, _body in same_key] == [
                (201, ""),
                (201, "true"),
            ], (sme_id, answers)
            assert same_key[0][2] == same_key[1][2] and same_key[0][2]["id"] == granted
            assert (other[0], codes[2]) in {(409, "license_exists"), (409, "declaration_withdrawn")}
    assert Declaration.objects.get(pk=declaration.pk).status == "withdrawn"
    assert IdempotencyRecord.objects.count() == sum(
        1 for answer in answers if answer[0] == 201 and not answer[1]
    )


@pytest.mark.django_db
def test_the_resend_sweep_takes_the_oldest_stale_mails_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.celery import app
    from marketplace.models import OutboundEmail
    from marketplace.tasks import resend_stale_emails

    # The handed-over mails are sent in this process (to the in-memory outbox) at once.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    now = timezone.now()
    rows = OutboundEmail.objects.bulk_create(
        OutboundEmail(kind="test", to_email=f"m{n}@example.com", subject="s", body="b")
        for n in range(1005)
    )
    for age, row in enumerate(rows):  # m0 is the newest, m1004 the oldest
        row.created_at = now - timedelta(hours=1, minutes=age)
    OutboundEmail.objects.bulk_update(rows, ["created_at"])

    assert resend_stale_emails() == 1000
    waiting = OutboundEmail.objects.filter(status="queued").values_list("to_email", flat=True)
    # The five newest wait for the next sweep; the 1,000 oldest went out.
    assert sorted(waiting) == [f"m{n}@example.com" for n in range(5)]
    assert OutboundEmail.objects.filter(status="sent").count() == 1000


@pytest.mark.django_db(transaction=True)
def test_a_database_connection_terminated_mid_request_answers_503_and_changes_nothing() -> None:
    """The acceptance waits on a lock the test holds; its server process is terminated there
    (as a failover or an administrator would); the client gets a 503 it may retry."""
    from django.db import connections

    declaration, _patentee, _reviewer, [(user_id, sme_id)] = _market("断连大学", smes=1)
    body = accept_body(declaration, sme_id)
    holder = connections.create_connection("default")  # a connection of the test's own
    answers: list[Answer] = []

    def accept() -> None:
        try:
            client = client_for(User.objects.get(pk=user_id))
            client.raise_request_exception = False
            response = client.post("/api/v1/licenses/", body, format="json")
            answers.append((response.status_code, response.get("Retry-After", ""), response.json()))
            # The same thread's next request gets a fresh connection and succeeds.
            again = client.post("/api/v1/licenses/", body, format="json")
            answers.append((again.status_code, "", again.json()))
        finally:
            connection.close()

    thread = threading.Thread(target=accept)
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT 1 FROM licensing_declaration WHERE id = %s FOR UPDATE", [declaration.pk]
            )
            thread.start()
            waiting: list[int] = []
            for _attempt in range(500):
                # Activity is read once per transaction unless the snapshot is dropped.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                waiting = [row[0] for row in cursor.fetchall()]
                if waiting:
                    break
                threading.Event().wait(0.02)
            assert len(waiting) == 1, waiting
            cursor.execute("SELECT pg_terminate_backend(%s)", waiting)
            cursor.execute("ROLLBACK")
    finally:
        holder.close()
        if thread.is_alive() or thread.ident:
            thread.join(timeout=30)

    [(status, retry_after, refused), (again_status, _none, granted)] = answers
    assert (status, retry_after, refused["code"]) == (503, "5", "database_unavailable")
    assert set(refused) == {"code", "detail", "fields"}  # the schema's Error, as documented
    assert again_status == 201
    # The terminated request changed nothing: the one license is the retry's.
    assert list(License.objects.values_list("pk", flat=True)) == [granted["id"]]
