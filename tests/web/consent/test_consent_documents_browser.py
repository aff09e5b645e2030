"""A real browser against a real server, JavaScript off: the patient withholds their documents from the clinic
that treats them, and the clinic's doctor is refused the documents page; the patient revokes that, and the
doctor uploads a PDF lab report and sees it verify (hash, signature, signer all pass)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from carebridge.security import Role
from tests.servers import running_server
from tests.web.seeded import seeded_data_dir
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PHONE, _require_chromium, sign_in_page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@dataclass
class World:
    base: str
    patient_id: str
    patient: str
    doctor: str
    pdf: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("consent-browser")
    seeded = seeded_data_dir(data_dir)
    org = seeded.factory.organization("Lotus Clinic")
    pid = seeded.factory.patient(organization_id=org, given="Meera", family="Iyer")
    patient = seeded.factory.user(Role.patient, patient_id=pid)
    doctor = seeded.factory.user(Role.practitioner, organization_id=org)
    seeded.database.dispose()
    pdf = data_dir / "haemogram.pdf"
    pdf.write_bytes(PDF)
    with running_server(seeded.env, data_dir / "server.log") as base:
        yield World(base=base, patient_id=str(pid), patient=patient.username, doctor=doctor.username, pdf=pdf)


def test_withhold_documents_then_revoke_then_upload_and_verify(world: World) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def sign_in(page: Page, username: str) -> None:
        sign_in_page(page, world.base, username)

    documents = f"{world.base}/record/{world.patient_id}/documents"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            def fresh() -> Page:
                return browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB").new_page()

            p = fresh()
            sign_in(p, world.patient)
            p.get_by_role("link", name="Who can see my record").first.click()
            expect(p.get_by_text("Lotus Clinic").first).to_be_visible()
            p.get_by_label("Lotus Clinic").check()
            p.get_by_label("No, withhold it").check()
            p.get_by_label("Documents", exact=True).check()
            p.get_by_role("button", name="Save").click()
            expect(p.get_by_text("You withheld:").first).to_be_visible()

            d = fresh()
            sign_in(d, world.doctor)
            refused = d.goto(documents)
            assert refused is not None and refused.status == 403

            p.get_by_role("button", name="Revoke").first.click()
            expect(p.get_by_text("You withheld:")).to_have_count(0)

            allowed = d.goto(documents)
            assert allowed is not None and allowed.status == 200
            d.get_by_label("Kind of document").select_option("lab_report")
            d.get_by_label("Title").fill("Haemogram")
            d.get_by_label("File").set_input_files(str(world.pdf))
            d.get_by_role("button", name="Upload").click()
            expect(d.get_by_text("The document was uploaded, signed and stored encrypted.")).to_be_visible()
            d.get_by_role("link", name="Verify it").click()
            expect(d.get_by_text("Verified: every check passed.")).to_be_visible()
            d.screenshot(path=str(ARTIFACTS / "document-verified.png"), full_page=True)
        finally:
            browser.close()
