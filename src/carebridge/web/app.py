"""Mounts the web pages, their templates, the static files and the HTML error pages on the application.

Each context with pages has a `web.py` exposing `router` (built with `page_router()`) and
`TEMPLATE_DIR` (its `templates/` folder, holding `templates/<context>/*.html`); adding one is two
lines in `PAGE_MODULES`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from os import PathLike
from types import ModuleType
from typing import Final

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from carebridge.contexts.audit import web as audit_web
from carebridge.contexts.care import web as care_web
from carebridge.contexts.consent import web as consent_web
from carebridge.contexts.documents import web as documents_web
from carebridge.contexts.emergency import web as emergency_web
from carebridge.contexts.facilities import web as facilities_web
from carebridge.contexts.identity import web as identity_web
from carebridge.contexts.integrations import web as integrations_web
from carebridge.contexts.monitoring import web as monitoring_web
from carebridge.contexts.notifications import web as notifications_web
from carebridge.contexts.prescribing import web as prescribing_web
from carebridge.contexts.records import web as records_web
from carebridge.contexts.scheduling import web as scheduling_web
from carebridge.web.errors import install_html_errors
from carebridge.web.i18n import load_translations
from carebridge.web.pages import home
from carebridge.web.render import STATIC_DIR, TEMPLATES_DIR, WEB_TAG, Renderer

PAGE_MODULES: Final[tuple[ModuleType, ...]] = (identity_web, audit_web, scheduling_web, facilities_web, care_web,
                                               integrations_web, records_web, monitoring_web,
                                               emergency_web, notifications_web, prescribing_web, documents_web,
                                               consent_web)


class VersionedStaticFiles(StaticFiles):
    """Static files with a long cache life: pages link them as `?v=<content hash>`, so a change is a new URL.

    On a slow network the stylesheet is then fetched once, not revalidated on every page.
    """

    def file_response(self, full_path: PathLike[str] | str, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if scope.get("query_string", b"").startswith(b"v="):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def page_paths(routers: Iterable[APIRouter]) -> frozenset[str]:
    """GET pages that exist, so navigation links only to pages that are really there."""
    return frozenset(
        route.path for router in routers for route in router.routes
        if isinstance(route, APIRoute) and WEB_TAG in route.tags and "GET" in (route.methods or ())
        and "{" not in route.path
    )


def mount_web(app: FastAPI) -> None:
    template_dirs = [TEMPLATES_DIR, *(module.TEMPLATE_DIR for module in PAGE_MODULES)]
    app.state.web_renderer = Renderer(template_dirs, load_translations())
    routers: list[APIRouter] = [home.router, *(module.router for module in PAGE_MODULES)]
    for router in routers:
        app.include_router(router)
    app.state.web_page_paths = page_paths(routers)
    app.mount("/static", VersionedStaticFiles(directory=STATIC_DIR), name="static")
    install_html_errors(app)
