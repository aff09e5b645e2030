"""The administrators' page for integration API keys: issue one (shown once, on the answer page), revoke one.

It posts to the same services as the JSON API, so the same permission (`api_key:manage`, with two-factor
sign-in) and the same audit entries apply.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Final

from fastapi import Form
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts.integrations import service
from carebridge.contexts.integrations.schemas import ApiKeyCreate, ApiKeyIssued
from carebridge.web.i18n import N_
from carebridge.web.render import Page, SignedInPageDep, page_router, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
PAGE_PATH: Final = "/admin/api-keys"

router = page_router()


def _render(page: Page, *, issued: ApiKeyIssued | None = None, error: str | None = None,
            status_code: int = 200) -> Response:
    principal, _me = signed_in(page)
    keys = service.list_keys(page.session, principal).items
    return page.render("integrations/api_keys.html", keys=keys, issued=issued, error=error, status_code=status_code)


@router.get(PAGE_PATH, summary="Integration API keys (administrators)")
def keys_page(page: SignedInPageDep) -> Response:
    return _render(page)


@router.post(PAGE_PATH, summary="Issue an API key and show it once")
def issue_submit(page: SignedInPageDep, app_name: Annotated[str, Form(max_length=200)] = "") -> Response:
    principal, _me = signed_in(page)
    try:
        data = ApiKeyCreate(app_name=app_name)
    except ValidationError:
        return _render(page, error=page._(N_("Give the app a name of at most 100 characters.")), status_code=422)
    issued = service.issue_key(page.session, principal, data=data, now=page.clock.now())
    return _render(page, issued=issued)


@router.post(PAGE_PATH + "/{key_id}/revoke", summary="Revoke an API key")
def revoke_submit(page: SignedInPageDep, key_id: uuid.UUID) -> Response:
    principal, _me = signed_in(page)
    service.revoke_key(page.session, principal, key_id=key_id, now=page.clock.now())
    return page.redirect(PAGE_PATH)
