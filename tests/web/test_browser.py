"""A real browser, a real server: register, sign in, see the dashboard, switch to Hindi, sign out.

Runs Debian's /usr/bin/chromium through Playwright (no browser download) with JavaScript switched
off, which is the proof that the pages need none. Screenshots land in test-artifacts/web/ at a
phone and a desktop size. Outside CI a missing Chromium skips the test; in CI it fails it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.factories import DEFAULT_PASSWORD
from tests.servers import running_server

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PASSWORD = "marigold harbour pebble 82"

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def sign_in_page(page: Page, base: str, username: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the login form and land on the dashboard (the browser tests' common first step)."""
    from playwright.sync_api import expect  # playwright is imported only where a browser test runs

    page.goto(base + "/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/dashboard")


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_ENV="test", CAREBRIDGE_LOG_LEVEL="WARNING")
    subprocess.run([sys.executable, "-m", "carebridge.cli", "migrate"], env=env, check=True, timeout=180,
                   capture_output=True)
    with running_server(env, data_dir / "server.log") as base:
        yield base


def test_register_sign_in_dashboard_hindi_sign_out(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, java_script_enabled=False,
                                          locale="en-GB")
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda err: problems.append(str(err)))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

            page.goto(server + "/")
            expect(page.locator("h1")).to_have_text("Welcome to CareBridge")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.screenshot(path=str(ARTIFACTS / "home-phone.png"), full_page=True)

            page.get_by_role("link", name="Create an account").first.click()
            expect(page.locator("h1")).to_have_text("Create an account")
            page.get_by_label("A patient: I want my own health record").check()
            page.get_by_label("Full name", exact=True).fill("Kavya Nair")
            page.get_by_label("Username", exact=True).fill("kavya.nair")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("Type the password again", exact=True).fill(PASSWORD)
            page.get_by_label("Mobile phone").fill("+91 98450 12345")
            page.screenshot(path=str(ARTIFACTS / "register-phone.png"), full_page=True)
            page.get_by_role("button", name="Create account").click()

            expect(page).to_have_url(server + "/login?done=registered")
            expect(page.get_by_role("status")).to_contain_text("Your account is ready")
            page.get_by_label("Username", exact=True).fill("kavya.nair")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()

            expect(page).to_have_url(server + "/dashboard")
            expect(page.locator("h1")).to_have_text("Hello, Kavya Nair")
            expect(page.get_by_role("link", name="Who looked at my record").first).to_be_visible()
            session = [c for c in context.cookies() if c["name"] == "cb_session"]
            assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"
            page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

            page.get_by_role("button", name="हिन्दी").click()
            expect(page.locator("html")).to_have_attribute("lang", "hi")
            expect(page.locator("h1")).to_have_text("नमस्ते, Kavya Nair")
            expect(page.get_by_role("link", name="मेरा रिकॉर्ड किसने देखा").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "dashboard-hindi-phone.png"), full_page=True)

            page.get_by_role("link", name="मेरा रिकॉर्ड किसने देखा").first.click()
            expect(page.locator("h1")).to_have_text("मेरा रिकॉर्ड किसने देखा")
            page.screenshot(path=str(ARTIFACTS / "access-log-hindi-phone.png"), full_page=True)

            page.get_by_role("button", name="साइन आउट करें").click()
            expect(page.get_by_role("status")).to_have_text("आप साइन आउट हो गए हैं।")
            assert not [c for c in context.cookies() if c["name"] == "cb_session"]
            page.goto(server + "/dashboard")
            expect(page).to_have_url(server + "/login")  # signed out for real
            assert not problems, problems
            context.close()

            desktop = browser.new_context(viewport=DESKTOP, java_script_enabled=False, locale="en-GB")
            dpage = desktop.new_page()
            dpage.goto(server + "/login")
            dpage.get_by_label("Username", exact=True).fill("kavya.nair")
            dpage.get_by_label("Password", exact=True).fill(PASSWORD)
            dpage.get_by_role("button", name="Sign in").click()
            expect(dpage.locator("html")).to_have_attribute("lang", "hi")  # a new browser: the account remembers
            dpage.get_by_role("button", name="English").click()
            expect(dpage.locator("h1")).to_have_text("Hello, Kavya Nair")
            dpage.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)
            dpage.goto(server + "/profile")
            dpage.screenshot(path=str(ARTIFACTS / "profile-desktop.png"), full_page=True)
            dpage.get_by_role("button", name="Set up two-step sign-in").click()
            expect(dpage.locator("h1")).to_have_text("Set up two-step sign-in")
            expect(dpage.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
            dpage.screenshot(path=str(ARTIFACTS / "totp-setup-desktop.png"), full_page=True)
            desktop.close()
        finally:
            browser.close()
    for name in ("home-phone", "dashboard-phone", "dashboard-hindi-phone", "dashboard-desktop"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5000
