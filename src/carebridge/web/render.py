"""What every page handler needs: the visitor, their language, a CSRF token, and a way to answer.

`PageDep` gathers the request's principal, their account summary and language once; `page.render`
turns a template into a response with the headers every page carries (no caching of personal
pages, a script-free Content-Security-Policy) and, for a first-time visitor, the CSRF cookie.
Context `web.py` modules build their routers with `page_router()` so the CSRF guard is never left off.
"""

from __future__ import annotations

import gettext
import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from carebridge.contexts.identity import SESSION_COOKIE, MeRead, OptionalPrincipal, get_me
from carebridge.kernel.clock import Clock
from carebridge.kernel.deps import ClockDep, KeysDep, SessionDep, SettingsDep
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role
from carebridge.settings import Settings
from carebridge.web import csrf
from carebridge.web.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LANGUAGES, N_, choose_language

WEB_DIR: Final = Path(__file__).resolve().parent
TEMPLATES_DIR: Final = WEB_DIR / "templates"
STATIC_DIR: Final = WEB_DIR / "static"
WEB_TAG: Final = "web"

SECURITY_HEADERS: Final[Mapping[str, str]] = {
    # No page in the shell runs a script; the policy says so, which also blunts any injected markup.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show personal and health data: never keep them in a shared or back-button cache.
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """A signed-in page was asked for without a live session; the visitor is sent to sign in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    roles: frozenset[Role] | None = None  # None: every signed-in role


NAV_ITEMS: Final[Sequence[NavItem]] = (
    NavItem(N_("Dashboard"), "/dashboard"),
    NavItem(N_("Check symptoms"), "/find-care", frozenset({Role.patient, Role.caregiver, Role.health_worker})),
    NavItem(N_("Who looked at my record"), "/access-log", frozenset({Role.patient})),
    NavItem(N_("My health record"), "/my-record", frozenset({Role.patient})),
    NavItem(N_("Who can see my record"), "/consent", frozenset({Role.patient})),
    NavItem(N_("Find a patient"), "/patients",
            frozenset({Role.practitioner, Role.nurse, Role.health_worker, Role.pharmacist, Role.front_desk,
                       Role.admin})),
    NavItem(N_("My appointments"), "/appointments", frozenset({Role.patient})),
    NavItem(N_("My medicines"), "/medications", frozenset({Role.patient})),
    NavItem(N_("Pharmacy queue"), "/pharmacy", frozenset({Role.pharmacist})),
    NavItem(N_("Practitioner's schedule"), "/schedule",
            frozenset({Role.practitioner, Role.nurse, Role.front_desk, Role.admin})),
    NavItem(N_("Walk-in queue"), "/queue", frozenset({Role.front_desk, Role.nurse})),
    NavItem(N_("Beds and opening hours"), "/facilities/manage",
            frozenset({Role.practitioner, Role.nurse, Role.pharmacist, Role.front_desk, Role.admin})),
    NavItem(N_("Import facilities"), "/admin/facilities/import", frozenset({Role.admin})),
    NavItem(N_("Users"), "/admin/users", frozenset({Role.admin})),
    NavItem(N_("API keys"), "/admin/api-keys", frozenset({Role.admin})),
    NavItem(N_("Messages"), "/inbox"),
    NavItem(N_("Ward view"), "/monitoring/ward", frozenset({Role.practitioner, Role.nurse, Role.admin})),
    NavItem(N_("Open SOS"), "/sos/open", frozenset({Role.practitioner, Role.nurse, Role.health_worker,
                                                     Role.front_desk})),
    NavItem(N_("Profile"), "/profile"),
)
# `?done=<key>` after a redirect shows one of these; only known keys, so a link cannot inject text.
NOTICES: Final[Mapping[str, str]] = {
    "registered": N_("Your account is ready. Sign in to continue."),
    "saved": N_("Saved."),
    "signed-out": N_("You have signed out."),
    "password": N_("Your password has been changed. Other devices were signed out."),
    "totp-on": N_("Two-step sign-in is now on."),
    "totp-off": N_("Two-step sign-in is now off."),
}
ROLE_NAMES: Final[Mapping[Role, str]] = {
    Role.patient: N_("Patient"),
    Role.caregiver: N_("Caregiver"),
    Role.practitioner: N_("Practitioner"),
    Role.nurse: N_("Nurse"),
    Role.health_worker: N_("Health worker"),
    Role.pharmacist: N_("Pharmacist"),
    Role.front_desk: N_("Front desk"),
    Role.admin: N_("Administrator"),
}
ANONYMOUS_NAV: Final[Sequence[NavItem]] = (
    NavItem(N_("Home"), "/"),
    NavItem(N_("Check symptoms"), "/find-care"),
    NavItem(N_("Sign in"), "/login"),
    NavItem(N_("Register"), "/register"),
)


def _static_version(static_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(static_dir.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


class Renderer:
    """One Jinja environment per language, each with that language's `_` installed.

    Separate environments keep `_` a plain global, so macros imported without context translate too.
    """

    def __init__(self, template_dirs: Sequence[Path], translations: Mapping[str, gettext.GNUTranslations],
                 static_dir: Path = STATIC_DIR) -> None:
        version = _static_version(static_dir)
        self.envs: dict[str, Environment] = {}
        loader = FileSystemLoader([str(d) for d in template_dirs])
        for code, tr in translations.items():
            env = Environment(loader=loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                              extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
            env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
            env.globals["static_url"] = _static_url(version)
            env.globals["LANGUAGES"] = LANGUAGES
            env.globals["role_names"] = ROLE_NAMES
            env.filters["datetime"] = _datetime_filter(code)
            self.envs[code] = env
        self.translations = dict(translations)

    def render(self, lang: str, template: str, context: Mapping[str, Any]) -> str:
        return self.envs[lang].get_template(template).render(context)

    def gettext(self, lang: str, message: str) -> str:
        return self.translations[lang].gettext(message)


def _static_url(version: str) -> Callable[[str], str]:
    def static_url(path: str) -> str:
        return f"/static/{path}?v={version}"

    return static_url


def _datetime_filter(lang: str) -> Callable[[datetime], str]:
    def fmt(value: datetime) -> str:
        # Shown in UTC and labelled so: the pages do not know the reader's zone without a script.
        # A day-month-year, 24-hour pattern reads the same in every language offered (no AM/PM, no m/d).
        return format_datetime(value.astimezone(UTC), "d MMM y, HH:mm", tzinfo=UTC, locale=lang) + " UTC"

    return fmt


def is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",", 1)[0].strip().lower() == "https"


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """Only a local path may be a redirect target, so sign-in cannot bounce a user to another site."""
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 32 for ch in value):
        return default
    return value


def set_session_cookie(response: Response, request: Request, value: str, *, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=is_https(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))


def set_language_cookie(response: Response, request: Request, lang: str) -> None:
    response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
                        secure=is_https(request))


@dataclass
class Page:
    """The request as a page sees it."""

    request: Request
    session: Session
    settings: Settings
    clock: Clock
    principal: Principal | None
    me: MeRead | None
    lang: str
    csrf_token: str
    new_csrf_nonce: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def renderer(self) -> Renderer:
        renderer: Renderer = self.request.app.state.web_renderer
        return renderer

    def _(self, message: str) -> str:
        return self.renderer.gettext(self.lang, message)

    def nav(self) -> list[NavItem]:
        if self.principal is None:
            return list(ANONYMOUS_NAV)
        available: frozenset[str] = self.request.app.state.web_page_paths
        role = self.principal.role
        return [item for item in NAV_ITEMS
                if (item.roles is None or role in item.roles) and item.path in available]

    def has_page(self, path: str) -> bool:
        available: frozenset[str] = self.request.app.state.web_page_paths
        return path in available

    def language_next(self) -> str:
        """This page's address to come back to; for a form's answer, the page that shows the form."""
        url = self.request.url
        if self.request.method == "GET":
            return url.path + ("?" + url.query if url.query else "")
        path = url.path
        while path and not self.has_page(path):
            path = path.rsplit("/", 1)[0]
        return path or "/"

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        ctx = base_context(
            lang=self.lang, nav=self.nav(), current_path=self.request.url.path, principal=self.principal,
            me=self.me, csrf_token=self.csrf_token, language_next=self.language_next(),
            notice=NOTICES.get(self.request.query_params.get("done", "")),
        )
        ctx["page"] = self
        ctx.update(context)
        html = self.renderer.render(self.lang, template, ctx)
        response = HTMLResponse(html, status_code=status_code)
        self.finish(response)
        return response

    def redirect(self, to: str) -> RedirectResponse:
        response = RedirectResponse(to, status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.update(self.extra_headers)
        response.headers.setdefault("Content-Language", self.lang)
        if self.new_csrf_nonce is not None:
            response.set_cookie(csrf.CSRF_COOKIE, self.new_csrf_nonce, path="/", httponly=True, samesite="lax",
                                secure=is_https(self.request))


def base_context(*, lang: str, nav: Sequence[NavItem], current_path: str, principal: Principal | None = None,
                 me: MeRead | None = None, csrf_token: str = "", language_next: str | None = None,
                 notice: str | None = None) -> dict[str, Any]:
    """What base.html needs; without a CSRF token the language form is left out (error pages)."""
    return {
        "lang": lang, "nav": list(nav), "current_path": current_path, "principal": principal, "me": me,
        "csrf_token": csrf_token, "csrf_field": csrf.CSRF_FIELD, "notice": notice,
        "show_language_form": bool(csrf_token), "language_next": language_next or current_path,
    }


def _lookup_me(session: Session, principal: Principal | None) -> MeRead | None:
    if principal is None:
        return None
    try:
        return get_me(session, principal)
    except Problem:
        return None


def build_page(request: Request, session: Session, principal: Principal | None, *, settings: Settings,
               clock: Clock, secret: bytes) -> Page:
    me = _lookup_me(session, principal)
    if me is None:
        principal = None
    lang = choose_language(
        user_language=me.language if me else None,
        cookie=request.cookies.get(LANG_COOKIE),
        accept_language=request.headers.get("accept-language"),
        default=settings.default_language,
    )
    nonce = request.cookies.get(csrf.CSRF_COOKIE)
    new_nonce: str | None = None
    if principal is None and not csrf.valid_nonce(nonce):
        nonce = new_nonce = csrf.new_nonce()
    token = csrf.expected_token(secret, session_id=principal.session_id if principal else None, nonce=nonce)
    return Page(request=request, session=session, settings=settings, clock=clock, principal=principal, me=me,
                lang=lang, csrf_token=token or "", new_csrf_nonce=new_nonce)


def get_page(request: Request, session: SessionDep, principal: OptionalPrincipal, settings: SettingsDep,
             clock: ClockDep, keys: KeysDep) -> Page:
    return build_page(request, session, principal, settings=settings, clock=clock, secret=keys.token_secret)


def get_signed_in_page(page: Annotated[Page, Depends(get_page)]) -> Page:
    if page.principal is None or page.me is None:
        # After signing in the visitor comes back here; a form's answer comes back to the form's page.
        raise LoginRequired(page.language_next())
    return page


PageDep = Annotated[Page, Depends(get_page)]
SignedInPageDep = Annotated[Page, Depends(get_signed_in_page)]


def signed_in(page: Page) -> tuple[Principal, MeRead]:
    """The principal and account of a page that `SignedInPageDep` already vouched for."""
    if page.principal is None or page.me is None:  # pragma: no cover - the dependency guarantees both
        raise LoginRequired(page.request.url.path)
    return page.principal, page.me


def page_router() -> APIRouter:
    """A router for HTML pages: hidden from the OpenAPI document and CSRF-guarded on every POST."""
    return APIRouter(tags=[WEB_TAG], include_in_schema=False, default_response_class=HTMLResponse,
                     dependencies=[Depends(csrf.csrf_guard)])


def parse_uuid(value: str | None) -> uuid.UUID | None:
    if not value or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
