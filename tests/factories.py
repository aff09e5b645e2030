"""Factories for realistic synthetic data: organizations, users of every role, patients, tokens.

They write through the real database (inside the test's SAVEPOINT) so every test sees committed rows.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI

from carebridge.contexts.identity.models import AuthSession, CaregiverLink, User
from carebridge.contexts.identity.passwords import hash_password
from carebridge.contexts.identity.tokens import issue_access_token
from carebridge.contexts.patients.models import Patient, PatientIdentifier, PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import CaregiverScope, Role

DEFAULT_PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
_HASH_CACHE: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = hash_password(password)
    return _HASH_CACHE[password]


@dataclass
class Factory:
    app: FastAPI
    database: Database
    clock: FixedClock
    _orgs: dict[str, uuid.UUID] = field(default_factory=dict)

    def organization(self, name: str | None = None, type_: str = "clinic") -> uuid.UUID:
        n = next(_counter)
        with self.database.unit_of_work() as s:
            org = Organization(id=uuid.uuid4(), name=name or f"Sunrise Clinic {n}", type=type_, country="IN",
                               city="Pune", created_at=self.clock.now(), updated_at=self.clock.now())
            s.add(org)
        return org.id

    def patient(self, *, organization_id: uuid.UUID | None = None, given: str = "Asha", family: str = "Verma",
                birth_date: date | None = None, phone: str | None = None, **extra: Any) -> uuid.UUID:
        n = next(_counter)
        with self.database.unit_of_work() as s:
            p = Patient(id=uuid.uuid4(), given_name=given, family_name=family, given_name_norm=given.lower(),
                        family_name_norm=family.lower(), name_search=f"{given} {family}".lower(),
                        birth_date=birth_date or date(1990, 1, 1) + timedelta(days=n), sex="female",
                        phone=phone, phone_norm=(phone or "").replace(" ", "") or None,
                        created_at=self.clock.now(), updated_at=self.clock.now(), **extra)
            s.add(p)
            s.add(PatientIdentifier(id=uuid.uuid4(), patient_id=p.id, system="urn:carebridge:test-mrn",
                                    value=f"MRN-{n:06d}"))
            if organization_id:
                s.add(PatientOrganization(id=uuid.uuid4(), patient_id=p.id, organization_id=organization_id,
                                          since=self.clock.now()))
        return p.id

    def user(self, role: Role, *, organization_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
             username: str | None = None, password: str = DEFAULT_PASSWORD) -> User:
        n = next(_counter)
        with self.database.unit_of_work() as s:
            u = User(id=uuid.uuid4(), username=username or f"{role.value}{n}", email=f"{role.value}{n}@example.test",
                     full_name=f"Test {role.value.title()} {n}", password_hash=_hash(password), role=role.value,
                     organization_id=organization_id, patient_id=patient_id, created_at=self.clock.now(),
                     updated_at=self.clock.now(), password_changed_at=self.clock.now())
            s.add(u)
        return u

    def link_caregiver(self, caregiver: User, patient_id: uuid.UUID,
                       scopes: tuple[CaregiverScope, ...] = (CaregiverScope.read_record,)) -> None:
        with self.database.unit_of_work() as s:
            s.add(CaregiverLink(id=uuid.uuid4(), patient_id=patient_id, caregiver_user_id=caregiver.id,
                                scopes=[x.value for x in scopes], created_at=self.clock.now()))

    def token(self, user: User, *, mfa: bool = True) -> str:
        sid = uuid.uuid4()
        with self.database.unit_of_work() as s:
            s.add(AuthSession(id=sid, user_id=user.id, kind="api", mfa=mfa, created_at=self.clock.now(),
                              expires_at=self.clock.now() + timedelta(days=1)))
        return issue_access_token(
            self.app.state.keys.token_secret, user_id=user.id, role=Role(user.role), username=user.username,
            session_id=sid, organization_id=user.organization_id, patient_id=user.patient_id, mfa=mfa,
            now=self.clock.now(), ttl_seconds=900,
        )

    def headers(self, user: User, *, mfa: bool = True) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, mfa=mfa)}"}

    def clinic(self) -> Clinic:
        """A small realistic clinic: one organization, a user of every role, patients with a linked caregiver."""
        org = self.organization()
        other_org = self.organization("Riverside Hospital", "hospital")
        patient_id = self.patient(organization_id=org, given="Meera", family="Iyer", phone="+91 98200 11111")
        other_patient_id = self.patient(organization_id=other_org, given="Rahul", family="Khan")
        users = {role: self.user(role, organization_id=org) for role in Role
                 if role not in (Role.patient, Role.caregiver)}
        users[Role.patient] = self.user(Role.patient, patient_id=patient_id)
        users[Role.caregiver] = self.user(Role.caregiver)
        self.link_caregiver(users[Role.caregiver], patient_id)
        return Clinic(org=org, other_org=other_org, patient_id=patient_id, other_patient_id=other_patient_id,
                      users=users)


@dataclass
class Clinic:
    org: uuid.UUID
    other_org: uuid.UUID
    patient_id: uuid.UUID
    other_patient_id: uuid.UUID
    users: dict[Role, User]
