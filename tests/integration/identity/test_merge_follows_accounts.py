"""Merging two patient records moves the patient's login and their caregivers to the survivor."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.identity.models import CaregiverLink, User
from carebridge.security import CaregiverScope, Role
from tests.factories import Factory


def test_merge_moves_patient_account_and_caregiver_links(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    duplicate = factory.patient(organization_id=clinic.org, given="Meera", family="Iyer")
    account = factory.user(Role.patient, patient_id=duplicate)
    carer = factory.user(Role.caregiver)
    factory.link_caregiver(carer, duplicate, (CaregiverScope.read_record, CaregiverScope.manage_appointments))
    # the clinic's caregiver is linked to both records: the survivor keeps the union of scopes
    factory.link_caregiver(clinic.users[Role.caregiver], duplicate, (CaregiverScope.update_profile,))

    r = client.post(f"/api/v1/patients/{duplicate}/merge", json={"into": str(clinic.patient_id)},
                    headers=factory.headers(clinic.users[Role.front_desk]))
    assert r.status_code == 200, r.text

    with factory.database.unit_of_work() as s:
        assert s.get(User, account.id).patient_id == clinic.patient_id  # type: ignore[union-attr]
        live = {(link.caregiver_user_id, tuple(sorted(link.scopes)))
                for link in s.scalars(select(CaregiverLink).where(CaregiverLink.patient_id == clinic.patient_id,
                                                                  CaregiverLink.revoked_at.is_(None)))}
        left = s.scalars(select(CaregiverLink).where(CaregiverLink.patient_id == duplicate,
                                                     CaregiverLink.revoked_at.is_(None))).all()
    assert (carer.id, ("manage_appointments", "read_record")) in live
    assert (clinic.users[Role.caregiver].id, ("read_record", "update_profile")) in live
    assert left == []

    # the moved caregiver now reaches the survivor's record
    r = client.get(f"/api/v1/patients/{clinic.patient_id}", headers=factory.headers(carer))
    assert r.status_code == 200, r.text
