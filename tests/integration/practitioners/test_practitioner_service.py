"""Practitioner and organization use cases against a real database."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.models import User
from carebridge.contexts.practitioners import (
    OrganizationCreate,
    PractitionerCreate,
    PractitionerRoleCreate,
    add_role,
    create_organization,
    create_practitioner,
    list_roles,
    organization_exists,
    search_practitioners,
)
from carebridge.contexts.practitioners.models import Practitioner
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Forbidden, ValidationProblem
from carebridge.security import Principal, Role
from tests.factories import Factory


def as_principal(user: User) -> Principal:
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id)


def test_writes_are_audited_and_organizations_exist(database: Database, factory: Factory, clock: FixedClock) -> None:
    network_admin = as_principal(factory.user(Role.admin))
    with database.unit_of_work() as s:
        org = create_organization(s, network_admin, now=clock.now(),
                                  data=OrganizationCreate(name="Gram Arogya Programme", type="public_programme"))
        doc = create_practitioner(s, network_admin, now=clock.now(),
                                  data=PractitionerCreate(given_name="Farah", family_name="Shaikh"))
        add_role(s, network_admin, practitioner_id=doc.id, now=clock.now(),
                 data=PractitionerRoleCreate(organization_id=org.id, code="health_worker"))
        assert organization_exists(s, org.id) and not organization_exists(s, uuid.uuid4())
    with database.unit_of_work() as s:
        kinds = {(e.action, e.resource_type) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.user_id == network_admin.user_id))}
        roles = list_roles(s, network_admin, organization_id=org.id)
    assert kinds == {("create", "Organization"), ("create", "Practitioner"), ("create", "PractitionerRole")}
    assert [r.practitioner_id for r in roles] == [doc.id]


def test_name_search_folds_accents_and_devanagari(database: Database, factory: Factory, clock: FixedClock) -> None:
    admin = as_principal(factory.user(Role.admin))
    with database.unit_of_work() as s:
        create_practitioner(s, admin, now=clock.now(), data=PractitionerCreate(given_name="Zoë", family_name="D'Souza"))
        create_practitioner(s, admin, now=clock.now(), data=PractitionerCreate(given_name="सुनीता", family_name="राव"))
        stored = s.scalar(select(Practitioner.name_search).where(Practitioner.given_name == "सुनीता"))
    assert stored == "sunita rav"

    def found(name: str) -> list[str]:
        with database.unit_of_work() as s:
            page = search_practitioners(s, admin, name=name, specialty=None, organization_id=None,
                                        include_inactive=False, limit=10, cursor=None)
        return [p.given_name for p in page.items]

    assert found("zoe dsou") == ["Zoë"]
    assert found("सुनीता") == ["सुनीता"]
    assert found("sun") == ["सुनीता"]
    with pytest.raises(ValidationProblem):
        found("...")


def test_roles_only_at_the_admins_own_organization(database: Database, factory: Factory, clock: FixedClock) -> None:
    clinic = factory.clinic()
    admin = as_principal(clinic.users[Role.admin])
    with database.unit_of_work() as s:
        doc = create_practitioner(s, admin, now=clock.now(), data=PractitionerCreate(given_name="Imran"))
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        add_role(s, admin, practitioner_id=doc.id, now=clock.now(),
                 data=PractitionerRoleCreate(organization_id=clinic.other_org, code="doctor"))
    with pytest.raises(ValidationProblem), database.unit_of_work() as s:
        add_role(s, as_principal(factory.user(Role.admin)), practitioner_id=doc.id, now=clock.now(),
                 data=PractitionerRoleCreate(organization_id=uuid.uuid4(), code="doctor"))
