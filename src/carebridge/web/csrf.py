"""Cross-site request forgery protection for every form the pages post.

Signed in, the token is an HMAC of the sign-in session id with the server secret: nothing to
store, and it dies with the session. Anonymous forms (sign in, register, language) use a signed
double submit: a random nonce in the `cb_csrf` cookie and its HMAC in the form, so another site
can neither read the token nor mint one for a nonce it planted. The guard is a router dependency
of every page router, so a POST handler cannot forget it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Final

from fastapi import Request
from starlette.datastructures import FormData

from carebridge.contexts.identity import SESSION_COOKIE, OptionalPrincipal, sign_session_id
from carebridge.kernel.errors import Problem
from carebridge.kernel.keys import ServerKeys

CSRF_FIELD: Final = "csrf_token"
CSRF_COOKIE: Final = "cb_csrf"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_CHARS: Final = 40


class CsrfFailed(Problem):
    """The form's token is missing or does not match: the page was stale or forged."""

    status, slug, title = 403, "csrf", "Form expired"


def session_token(secret: bytes, session_id: uuid.UUID) -> str:
    return hmac.new(secret, b"csrf-session:" + session_id.bytes, hashlib.sha256).hexdigest()[:_TOKEN_CHARS]


def anonymous_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, b"csrf-anon:" + nonce.encode(), hashlib.sha256).hexdigest()[:_TOKEN_CHARS]


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def valid_nonce(value: str | None) -> bool:
    return value is not None and 16 <= len(value) <= 64 and value.isascii()


def expected_token(secret: bytes, *, session_id: uuid.UUID | None, nonce: str | None) -> str | None:
    """The token a page embeds: bound to the sign-in when there is one, else to the anonymous nonce."""
    if session_id is not None:
        return session_token(secret, session_id)
    if nonce is not None and valid_nonce(nonce):
        return anonymous_token(secret, nonce)
    return None


def cookie_session_id(secret: bytes, cookie: str | None) -> uuid.UUID | None:
    """The session id a correctly signed `cb_session` cookie names, alive or not."""
    if not cookie or len(cookie) > 100:
        return None
    try:
        sid = uuid.UUID(hex=cookie.split(".", 1)[0])
    except ValueError:
        return None
    return sid if hmac.compare_digest(sign_session_id(secret, sid), cookie) else None


def acceptable_tokens(secret: bytes, *, session_id: uuid.UUID | None, nonce: str | None,
                      session_cookie: str | None) -> list[str]:
    """Signed in, only the session's token. Otherwise the anonymous token, or the token of a session that
    has since ended (so "sign out" and a stale form still reach their handler, which sends the visitor on)."""
    if session_id is not None:
        return [session_token(secret, session_id)]
    tokens = []
    if nonce is not None and valid_nonce(nonce):
        tokens.append(anonymous_token(secret, nonce))
    stale = cookie_session_id(secret, session_cookie)
    if stale is not None:
        tokens.append(session_token(secret, stale))
    return tokens


async def _form(request: Request) -> FormData | None:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    try:
        return await request.form(max_files=1, max_fields=100)  # one upload: the facility import page
    except Exception:  # a malformed body is a forgery-shaped request as far as this guard cares
        return None


async def csrf_guard(request: Request, principal: OptionalPrincipal) -> None:
    """Refuse any unsafe request whose form does not carry this visitor's token."""
    if request.method in SAFE_METHODS:
        return
    form = await _form(request)
    given = form.get(CSRF_FIELD) if form is not None else None
    keys: ServerKeys = request.app.state.keys
    accepted = acceptable_tokens(
        keys.token_secret,
        session_id=principal.session_id if principal is not None else None,
        nonce=request.cookies.get(CSRF_COOKIE),
        session_cookie=request.cookies.get(SESSION_COOKIE),
    )
    if not isinstance(given, str) or not any(hmac.compare_digest(given, token) for token in accepted):
        raise CsrfFailed("the form's security token is missing or out of date; reload the page and try again")
