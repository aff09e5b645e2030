"""Friendly HTML error pages for people, layered over the kernel's problem+json handlers.

The kernel's handlers stay the answer for the JSON API and for machine clients; these wrap them and
answer with a page only when the request was for a page (a web route, or a browser asking for HTML
outside the API). The error page touches no database, so it renders even when the database is why
the request failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from carebridge.contexts.identity import SESSION_COOKIE
from carebridge.kernel.errors import Problem
from carebridge.web.i18n import LANG_COOKIE, N_, choose_language
from carebridge.web.render import SECURITY_HEADERS, WEB_TAG, LoginRequired, NavItem, Renderer, base_context

log = logging.getLogger("carebridge.web")

MACHINE_PREFIXES: Final = ("/api/", "/fhir", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")

Handler = Callable[[Request, Exception], Awaitable[Response]]

# What each status means to a person, and what they can do about it.
ERROR_TEXT: Final[dict[int, tuple[str, str]]] = {
    400: (N_("Something in that request was not right"), N_("Go back, check what you entered and try again.")),
    401: (N_("Please sign in"), N_("Sign in to continue.")),
    403: (N_("You cannot open this page"), N_("Your account does not have access to this page.")),
    404: (N_("Page not found"), N_("The page may have moved, or the address may be mistyped.")),
    405: (N_("That action is not available here"), N_("Go back and use the buttons on the page.")),
    409: (N_("That clashes with something already saved"), N_("Reload the page to see the latest, then try again.")),
    413: (N_("That was too large"), N_("Send less at once and try again.")),
    422: (N_("Some details were not accepted"), N_("Go back, check what you entered and try again.")),
    429: (N_("Too many attempts"), N_("Wait a few minutes, then try again.")),
    500: (N_("Something went wrong on our side"), N_("The problem has been logged. Please try again later.")),
}
CSRF_TEXT: Final = (
    N_("This form has expired"),
    N_("For your safety each form works only for a while and only in this browser. Go back, reload the page and "
       "send the form again. Cookies must be allowed for this site."),
)


FALLBACK_PAGE: Final = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>CareBridge</title></head><body>'
    "<main><h1>Error %(status)s</h1><p><a href=\"/\">CareBridge</a></p></main></body></html>"
)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(MACHINE_PREFIXES):
        return False
    route = request.scope.get("route")
    if route is not None and WEB_TAG in (getattr(route, "tags", None) or []):
        return True
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, *, slug: str | None = None,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    renderer: Renderer = request.app.state.web_renderer
    settings = request.app.state.settings
    lang = choose_language(user_language=None, cookie=request.cookies.get(LANG_COOKIE),
                           accept_language=request.headers.get("accept-language"),
                           default=settings.default_language)
    title, advice = CSRF_TEXT if slug == "csrf" else ERROR_TEXT.get(status, ERROR_TEXT[400 if status < 500 else 500])
    signed_in = SESSION_COOKIE in request.cookies
    nav = [NavItem(N_("Home"), "/"),
           NavItem(N_("Dashboard"), "/dashboard") if signed_in else NavItem(N_("Sign in"), "/login")]
    context = base_context(lang=lang, nav=nav, current_path=request.url.path)
    context.update(status=status, title=title, advice=advice)
    try:
        html = renderer.render(lang, "error.html", context)
    except Exception:  # the error page must never become a second error
        log.exception("error page failed to render", extra={"path": request.url.path})
        html = FALLBACK_PAGE % {"status": status}
    response = HTMLResponse(html, status_code=status, headers=headers)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install_html_errors(app: FastAPI) -> None:
    """Wrap the kernel's handlers (already installed) so pages get pages and the API keeps problem+json."""
    originals: dict[type[Exception] | int, Handler] = dict(app.exception_handlers)

    def wrap(kind: type[Exception], status_of: Callable[[Exception], tuple[int, str | None, dict[str, str]]]) -> None:
        original = originals[kind]

        async def handler(request: Request, exc: Exception) -> Response:
            if not wants_html(request):
                return await original(request, exc)
            status, slug, headers = status_of(exc)
            if status >= 500:
                log.exception("unhandled error on a page", extra={"path": request.url.path}, exc_info=exc)
            return error_page(request, status, slug=slug, headers=headers)

        app.add_exception_handler(kind, handler)

    def of_problem(exc: Exception) -> tuple[int, str | None, dict[str, str]]:
        assert isinstance(exc, Problem)  # noqa: S101 - registered for Problem only
        keep = {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
        return exc.status, exc.slug, keep

    def of_http(exc: Exception) -> tuple[int, str | None, dict[str, str]]:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for HTTPException only
        keep = {k: v for k, v in (exc.headers or {}).items() if k.lower() in ("allow", "retry-after")}
        return exc.status_code, None, keep

    wrap(Problem, of_problem)
    wrap(StarletteHTTPException, of_http)
    wrap(RequestValidationError, lambda _exc: (422, None, {}))
    wrap(Exception, lambda _exc: (500, None, {}))

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)  # noqa: S101 - registered for LoginRequired only
        from_path = exc.next_path
        target = "/login" if from_path in ("/", "/dashboard") else "/login?" + urlencode({"next": from_path})
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})

    app.add_exception_handler(LoginRequired, login_required)
