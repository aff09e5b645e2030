"""Failed sign-in throttling, per account and per client address.

Failures are rows in `login_attempts`, so every API process sees the same counts. When the
failures inside the window reach the limit, the account (or address) waits `login_lockout_seconds`
from its latest failure; each further failure after that restarts the wait. A successful sign-in
forgives the account's earlier failures but not the address's, so one address spraying guesses over
many accounts is still stopped. Unknown usernames are counted like real ones: the answer must not
tell an attacker which accounts exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from carebridge.contexts.identity.models import LoginAttempt
from carebridge.kernel.errors import TooManyRequests
from carebridge.kernel.ids import new_id
from carebridge.settings import Settings

UNKNOWN_ADDRESS = "unknown"


def address_key(client_address: str | None) -> str:
    return (client_address or UNKNOWN_ADDRESS)[:64]


def account_key(username: str) -> str:
    return username.strip().lower()[:64]


def _wait(session: Session, where: ColumnElement[bool], *, since: datetime, limit: int, settings: Settings,
          now: datetime) -> int:
    times = session.execute(
        select(LoginAttempt.at).where(where, LoginAttempt.at > since).order_by(LoginAttempt.at.desc()).limit(limit)
    ).scalars().all()
    if len(times) < limit:
        return 0
    until = times[0] + timedelta(seconds=settings.login_lockout_seconds)
    return max(0, math.ceil((until - now).total_seconds()))


def check(session: Session, *, username: str, client_address: str | None, settings: Settings, now: datetime) -> None:
    """Raise 429 if this account or this address must wait."""
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    account = (LoginAttempt.username == account_key(username)) & LoginAttempt.forgiven.is_(False)
    account_wait = _wait(session, account, since=window_start,
                         limit=settings.login_max_failures_account, settings=settings, now=now)
    address_wait = _wait(session, LoginAttempt.client_address == address_key(client_address), since=window_start,
                         limit=settings.login_max_failures_address, settings=settings, now=now)
    wait = max(account_wait, address_wait)
    if wait > 0:
        what = "this account" if account_wait >= address_wait else "this network address"
        raise TooManyRequests(
            f"too many failed sign-ins for {what}; try again in {wait} s", retry_after=wait, slug="login-throttled",
        )


def persist_despite_rollback(session: Session, work: Callable[[Session], Any]) -> None:
    """Do `work` in this transaction and again in a fresh one if this one rolls back.

    A failed sign-in raises an error, which rolls the request's transaction back; the failure
    (or the revocation a stolen token triggered) must be kept regardless.
    """
    work(session)
    session.info.setdefault("after_rollback", []).append(work)


def record_failure(session: Session, *, username: str, client_address: str | None, now: datetime) -> None:
    values = {"username": account_key(username), "client_address": address_key(client_address), "at": now,
              "forgiven": False}

    def _insert(s: Session) -> None:
        s.add(LoginAttempt(id=new_id(), **values))
        s.flush()

    persist_despite_rollback(session, _insert)


def forgive_account(session: Session, *, username: str) -> None:
    """After a successful sign-in the account starts afresh; the addresses' counts stay."""
    session.execute(
        update(LoginAttempt).where(LoginAttempt.username == account_key(username), LoginAttempt.forgiven.is_(False))
        .values(forgiven=True).execution_options(synchronize_session=False)
    )
