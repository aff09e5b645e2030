"""Where a message can go: the in-app inbox, the log, SMTP email, and SMS behind a port.

Each channel either delivers or raises `DeliveryError`; the worker decides about retries. SMS is a port
(`SmsSender`) because every country and programme has its own gateway; the default sender writes to the
log, and `RecordingSms` is the test double.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy.orm import Session

from carebridge.contexts.notifications.models import InboxMessage, Notification
from carebridge.kernel.ids import new_id

log = logging.getLogger("carebridge.notifications")


class DeliveryError(Exception):
    """This attempt failed; the message may be tried again."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    notification: Notification
    subject: str
    body: str
    language: str


class Channel(Protocol):
    name: str

    def can_reach(self, n: Notification) -> bool: ...

    def send(self, session: Session, message: Outgoing) -> None: ...


class InAppChannel:
    name = "in_app"

    def can_reach(self, n: Notification) -> bool:
        return n.user_id is not None

    def send(self, session: Session, message: Outgoing) -> None:
        n = message.notification
        assert n.user_id is not None  # noqa: S101 - can_reach checked it
        session.add(InboxMessage(id=new_id(), user_id=n.user_id, notification_id=n.id, subject=message.subject[:300],
                                 body=message.body, created_at=n.next_attempt_at))


class LogChannel:
    """Every message also goes to the structured log (no contact details: only ids and the template)."""

    name = "log"

    def can_reach(self, n: Notification) -> bool:
        return True

    def send(self, session: Session, message: Outgoing) -> None:
        log.info("notification", extra={"notification_id": str(message.notification.id),
                                        "template": message.notification.template, "language": message.language})


@dataclass
class SmtpChannel:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    name: str = "email"

    def can_reach(self, n: Notification) -> bool:
        return bool(n.email)

    def send(self, session: Session, message: Outgoing) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.notification.email or ""
        mail["Subject"] = message.subject
        mail["Content-Language"] = message.language
        mail["Message-ID"] = f"<{message.notification.id}@carebridge>"
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}: {exc}"[:400]) from exc


class SmsSender(Protocol):
    def send_sms(self, phone: str, text: str) -> None: ...


class LogSms:
    """The default SMS sender until a gateway adapter is configured: the text goes to the log only."""

    def send_sms(self, phone: str, text: str) -> None:
        log.info("sms (log sender)", extra={"digits": len(phone), "chars": len(text)})


@dataclass
class RecordingSms:
    """Test double: keeps what would have been sent, and can be told to fail."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    fail_with: str | None = None

    def send_sms(self, phone: str, text: str) -> None:
        if self.fail_with:
            raise DeliveryError(self.fail_with)
        self.sent.append((phone, text))


@dataclass
class SmsChannel:
    sender: SmsSender
    name: str = "sms"

    def can_reach(self, n: Notification) -> bool:
        return bool(n.phone)

    def send(self, session: Session, message: Outgoing) -> None:
        assert message.notification.phone is not None  # noqa: S101 - can_reach checked it
        self.sender.send_sms(message.notification.phone, f"{message.subject}\n{message.body}")
