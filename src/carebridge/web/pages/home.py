"""Home, the per-role dashboard and the language switch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Form
from fastapi.responses import HTMLResponse, Response

from carebridge.contexts.identity import CaredPatientRead, list_cared_patients, set_language
from carebridge.security import STAFF_ROLES, Role
from carebridge.web.i18n import N_, supported
from carebridge.web.render import (
    ROLE_NAMES,
    PageDep,
    SignedInPageDep,
    page_router,
    safe_next,
    set_language_cookie,
    signed_in,
)

router = page_router()


@dataclass(frozen=True, slots=True)
class Card:
    title: str
    text: str
    path: str
    roles: frozenset[Role]


_ALL: Final = frozenset(Role)

DASHBOARD_CARDS: Final[Sequence[Card]] = (
    Card(N_("Who looked at my record"),
         N_("See every time someone opened or changed your record, and why."), "/access-log",
         frozenset({Role.patient})),
    Card(N_("Find a patient"), N_("Search patients cared for by your organization."), "/patients",
         frozenset(STAFF_ROLES)),
    Card(N_("Users"), N_("Create staff accounts, change roles and switch accounts off."), "/admin/users",
         frozenset({Role.admin})),
    Card(N_("Profile"), N_("Change your password, set up two-step sign-in and choose your language."), "/profile",
         _ALL),
)



@router.get("/", summary="Home: what CareBridge is, with sign-in and registration")
def home(page: PageDep) -> HTMLResponse:
    return page.render("home.html")


@router.get("/dashboard", summary="The signed-in user's starting page, by role")
def dashboard(page: SignedInPageDep) -> HTMLResponse:
    principal, _me = signed_in(page)
    cards = [c for c in DASHBOARD_CARDS if principal.role in c.roles and page.has_page(c.path)]
    cared: list[CaredPatientRead] = []
    if principal.role is Role.caregiver:
        cared = list_cared_patients(page.session, principal, now=page.clock.now())
    return page.render("dashboard.html", cards=cards, cared=cared, role_name=ROLE_NAMES[principal.role])


@router.post("/language", summary="Switch the page language; remembered for the visitor and the account")
def switch_language(page: PageDep, lang: Annotated[str, Form(max_length=8)] = "",
                    next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    chosen = supported(lang)
    target = safe_next(next, "/")
    if chosen is None:
        return page.redirect(target)
    if page.principal is not None:
        set_language(page.session, page.principal, language=chosen)
    page.lang = chosen
    response = page.redirect(target)
    set_language_cookie(response, page.request, chosen)
    return response
