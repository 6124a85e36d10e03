"""Notifiers: one small implementation per channel behind one protocol, and their registry.

The worker hands a notifier an outbox message and its escalation; the notifier delivers or
raises. It raises `RetryableError` (or any other exception) for a failure worth retrying and
`PermanentError` for one that never will succeed (no address, a 5xx refusal): the worker then
falls back to the next contact at once. Slack/Teams/web adapters register their own.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol, runtime_checkable

from .model import ANSWER_TO_ASKER, NOTIFY_DEPUTY, REMIND, URGENT_NOTICE, Escalation, OutboxMessage, iso

log = logging.getLogger("policybot.escalations.notify")


class DeliveryError(Exception):
    """A send failed."""


class RetryableError(DeliveryError):
    """Temporary: try again later (with backoff), then fall back to the next contact."""


class PermanentError(DeliveryError):
    """Will never work for this recipient/channel: fall back to the next contact now."""


@runtime_checkable
class Notifier(Protocol):
    """Delivers one outbox message. `message.idempotency_key` is the same on every attempt for the
    same message; a notifier must not deliver the same key twice where its channel lets it tell
    (email: the key becomes the Message-ID, so a repeat is the same email to mail clients)."""

    async def send(self, message: OutboxMessage, escalation: Escalation) -> None: ...


class NotifierRegistry:
    """Channel name ("email", "log", "slack", "teams", "web") -> notifier. The worker only claims
    messages for registered channels; others stay pending, visible, until a process that can
    deliver them runs (e.g. an answer to a Slack asker waits for the Slack adapter)."""

    def __init__(self) -> None:
        self._notifiers: dict[str, Notifier] = {}

    def register(self, channel: str, notifier: Notifier) -> None:
        self._notifiers[channel] = notifier

    def get(self, channel: str) -> Notifier | None:
        return self._notifiers.get(channel)

    def channels(self) -> list[str]:
        return sorted(self._notifiers)


def default_registry(settings) -> NotifierRegistry:
    """The notifiers this issue provides: the log always, email when SMTP_HOST is set."""
    registry = NotifierRegistry()
    registry.register("log", LogNotifier(settings.log_questions))
    if settings.smtp_host:
        registry.register("email", EmailNotifier.from_settings(settings))
    return registry


_TITLES = {REMIND: "Reminder: a question is waiting for you", NOTIFY_DEPUTY: "A question the lead has not picked up",
           URGENT_NOTICE: "URGENT safeguarding concern reported", ANSWER_TO_ASKER: "Your question has been answered"}


def render(message: OutboxMessage, esc: Escalation) -> tuple[str, str]:
    """(subject, plain-text body) for a person: the question, who asked, the candidate clauses and
    how to answer. Platform-neutral; chat notifiers may reuse it or lay out their own."""
    if message.kind == ANSWER_TO_ASKER:
        return (f"{esc.school_name}: answer to your question ({esc.id})", message.payload.get("text", ""))
    title = _TITLES.get(message.kind, "A staff question needs your answer")
    subject = f"[policybot] {'URGENT: ' if esc.urgent else ''}{title} - {esc.school_name} ({esc.id})"
    asker = esc.asker.display_name or esc.asker.user_id or "a member of staff"
    lines = [f"{title}.", ""]
    if esc.urgent:
        lines += [f"The question reports a live safeguarding concern ({esc.concern or 'unspecified'}). "
                  "The asker has been told to speak to the designated safeguarding lead in person now.", ""]
    lines += [f"Escalation: {esc.id}", f"School: {esc.school_name} ({esc.school})",
              f"Asked by: {asker} via {esc.asker.platform}", f"Asked at: {iso(esc.created_at)}",
              f"Why it came to you: {esc.reason.replace('_', ' ')}", "", "Question:"]
    lines += ["> " + line for line in (esc.question or "(text removed under the retention policy)").splitlines()]
    lines += ["", "Closest clauses the bot found (they may not answer it):"]
    lines += [f"  - {c.clause_id}: {c.ref}" for c in esc.candidates] or ["  (none)"]
    if message.payload.get("note"):
        lines += ["", f"Routing note: {message.payload['note']}"]
    lines += ["", "To take it on and answer (your answer goes back to the asker, attributed to you):",
              f"  policybot escalations ack {esc.id} --by \"Your Name\"",
              f"  policybot escalations answer {esc.id} --by \"Your Name\" --text \"...\"",
              f"  policybot escalations close {esc.id}"]
    return subject, "\n".join(lines) + "\n"


class LogNotifier:
    """For local runs and the last resort of every chain: writes ids and decisions to the log,
    never the question (unless POLICYBOT_LOG_QUESTIONS), as questions may name children."""

    def __init__(self, log_questions: bool = False):
        self.log_questions = log_questions

    async def send(self, message: OutboxMessage, escalation: Escalation) -> None:
        level = logging.WARNING if escalation.urgent or message.recipient_role == "log" else logging.INFO
        log.log(level, "escalation notice: escalation=%s message=%s kind=%s to=%s school=%s urgent=%s key=%s%s",
                escalation.id, message.id, message.kind, message.recipient_role, escalation.school,
                escalation.urgent, message.idempotency_key,
                f" question={escalation.question!r}" if self.log_questions else "")


def message_id_for(key: str, domain: str = "policybot.invalid") -> str:
    """The Message-ID derived from an idempotency key: every attempt at one outbox message
    produces the same Message-ID, so a resend after a crash is recognisably the same email."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


class EmailNotifier:
    """Plain-text email over SMTP (smtplib on a worker thread).

    Guarantee: the worker marks the message sent (recording its key) only after the server has
    accepted it, so nothing is lost; within this process a key is never sent twice. The one
    window SMTP cannot close is a crash after the server accepted the mail and before the mark
    is committed: the restarted worker sends it again, with the same Message-ID, which mail
    servers and clients treat as one message.
    """

    def __init__(self, host: str, port: int, sender: str, user: str = "", password: str = "",
                 starttls: bool = True, timeout: float = 30.0):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout
        self.domain = sender.rsplit("@", 1)[-1] if "@" in sender else "policybot.invalid"
        self._sent: set[str] = set()

    @classmethod
    def from_settings(cls, settings) -> "EmailNotifier":
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_user,
                   settings.smtp_password, settings.smtp_starttls)

    def build(self, message: OutboxMessage, escalation: Escalation) -> EmailMessage:
        subject, body = render(message, escalation)
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = message_id_for(message.idempotency_key, self.domain)
        email["X-Policybot-Escalation"] = escalation.id
        if escalation.urgent:
            email["Importance"] = "high"
            email["X-Priority"] = "1"
        email.set_content(body)
        return email

    async def send(self, message: OutboxMessage, escalation: Escalation) -> None:
        if message.idempotency_key in self._sent:
            return
        if "@" not in message.address:
            raise PermanentError(f"no email address for {message.recipient_role}")
        email = self.build(message, escalation)
        await asyncio.to_thread(self._send_blocking, email)
        self._sent.add(message.idempotency_key)

    def _send_blocking(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentError(f"recipient refused ({codes})") from None
            raise RetryableError(f"recipient temporarily refused ({codes})") from None
        except smtplib.SMTPResponseException as exc:
            kind = PermanentError if exc.smtp_code >= 500 else RetryableError
            raise kind(f"SMTP {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableError(f"SMTP unavailable: {type(exc).__name__}") from None
