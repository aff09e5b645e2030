"""Pages of the identity context: sign in and out, registration, the profile and the admin's user list.

Thin twins of the JSON API over the same service functions. Every form posts back to its own page
(CSRF-guarded by `page_router`), and success answers with a 303 redirect so a reload never resends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from fastapi import Form, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from carebridge.contexts.identity import (
    RegistrationCreate,
    change_password,
    list_users,
    login,
    logout,
    register,
    totp_begin,
    totp_confirm,
    totp_disable,
)
from carebridge.kernel.deps import KeysDep
from carebridge.kernel.errors import Forbidden, Problem, TooManyRequests
from carebridge.security import Role
from carebridge.web.forms import FormErrors, from_problem, from_validation
from carebridge.web.i18n import N_
from carebridge.web.render import (
    Page,
    PageDep,
    SignedInPageDep,
    clear_session_cookie,
    page_router,
    safe_next,
    set_language_cookie,
    set_session_cookie,
    signed_in,
)

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"

router = page_router()

Text = Annotated[str, Form(max_length=256)]
Secret = Annotated[str, Form(max_length=256)]

REGISTER_HINTS: Final = {
    "username": N_("Use 3 to 64 characters: small letters, digits, dot, underscore or hyphen."),
    "password": N_("Use at least 12 characters that others would not guess."),
    "password_again": N_("Type the same password again."),
    "full_name": N_("Enter your full name."),
    "email": N_("Enter an email address like name@example.com, or leave it empty."),
    "phone": N_("Enter a phone number using digits, spaces and an optional + at the start."),
    "birth_date": N_("Enter a date of birth like 1990-04-23, or leave it empty."),
    "sex": N_("Choose one of the options."),
    "role": N_("Choose one of the options."),
}
PASSWORD_HINTS: Final = {
    "current_password": N_("Enter your current password."),
    "new_password": N_("Use at least 12 characters that others would not guess."),
    "password_again": N_("Type the same password again."),
}
TOTP_HINTS: Final = {
    "code": N_("Enter the 6-digit code from your authenticator app."),
    "password": N_("Enter your current password."),
}
SEX_CHOICES: Final = (
    ("", N_("Prefer not to say")),
    ("female", N_("Female")),
    ("male", N_("Male")),
    ("other", N_("Other")),
)
USERS_PAGE_SIZE: Final = 50


def _already_signed_in(page: Page) -> Response | None:
    return page.redirect("/dashboard") if page.principal is not None else None


# --- sign in and out -------------------------------------------------------------------------------

@router.get("/login", summary="Sign-in form")
def login_form(page: PageDep, next: Annotated[str, Query(max_length=500)] = "") -> Response:
    return _already_signed_in(page) or page.render("identity/login.html", next=safe_next(next, ""),
                                                    username="", show_totp=False, errors=FormErrors())


@router.post("/login", summary="Sign in with username, password and, when enrolled, a TOTP code")
def login_submit(page: PageDep, keys: KeysDep, username: Text = "", password: Secret = "", totp_code: Text = "",
                 show_totp: Text = "", next: Annotated[str, Form(max_length=500)] = "") -> Response:
    errors = FormErrors()
    wants_totp = bool(show_totp or totp_code)
    status = 200
    if not username.strip() or not password:
        errors.add(None, page._(N_("Enter your username and password.")))
        status = 422
    else:
        try:
            result = login(page.session, username=username, password=password, totp_code=totp_code.strip() or None,
                           kind="web", client_address=page.request.client.host if page.request.client else None,
                           user_agent=page.request.headers.get("user-agent", "")[:256] or None,
                           settings=page.settings, keys=keys, now=page.clock.now())
        except TooManyRequests as exc:
            minutes = max(1, (int(exc.extra.get("retry_after", 60)) + 59) // 60)
            errors.add(None, page._(N_("Too many attempts. Wait %(minutes)s minutes, then try again."))
                       % {"minutes": minutes})
            status = 429
        except Problem as exc:
            status = 401
            if exc.slug == "totp-required":
                wants_totp = True
                errors.add(None, page._(N_("Enter your password and the 6-digit code from your authenticator app."))
                           if not totp_code.strip() else
                           page._(N_("That code did not work. Check the time on your phone and enter the current "
                                     "code.")))
            elif exc.slug == "account-inactive":
                errors.add(None, page._(N_("This account has been switched off. Ask your clinic's administrator.")))
            else:
                errors.add(None, page._(N_("The username or password is wrong.")))
        else:
            response = page.redirect(safe_next(next, "/dashboard"))
            if result.cookie_value:
                set_session_cookie(response, page.request, result.cookie_value, max_age=result.expires_in)
            set_language_cookie(response, page.request, result.user.language)
            return response
    return page.render("identity/login.html", status_code=status, next=safe_next(next, ""),
                       username=username.strip()[:64], show_totp=wants_totp, errors=errors)


@router.post("/logout", summary="Sign out: end this browser's session")
def logout_submit(page: PageDep) -> Response:
    if page.principal is not None:
        logout(page.session, page.principal, now=page.clock.now())
    response = page.redirect("/?done=signed-out")
    clear_session_cookie(response, page.request)
    return response


# --- registration ----------------------------------------------------------------------------------

@router.get("/register", summary="Registration form for patients and caregivers")
def register_form(page: PageDep) -> Response:
    return _already_signed_in(page) or page.render(
        "identity/register.html", form={"role": "patient"}, errors=FormErrors(), sex_choices=SEX_CHOICES,
        closed=not page.settings.self_registration)


@router.post("/register", summary="Create a patient or caregiver account")
def register_submit(page: PageDep, username: Text = "", password: Secret = "", password_again: Secret = "",
                    full_name: Text = "", email: Text = "", phone: Text = "", birth_date: Text = "", sex: Text = "",
                    role: Text = "patient") -> Response:
    form = {"username": username, "full_name": full_name, "email": email, "phone": phone, "birth_date": birth_date,
            "sex": sex, "role": role}
    errors = FormErrors()
    data: RegistrationCreate | None = None
    try:
        data = RegistrationCreate.model_validate({
            "username": username, "password": password, "full_name": full_name, "email": email.strip() or None,
            "phone": phone.strip() or None, "birth_date": birth_date.strip() or None, "sex": sex or None,
            "role": role, "language": page.lang,
        })
    except ValidationError as exc:
        from_validation(exc, REGISTER_HINTS, page._, errors)
    if password and password != password_again:
        errors.add("password_again", page._(REGISTER_HINTS["password_again"]))
    status = 422
    if data is not None and not errors:
        try:
            register(page.session, data=data, settings=page.settings, now=page.clock.now())
        except Problem as exc:
            status = exc.status
            if exc.slug == "registration-closed":
                errors.add(None, page._(N_("This service does not allow self-registration. Ask your clinic to "
                                           "create your account.")))
            else:
                from_problem(exc, REGISTER_HINTS, page._, N_("Check what you entered."), errors)
        else:
            return page.redirect("/login?done=registered")
    return page.render("identity/register.html", status_code=status, form=form, errors=errors,
                       sex_choices=SEX_CHOICES, closed=not page.settings.self_registration)


# --- profile ---------------------------------------------------------------------------------------

def _profile(page: Page, *, status_code: int = 200, password_errors: FormErrors | None = None,
             totp_errors: FormErrors | None = None) -> HTMLResponse:
    return page.render("identity/profile.html", status_code=status_code,
                       password_errors=password_errors or FormErrors(), totp_errors=totp_errors or FormErrors())


@router.get("/profile", summary="The signed-in user's account, password, two-step sign-in and language")
def profile(page: SignedInPageDep) -> HTMLResponse:
    return _profile(page)


@router.post("/profile/password", summary="Change the password (ends the account's other sessions)")
def profile_password(page: SignedInPageDep, current_password: Secret = "", new_password: Secret = "",
                     password_again: Secret = "") -> Response:
    principal, _me = signed_in(page)
    errors = FormErrors()
    if not current_password:
        errors.add("current_password", page._(PASSWORD_HINTS["current_password"]))
    if not new_password:
        errors.add("new_password", page._(PASSWORD_HINTS["new_password"]))
    elif new_password != password_again:
        errors.add("password_again", page._(PASSWORD_HINTS["password_again"]))
    if not errors:
        try:
            change_password(page.session, principal, current_password=current_password, new_password=new_password,
                            now=page.clock.now(), settings=page.settings)
        except TooManyRequests:
            errors.add(None, page._(N_("Too many attempts. Wait a few minutes, then try again.")))
        except Problem as exc:
            from_problem(exc, PASSWORD_HINTS, page._, N_("Check what you entered."), errors)
        else:
            return page.redirect("/profile?done=password")
    return _profile(page, status_code=422, password_errors=errors)


@router.post("/profile/totp", summary="Begin two-step sign-in: show the QR code and the key")
def profile_totp_begin(page: SignedInPageDep, keys: KeysDep) -> Response:
    principal, me = signed_in(page)
    if me.totp_enabled:
        return page.redirect("/profile")
    setup = totp_begin(page.session, principal, keys=keys)
    # The QR code is SVG the identity service drew with segno from the otpauth URI (no user text
    # reaches its markup, only its modules), so it is inlined: no second request, no data: URI.
    groups = " ".join(setup.secret[i:i + 4] for i in range(0, len(setup.secret), 4))
    return page.render("identity/totp_setup.html", setup=setup, qr_svg=Markup(setup.qr_svg),  # noqa: S704
                       secret_groups=groups, errors=FormErrors())


@router.post("/profile/totp/confirm", summary="Turn two-step sign-in on with a code from the app")
def profile_totp_confirm(page: SignedInPageDep, keys: KeysDep, code: Text = "") -> Response:
    principal, me = signed_in(page)
    if me.totp_enabled:
        return page.redirect("/profile")
    errors = FormErrors()
    if not code.strip():
        errors.add("code", page._(TOTP_HINTS["code"]))
    else:
        try:
            totp_confirm(page.session, principal, code=code.strip(), keys=keys, now=page.clock.now())
        except Problem as exc:
            from_problem(exc, TOTP_HINTS, page._, TOTP_HINTS["code"], errors)
        else:
            return page.redirect("/profile?done=totp-on")
    # The secret is not shown again: the app already holds it, and "start again" makes a new one.
    return page.render("identity/totp_setup.html", status_code=422, setup=None, errors=errors)


@router.post("/profile/totp/disable", summary="Turn two-step sign-in off (password and a current code)")
def profile_totp_disable(page: SignedInPageDep, keys: KeysDep, password: Secret = "", code: Text = "") -> Response:
    principal, _me = signed_in(page)
    errors = FormErrors()
    if not password:
        errors.add("password", page._(TOTP_HINTS["password"]))
    if not code.strip():
        errors.add("code", page._(TOTP_HINTS["code"]))
    if not errors:
        try:
            totp_disable(page.session, principal, password=password, code=code.strip(), keys=keys,
                         now=page.clock.now(), settings=page.settings)
        except TooManyRequests:
            errors.add(None, page._(N_("Too many attempts. Wait a few minutes, then try again.")))
        except Problem as exc:
            from_problem(exc, TOTP_HINTS, page._, TOTP_HINTS["code"], errors)
        else:
            return page.redirect("/profile?done=totp-off")
    return _profile(page, status_code=422, totp_errors=errors)


# --- administration --------------------------------------------------------------------------------

@router.get("/admin/users", summary="The organization's user accounts (admins)")
def users(page: SignedInPageDep, cursor: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    principal, me = signed_in(page)
    if principal.role is not Role.admin:
        raise Forbidden("only administrators manage user accounts")
    if me.totp_required:
        return page.render("identity/users.html", status_code=403, users=[], next_cursor=None, needs_totp=True)
    result = list_users(page.session, principal, cursor=cursor, limit=USERS_PAGE_SIZE)
    return page.render("identity/users.html", users=result.items, next_cursor=result.next_cursor,
                       needs_totp=False)
