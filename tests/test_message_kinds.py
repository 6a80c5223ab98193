"""Every kind of notification and e-mail has a label in Chinese and English: the admin's column
and filter and the API's `kind_label` show words, never the code."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from licensing.models import DeclarationEvent, LicenseEvent, MediationEvent
from marketplace.models import MessageKind, Notification, OutboundEmail, message_kind_label
from marketplace.models.notifications import email_kind_choices, notification_kind_choices
from tests.conftest import World, client_for
from tests.factories import UserFactory

CJK = re.compile(r"[\u3400-\u9fff]")
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")

# Every kind the code sends: a step of a declaration, license or case that has an audience,
# the reminders, matching's alerts and the core app's own.
SENT_KINDS = {
    *(f"declaration_{verb}" for verb in DeclarationEvent.Verb.notified()),
    *(f"license_{verb}" for verb in LicenseEvent.Verb.notified()),
    *(f"mediation_{verb}" for verb in MediationEvent.Verb.notified()),
    "filing_due",
    "royalty_report_due",
    "payment_overdue",
    "mediation_deadline",
    "new_match",
    "match_digest",
    *MessageKind.values,
}


@pytest.mark.parametrize("kind", sorted(SENT_KINDS))
def test_every_kind_sent_has_a_chinese_and_an_english_label(kind: str) -> None:
    with translation.override("zh-hans"):
        chinese = message_kind_label(kind)
    with translation.override("en"):
        english = message_kind_label(kind)
    assert CJK.search(chinese), chinese
    assert not ASCII_WORD.search(chinese), chinese
    assert english != kind
    assert not CJK.search(english), english


def test_the_labels_name_the_subject_and_the_step() -> None:
    with translation.override("zh-hans"):
        assert message_kind_label("license_took_effect") == "许可：已生效"
        assert message_kind_label("declaration_announced") == "开放许可声明：已公告"
    with translation.override("en"):
        assert message_kind_label("license_took_effect") == "license: took effect"
        assert message_kind_label("filing_due") == "license filing due"
    assert message_kind_label("not_a_kind") == "not_a_kind"


def test_e_mail_only_kinds_are_not_offered_for_notifications() -> None:
    notification_kinds = {kind for kind, _label in notification_kind_choices()}
    email_kinds = {kind for kind, _label in email_kind_choices()}
    assert "email_verification" not in notification_kinds
    assert {"email_verification", "license_took_effect"} <= email_kinds
    assert notification_kinds == email_kinds - {
        "email_verification",
        "password_reset",
        "invitation",
        "saved_search_digest",
    }


@pytest.mark.django_db
def test_the_admin_shows_notification_and_e_mail_kinds_as_words() -> None:
    # Given a notification and its e-mail of a licensing kind
    superuser = UserFactory.create(is_staff=True, is_superuser=True)
    Notification.objects.create(
        user=superuser, kind="license_took_effect", source="s", title="许可", body="已生效"
    )
    OutboundEmail.objects.create(
        kind="license_took_effect", to_email=superuser.email, subject="许可", body="已生效"
    )
    client = Client()
    client.force_login(superuser)
    for name in ("notification", "outboundemail"):
        url = reverse(f"admin:marketplace_{name}_changelist")

        # When the list is read in each language
        zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

        # Then the column and the filter show the label, not the code
        assert '<td class="field-kind">许可：已生效</td>' in zh
        assert "license_took_effect</td>" not in zh
        assert '<a href="?kind__exact=license_took_effect">许可：已生效</a>' in zh
        assert '<td class="field-kind">license: took effect</td>' in en


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "label"), [("zh-hans", "许可合同待备案"), ("en", "license filing due")]
)
def test_the_api_gives_the_kind_and_its_label(world: World, language: str, label: str) -> None:
    Notification.objects.create(
        user=world.university_admin, kind="filing_due", source="s", title="备案", body="请备案"
    )
    response = client_for(world.university_admin, language).get("/api/v1/notifications/")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert (item["kind"], item["kind_label"]) == ("filing_due", label)
