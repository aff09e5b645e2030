"""Loads the demo through the real services, so the demo data passes the same rules and leaves the same
audit trail as data entered by hand. Re-running it changes nothing and prints the same logins.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.facilities.schemas import Address as FacilityAddress
from carebridge.contexts.facilities.schemas import Contact, FacilityCreate, FacilityType, Ownership
from carebridge.contexts.facilities.schemas import GeoPoint as FacilityPoint
from carebridge.contexts.facilities.service import create_facility
from carebridge.contexts.identity import service as identity
from carebridge.contexts.identity.caregivers import link_caregiver
from carebridge.contexts.identity.schemas import RegistrationCreate, StaffCreate
from carebridge.contexts.identity.staff import bootstrap_admin, create_staff
from carebridge.contexts.patients import (
    ABHA_SYSTEM,
    Address,
    EmergencyContactIn,
    GeoPoint,
    IdentifierIn,
    PatientCreate,
    create_patient,
)
from carebridge.contexts.patients.models import PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.contexts.practitioners.organizations import create_organization
from carebridge.contexts.practitioners.schemas import (
    OrganizationCreate,
    OrganizationType,
    PractitionerCreate,
    PractitionerRoleCreate,
    Qualification,
    RoleCode,
)
from carebridge.contexts.practitioners.service import add_role, create_practitioner
from carebridge.contexts.records import add_history
from carebridge.demo.people import patients as demo_people
from carebridge.engines.opening_hours import OpeningHours, TimeRange, Weekday
from carebridge.security import CaregiverScope, Principal, Role
from carebridge.settings import Settings

CLINIC = "Sunrise Community Health Centre"
HOSPITAL = "Riverside District Hospital"
CREDENTIALS_FILE = "demo-credentials.json"

# (given, family, gender, specialties, qualification, organization index, role code)
PRACTITIONERS = [
    ("Anita", "Deshpande", "female", ["general_practice"], "MBBS", 0, RoleCode.doctor),
    ("Farhan", "Qureshi", "male", ["paediatrics"], "MD (Paediatrics)", 0, RoleCode.doctor),
    ("Lata", "Kulkarni", "female", ["obstetrics_gynaecology"], "MS (Obstetrics and Gynaecology)", 0, RoleCode.doctor),
    ("Rohan", "Menon", "male", ["cardiology", "internal_medicine"], "DM (Cardiology)", 1, RoleCode.doctor),
    ("Sadia", "Begum", "female", ["psychiatry"], "MD (Psychiatry)", 1, RoleCode.doctor),
    ("Vivek", "Bhatt", "male", ["orthopaedics"], "MS (Orthopaedics)", 1, RoleCode.doctor),
    ("Grace", "Thomas", "female", ["emergency_medicine"], "MD (Emergency Medicine)", 1, RoleCode.doctor),
    ("Pradeep", "Yadav", "male", ["dermatology"], "MD (Dermatology)", 0, RoleCode.doctor),
]


@dataclass
class Login:
    role: str
    username: str
    password: str
    note: str = ""


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(9)


def _principal(user_id: uuid.UUID, role: Role, username: str, org: uuid.UUID | None = None,
               patient_id: uuid.UUID | None = None) -> Principal:
    return Principal(user_id=user_id, role=role, username=username, organization_id=org, patient_id=patient_id,
                     mfa=True)


def already_loaded(session: Session) -> bool:
    return session.execute(select(Organization.id).where(Organization.name == CLINIC)).first() is not None


def load(session: Session, *, settings: Settings, now: datetime, patients: int = 50) -> list[Login]:
    """Create the demo network; returns a login for every role."""
    logins: list[Login] = []
    admin_pw = _password()
    admin = bootstrap_admin(session, data=StaffCreate(username="demo_admin", password=admin_pw,
                                                      full_name="Kiran Admin", email="admin@demo.carebridge.example.org",  # noqa: E501
                                                      role="admin"),
                            organization_name=CLINIC, now=now)
    logins.append(Login("admin", "demo_admin", admin_pw, "set up TOTP in Profile before admin actions"))
    if admin.organization_id is None:
        raise RuntimeError("bootstrap_admin returned an admin without an organization")
    clinic_id = admin.organization_id
    admin_p = _principal(admin.id, Role.admin, admin.username, clinic_id)
    hospital = create_organization(session, admin_p, data=OrganizationCreate(
        name=HOSPITAL, type=OrganizationType.hospital, city="Nagpur", state="Maharashtra", country="IN",
        phone="+91 712 255 0000"), now=now)
    orgs = [clinic_id, hospital.id]

    _facilities(session, admin_p, orgs, now)

    staff: dict[Role, Principal] = {}
    for role, name in [(Role.practitioner, "Anita Deshpande"), (Role.nurse, "Mary Joseph"),
                       (Role.health_worker, "Savita Pawar"), (Role.pharmacist, "Nikhil Jain"),
                       (Role.front_desk, "Rupa Shetty")]:
        pw = _password()
        username = f"demo_{role.value}"
        user = create_staff(session, admin_p, data=StaffCreate(
            username=username, password=pw, full_name=name, email=f"{role.value}@demo.carebridge.example.org",
            role=role.value), now=now)
        staff[role] = _principal(user.id, role, username, clinic_id)
        logins.append(Login(role.value, username, pw))

    for n, (given, family, gender, specs, qual, org_index, code) in enumerate(PRACTITIONERS):
        prac = create_practitioner(session, admin_p, data=PractitionerCreate(
            given_name=given, family_name=family, gender=gender, specialties=specs,
            qualifications=[Qualification(name=qual)], languages=["en", "hi", "mr"],
            registration_council="Maharashtra Medical Council",
            registration_number=f"MMC-DEMO-{2026000 + n}"), now=now)
        if org_index == 0:
            add_role(session, admin_p, practitioner_id=prac.id, data=PractitionerRoleCreate(
                organization_id=orgs[org_index], code=code, specialties=specs), now=now)

    front_desk = staff[Role.front_desk]
    for n, person in enumerate(demo_people(patients)):
        created = create_patient(session, front_desk, now=now, force=True, data=PatientCreate(
            given_name=person.given, family_name=person.family, sex=person.sex, birth_date=person.birth_date,
            phone=person.phone, preferred_languages=person.languages,
            address=Address(line=person.address_line, city=person.city, state=person.state,
                            postal_code=person.postal_code, country="IN",
                            geo=GeoPoint(lat=person.latitude, lng=person.longitude)),
            identifiers=[IdentifierIn(system=ABHA_SYSTEM, value=person.abha)],
            emergency_contacts=[EmergencyContactIn(name=person.contact_name, relationship=person.contact_relation,
                                                   phone=person.contact_phone)]))
        add_history(session, staff[Role.practitioner], patient_id=created.id, birth_date=person.birth_date,
                    seed=n, now=now)

    # A patient with an account, cared for at the clinic, and a caregiver they linked.
    patient_pw, caregiver_pw = _password(), _password()
    open_settings = settings.model_copy(update={"self_registration": True})  # the demo registers regardless
    patient_user = identity.register(session, data=RegistrationCreate(
        username="demo_patient", password=patient_pw, full_name="Meera Iyer", phone="+91 98200 11111",
        birth_date=date(1988, 4, 12), sex="female", role="patient"), settings=open_settings, now=now)
    if patient_user.patient_id is None:
        raise RuntimeError("registering a patient created no patient record")
    session.add(PatientOrganization(id=uuid.uuid4(), patient_id=patient_user.patient_id,
                                    organization_id=clinic_id, since=now))
    add_history(session, staff[Role.practitioner], patient_id=patient_user.patient_id, birth_date=date(1988, 4, 12),
                seed=1988, now=now)
    caregiver_user = identity.register(session, data=RegistrationCreate(
        username="demo_caregiver", password=caregiver_pw, full_name="Arjun Iyer", role="caregiver"),
        settings=open_settings, now=now)
    link_caregiver(session, _principal(patient_user.id, Role.patient, "demo_patient",
                                       patient_id=patient_user.patient_id),
                   caregiver_username=caregiver_user.username,
                   scopes=[CaregiverScope.read_record, CaregiverScope.manage_appointments], now=now)
    logins.append(Login("patient", "demo_patient", patient_pw))
    logins.append(Login("caregiver", "demo_caregiver", caregiver_pw, "linked to demo_patient"))
    return logins


def _facilities(session: Session, admin: Principal, orgs: list[uuid.UUID], now: datetime) -> None:
    """Facilities around the demo cities: the clinic's own sites, the hospital, and public facilities nearby."""
    weekdays = {day: [TimeRange(opens="09:00", closes="17:00")] for day in
                (Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri)}
    weekdays[Weekday.sat] = [TimeRange(opens="09:00", closes="13:00")]
    opd = OpeningHours(time_zone="Asia/Kolkata", weekly=weekdays)
    always = OpeningHours(time_zone="Asia/Kolkata", always_open=True)
    sites = [
        ("Sunrise CHC, Shivaji Nagar", FacilityType.community_health_centre, Ownership.public, 0, True, always,
         ["general_practice", "paediatrics", "obstetrics_gynaecology", "emergency_medicine"], 30, 18.5308, 73.8475,
         "Pune"),
        ("Sunrise Clinic, Kothrud", FacilityType.private_clinic, Ownership.private, 0, False, opd,
         ["general_practice", "dermatology"], None, 18.5074, 73.8077, "Pune"),
        ("Riverside District Hospital", FacilityType.district_hospital, Ownership.public, 1, True, always,
         ["emergency_medicine", "cardiology", "orthopaedics", "psychiatry", "general_surgery"], 250,
         21.1466, 79.0882, "Nagpur"),
        ("Hadapsar Primary Health Centre", FacilityType.primary_health_centre, Ownership.public, None, False, opd,
         ["general_practice", "public_health"], 6, 18.5089, 73.9260, "Pune"),
        ("Nashik Road Diagnostic Lab", FacilityType.diagnostic_lab, Ownership.private, None, False, opd,
         [], None, 19.9496, 73.8425, "Nashik"),
    ]
    for name, kind, owner, org_index, emergency, hours, specs, beds, lat, lng, city in sites:
        create_facility(session, admin, now=now, data=FacilityCreate(
            name=name, type=kind, ownership=owner, organization_id=orgs[org_index] if org_index is not None else None,
            emergency=emergency, specialties=specs, insurance=["pmjay"] if owner is Ownership.public else [],
            languages=["mr", "hi", "en"], beds_total=beds, beds_available=beds // 3 if beds else None,
            opening_hours=hours, contact=Contact(phone="+91 20 2553 0000"),
            address=FacilityAddress(city=city, state="Maharashtra", country="IN"),
            location=FacilityPoint(lat=lat, lng=lng)))


def save_logins(data_dir: Path, logins: list[Login]) -> Path:
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump([login.__dict__ for login in logins], fh, indent=2)
    return path


def read_logins(data_dir: Path) -> list[Login]:
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        return []
    return [Login(**item) for item in json.loads(path.read_text())]


def format_logins(logins: list[Login], base_url: str) -> str:
    lines = [f"CareBridge demo — sign in at {base_url}/login", "",
             f"{'role':<14} {'username':<18} {'password':<20} note", "-" * 72]
    for login in logins:
        lines.append(f"{login.role:<14} {login.username:<18} {login.password:<20} {login.note}")
    return "\n".join(lines)
