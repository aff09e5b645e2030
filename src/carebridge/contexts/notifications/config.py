"""The channels the settings ask for: in-app and log always, SMTP when a host is set, SMS through a sender."""

from __future__ import annotations

from carebridge.contexts.notifications.channels import (
    Channel,
    InAppChannel,
    LogChannel,
    LogSms,
    SmsChannel,
    SmsSender,
    SmtpChannel,
)
from carebridge.contexts.notifications.worker import Backoff, Delivery
from carebridge.settings import Settings


def channels_from(settings: Settings, sms: SmsSender | None = None) -> list[Channel]:
    out: list[Channel] = [InAppChannel(), LogChannel()]
    if settings.smtp_host:
        out.append(SmtpChannel(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                               starttls=settings.smtp_starttls, username=settings.smtp_username,
                               password=settings.smtp_password.get_secret_value() if settings.smtp_password else None))
    out.append(SmsChannel(sms or LogSms()))
    return out


def delivery_from(settings: Settings, sms: SmsSender | None = None) -> Delivery:
    return Delivery(channels_from(settings, sms), max_attempts=settings.notifications_max_attempts,
                    backoff=Backoff(base_seconds=settings.notifications_backoff_seconds))
