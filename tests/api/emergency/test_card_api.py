"""The emergency profile and card through the API, and `carebridge verify-card` on what the API issued."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from carebridge.cli import app as cli_app
from carebridge.contexts.emergency import load_public_key, verify_card
from carebridge.security import CaregiverScope, Role
from tests.factories import Clinic, Factory

PROFILE = {"blood_group": "O+", "allergies": ["penicillin", "peanuts"], "conditions": ["asthma"],
           "medications": ["salbutamol inhaler"], "notes": "carries an inhaler"}


@pytest.fixture
def clinic(factory: Factory, client: TestClient) -> Clinic:
    c = factory.clinic()
    contact = {"name": "Ravi Iyer", "relationship": "husband", "phone": "+91 98200 22222"}
    r = client.post(f"/api/v1/patients/{c.patient_id}/emergency-contacts", json=contact,
                    headers=factory.headers(c.users[Role.patient]))
    assert r.status_code == 201, r.text
    return c


def put(client: TestClient, factory: Factory, clinic: Clinic, who: Role, body: dict[str, object]) -> int:
    return client.put(f"/api/v1/patients/{clinic.patient_id}/emergency-profile", json=body,
                      headers=factory.headers(clinic.users[who])).status_code


def test_the_patient_keeps_the_profile_and_staff_of_their_clinic_read_it(client: TestClient, factory: Factory,
                                                                         clinic: Clinic) -> None:
    assert put(client, factory, clinic, Role.patient, PROFILE) == 200
    url = f"/api/v1/patients/{clinic.patient_id}/emergency-profile"
    read = client.get(url, headers=factory.headers(clinic.users[Role.nurse])).json()
    assert read["blood_group"] == "O+" and read["allergies"] == ["penicillin", "peanuts"]
    assert read["emergency_contacts"] == [{"name": "Ravi Iyer", "relationship": "husband",
                                           "phone": "+91 98200 22222"}]
    assert put(client, factory, clinic, Role.nurse, PROFILE) == 403  # patient-owned
    assert put(client, factory, clinic, Role.caregiver, PROFILE) == 403  # linked without update_profile
    elsewhere = factory.user(Role.nurse, organization_id=clinic.other_org)
    assert client.get(url, headers=factory.headers(elsewhere)).status_code == 403


def test_a_caregiver_allowed_to_update_the_profile_may(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    helper = factory.user(Role.caregiver)
    factory.link_caregiver(helper, clinic.patient_id, (CaregiverScope.read_record, CaregiverScope.update_profile))
    r = client.put(f"/api/v1/patients/{clinic.patient_id}/emergency-profile", json={"blood_group": "B-"},
                   headers=factory.headers(helper))
    assert r.status_code == 200 and r.json()["blood_group"] == "B-"


@pytest.mark.parametrize("body", [{"blood_group": "Z+"}, {"allergies": ["x" * 81]}, {"allergies": ["a"] * 21},
                                  {"notes": "n" * 301}, {"unknown": 1}])
def test_an_invalid_profile_is_a_problem(client: TestClient, factory: Factory, clinic: Clinic,
                                         body: dict[str, object]) -> None:
    r = client.put(f"/api/v1/patients/{clinic.patient_id}/emergency-profile", json=body,
                   headers=factory.headers(clinic.users[Role.patient]))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def test_the_card_verifies_with_the_published_key(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    put(client, factory, clinic, Role.patient, PROFILE)
    headers = factory.headers(clinic.users[Role.patient])
    card = client.get(f"/api/v1/patients/{clinic.patient_id}/emergency-card", headers=headers)
    assert card.status_code == 200
    body = card.json()
    assert body["qr_svg"].startswith("<svg") and "Blood: O+" in body["text"]
    key = client.get("/.well-known/carebridge-card-key").json()
    assert key["key_id"] == body["key_id"] and key["algorithm"] == "Ed25519"
    pem = client.get("/.well-known/carebridge-card-key.pem").text
    assert pem == key["public_key_pem"]
    assert verify_card(body["text"], load_public_key(pem.encode())).valid
    text = client.get(f"/api/v1/patients/{clinic.patient_id}/emergency-card",
                      headers={**headers, "Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == body["text"]


def test_strangers_get_no_card(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    stranger = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    r = client.get(f"/api/v1/patients/{clinic.patient_id}/emergency-card", headers=factory.headers(stranger))
    assert r.status_code == 403


def _issued(client: TestClient, factory: Factory, clinic: Clinic) -> str:
    put(client, factory, clinic, Role.patient, PROFILE)
    text: str = client.get(f"/api/v1/patients/{clinic.patient_id}/emergency-card",
                           headers=factory.headers(clinic.users[Role.patient])).json()["text"]
    return text


def test_verify_card_cli_exit_codes(client: TestClient, factory: Factory, clinic: Clinic, app: FastAPI,
                                    tmp_path: Path) -> None:
    card = _issued(client, factory, clinic)
    key_file = tmp_path / "card-key.pem"
    key_file.write_text(app.state.keys.public_key_pem())
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["verify-card", "--public-key", str(key_file)], input=card)
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and "Blood: O+" in ok.output and "Name: Meera Iyer" in ok.output
    as_arg = runner.invoke(cli_app, ["verify-card", card, "--public-key", str(key_file), "--json"])
    assert as_arg.exit_code == 0 and '"valid": true' in as_arg.output
    tampered = runner.invoke(cli_app, ["verify-card", "--public-key", str(key_file)],
                             input=card.replace("Blood: O+", "Blood: A+"))
    assert tampered.exit_code == 1 and "bad signature" in tampered.output
    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    wrong = runner.invoke(cli_app, ["verify-card", "--public-key", str(other)], input=card)
    assert wrong.exit_code == 1 and "different key" in wrong.output
    missing = runner.invoke(cli_app, ["verify-card", "--public-key", str(tmp_path / "none.pem")], input=card)
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_verify_card_cli_uses_the_data_dir_key_by_default(client: TestClient, factory: Factory, clinic: Clinic,
                                                          app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    card = _issued(client, factory, clinic)
    monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(app.state.settings.data_dir))
    result = CliRunner().invoke(cli_app, ["verify-card"], input=card)
    assert result.exit_code == 0, result.output
