"""E-mails the platform sends: rendered in the recipient's language, queued, sent after commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from marketplace import dispatch
from marketplace.celery import publish_after_commit
from marketplace.models import Invitation, MessageKind, OutboundEmail, User


@dataclass(frozen=True)
class Message:
    """One e-mail as it will be sent. The builders below take the tokens they link to from
    the account services (this module imports no service: services import it)."""

    kind: str
    to_email: str
    subject: str
    body: str


def email_verification_message(*, user_id: int, token: str) -> Message:
    user = User.objects.get(pk=user_id)
    with translation.override(user.preferred_language):
        subject = _("Verify your e-mail address")
        body = _(
            "Hello %(name)s,\n\n"
            "please confirm that %(email)s is your address by opening\n"
            "%(url)s\n\n"
            "or by sending this token to POST /api/v1/auth/verify-email/:\n%(token)s\n\n"
            "The link is valid for %(hours)d hours.\n"
        ) % {
            "name": user.get_short_name(),
            "email": user.email,
            "url": f"{settings.FRONTEND_URL}/verify-email?token={token}",
            "token": token,
            "hours": settings.EMAIL_VERIFICATION_TIMEOUT_HOURS,
        }
    return Message(MessageKind.EMAIL_VERIFICATION, user.email, subject, body)


def password_reset_message(*, user_id: int, token: str) -> Message:
    user = User.objects.get(pk=user_id)
    with translation.override(user.preferred_language):
        subject = _("Reset your password")
        body = _(
            "Hello %(name)s,\n\n"
            "someone (we hope you) asked to reset the password of %(email)s.\n"
            "Choose a new password by opening\n%(url)s\n\n"
            "or by sending this token with the new password to "
            "POST /api/v1/auth/password-reset/confirm/:\n%(token)s\n\n"
            "The link is valid for %(hours)d hours and only once. If you did not ask, "
            "ignore this mail: your password stays as it is.\n"
        ) % {
            "name": user.get_short_name(),
            "email": user.email,
            "url": f"{settings.FRONTEND_URL}/reset-password?token={token}",
            "token": token,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        }
    return Message(MessageKind.PASSWORD_RESET, user.email, subject, body)


def invitation_message(*, invitation_id: int, token: str) -> Message:
    invitation = Invitation.objects.select_related("organisation", "invited_by").get(
        pk=invitation_id
    )
    existing = User.objects.filter(email=invitation.email).first()
    language = existing.preferred_language if existing else User.Language.CHINESE
    with translation.override(language):
        subject = _("Invitation to join %(organisation)s") % {
            "organisation": invitation.organisation.name
        }
        body = _(
            "%(inviter)s invites you to join %(organisation)s on the open-license patent "
            "marketplace as %(role)s.\n\n"
            "Accept by opening\n%(url)s\n\n"
            "or by sending this token to POST /api/v1/invitations/accept/:\n%(token)s\n\n"
            "The invitation expires on %(expires)s.\n"
        ) % {
            "inviter": invitation.invited_by.get_full_name(),
            "organisation": invitation.organisation.name,
            "role": invitation.get_role_display(),
            "url": f"{settings.FRONTEND_URL}/invitations/accept?token={token}",
            "token": token,
            "expires": invitation.expires_at.date().isoformat(),
        }
    return Message(MessageKind.INVITATION, invitation.email, subject, body)


def queue(message: Message) -> OutboundEmail:
    """Store the message in the current transaction and send it once that commits."""
    email = OutboundEmail.objects.create(
        kind=message.kind, to_email=message.to_email, subject=message.subject, body=message.body
    )
    dispatch.after_commit("marketplace.tasks.send_email", email.pk)
    return email


def queue_many(messages: list[Message]) -> list[OutboundEmail]:
    """Store the messages in the current transaction (one insert) and send them once that
    commits (one broker connection for all)."""
    rows = OutboundEmail.objects.bulk_create(
        [
            OutboundEmail(kind=m.kind, to_email=m.to_email, subject=m.subject, body=m.body)
            for m in messages
        ]
    )
    publish_after_commit(send_in_batches, [row.pk for row in rows])
    return rows


def send_in_batches(email_ids: list[int]) -> None:
    """Publish send_emails tasks of EMAIL_BATCH_SIZE ids each, over one broker connection."""
    size = settings.EMAIL_BATCH_SIZE
    batches = [(email_ids[start : start + size],) for start in range(0, len(email_ids), size)]
    dispatch.each_now("marketplace.tasks.send_emails", batches)


def send_after_commit(builder: Callable[..., Message], **kwargs: object) -> OutboundEmail:
    """Render a message now (in the recipient's language) and queue it."""
    return queue(builder(**kwargs))
