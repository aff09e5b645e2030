"""The access decision over consent facts, as a pure function: the authorization matrix's consent rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from carebridge.security import (
    ConsentFact,
    ConsentKind,
    DataCategory,
    PatientFacts,
    Permission,
    Principal,
    Role,
    decide_patient_access,
    needs_consent_facts,
)
from carebridge.security.roles import CaregiverScope

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
PATIENT = uuid.uuid4()
ORG = uuid.uuid4()
OTHER_ORG = uuid.uuid4()


def staff(role: Role = Role.practitioner, org: uuid.UUID | None = ORG) -> Principal:
    return Principal(user_id=uuid.uuid4(), role=role, organization_id=org)


def facts(*consents: ConsentFact, orgs: frozenset[uuid.UUID] = frozenset({ORG})) -> PatientFacts:
    return PatientFacts(patient_id=PATIENT, organization_ids=orgs, consents=consents, at=NOW)


@pytest.mark.parametrize("category", [DataCategory.demographics, DataCategory.clinical, DataCategory.vitals,
                                      DataCategory.prescriptions, DataCategory.documents])
def test_treating_organization_reads_the_default_categories(category: DataCategory) -> None:
    d = decide_patient_access(staff(), Permission.record_read, facts(), category)
    assert (d.allowed, d.basis) == (True, "organization")


def test_mental_health_is_outside_default_access_even_if_configured() -> None:
    configured = PatientFacts(patient_id=PATIENT, organization_ids=frozenset({ORG}),
                              organization_default=frozenset(DataCategory), at=NOW)
    d = decide_patient_access(staff(), Permission.record_read, configured, DataCategory.mental_health)
    assert (d.allowed, d.basis) == (False, "denied:consent-required")


def test_an_explicit_grant_opens_mental_health_to_that_practitioner_only() -> None:
    doctor, colleague = staff(), staff()
    grant = ConsentFact(kind=ConsentKind.grant, grantee_user_id=doctor.user_id,
                        categories=frozenset({DataCategory.mental_health}))
    assert decide_patient_access(doctor, Permission.record_read, facts(grant), DataCategory.mental_health).basis \
        == "consent"
    assert not decide_patient_access(colleague, Permission.record_read, facts(grant),
                                     DataCategory.mental_health).allowed


def test_a_grant_opens_the_record_to_a_non_treating_organization_within_its_categories() -> None:
    outsider = staff(org=OTHER_ORG)
    grant = ConsentFact(kind=ConsentKind.grant, grantee_organization_id=OTHER_ORG,
                        categories=frozenset({DataCategory.documents}))
    assert decide_patient_access(outsider, Permission.record_read, facts(grant), DataCategory.documents).allowed
    refused = decide_patient_access(outsider, Permission.record_read, facts(grant), DataCategory.clinical)
    assert (refused.allowed, refused.basis) == (False, "denied:organization")


def test_an_expired_grant_no_longer_counts() -> None:
    outsider = staff(org=OTHER_ORG)
    grant = ConsentFact(kind=ConsentKind.grant, grantee_organization_id=OTHER_ORG, expires_at=NOW)
    assert not decide_patient_access(outsider, Permission.record_read, facts(grant), DataCategory.clinical).allowed
    later = ConsentFact(kind=ConsentKind.grant, grantee_organization_id=OTHER_ORG, expires_at=NOW + timedelta(1))
    assert decide_patient_access(outsider, Permission.record_read, facts(later), DataCategory.clinical).allowed


def test_a_grant_limited_to_a_purpose_does_not_cover_another() -> None:
    outsider = staff(org=OTHER_ORG)
    grant = ConsentFact(kind=ConsentKind.grant, grantee_organization_id=OTHER_ORG,
                        purposes=frozenset({"research"}))
    assert decide_patient_access(outsider, Permission.record_read, facts(grant), DataCategory.clinical,
                                 purpose="research").allowed
    assert not decide_patient_access(outsider, Permission.record_read, facts(grant), DataCategory.clinical,
                                     purpose="treatment").allowed


def test_the_patient_narrows_a_treating_organization() -> None:
    deny = ConsentFact(kind=ConsentKind.restriction, grantee_organization_id=ORG,
                       categories=frozenset({DataCategory.documents}))
    refused = decide_patient_access(staff(), Permission.record_read, facts(deny), DataCategory.documents)
    assert (refused.allowed, refused.basis) == (False, "denied:consent-restricted")
    assert decide_patient_access(staff(), Permission.record_read, facts(deny), DataCategory.clinical).allowed


def test_break_glass_opens_everything_for_its_clinician_until_it_expires() -> None:
    doctor = staff(org=OTHER_ORG)
    glass = ConsentFact(kind=ConsentKind.break_glass, grantee_user_id=doctor.user_id,
                        expires_at=NOW + timedelta(minutes=60))
    deny = ConsentFact(kind=ConsentKind.restriction, grantee_organization_id=OTHER_ORG)
    d = decide_patient_access(doctor, Permission.record_read, facts(glass, deny), DataCategory.mental_health)
    assert (d.allowed, d.basis) == (True, "break-glass")
    lapsed = ConsentFact(kind=ConsentKind.break_glass, grantee_user_id=doctor.user_id, expires_at=NOW)
    assert not decide_patient_access(doctor, Permission.record_read, facts(lapsed), DataCategory.clinical).allowed


def test_break_glass_does_not_lift_role_limits() -> None:
    desk = staff(Role.front_desk, org=OTHER_ORG)
    glass = ConsentFact(kind=ConsentKind.break_glass, grantee_user_id=desk.user_id)
    assert decide_patient_access(desk, Permission.record_read, facts(glass)).basis == "denied:role"


def caregiver(*scopes: CaregiverScope) -> Principal:
    return Principal(user_id=uuid.uuid4(), role=Role.caregiver, caregiver_of={PATIENT: frozenset(scopes)})


def test_caregiver_needs_the_scope_and_an_explicit_grant_for_mental_health() -> None:
    carer = caregiver(CaregiverScope.read_record)
    assert decide_patient_access(carer, Permission.record_read, facts(), DataCategory.clinical).allowed
    assert decide_patient_access(carer, Permission.record_read, facts(), DataCategory.mental_health).basis \
        == "denied:consent-required"
    grant = ConsentFact(kind=ConsentKind.grant, grantee_user_id=carer.user_id,
                        categories=frozenset({DataCategory.mental_health}))
    assert decide_patient_access(carer, Permission.record_read, facts(grant), DataCategory.mental_health).allowed
    assert decide_patient_access(carer, Permission.consent_manage, facts()).basis == "denied:scope"
    manager = caregiver(CaregiverScope.manage_consent)
    assert decide_patient_access(manager, Permission.consent_manage, facts()).allowed


def test_consent_management_is_the_patients_side_only() -> None:
    admin = staff(Role.admin)
    assert decide_patient_access(admin, Permission.consent_manage, facts()).basis == "denied:patient-only"
    me = Principal(user_id=uuid.uuid4(), role=Role.patient, patient_id=PATIENT)
    assert decide_patient_access(me, Permission.consent_manage, facts()).basis == "own"


def test_no_consent_lookup_for_a_patients_own_record_or_a_refused_role() -> None:
    me = Principal(user_id=uuid.uuid4(), role=Role.patient, patient_id=PATIENT)
    assert not needs_consent_facts(me, Permission.record_read, PATIENT)
    assert not needs_consent_facts(staff(Role.front_desk), Permission.record_read, PATIENT)
    assert not needs_consent_facts(caregiver(), Permission.record_read, uuid.uuid4())
    assert needs_consent_facts(staff(), Permission.record_read, PATIENT)
