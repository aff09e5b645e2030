"""The emergency profile and its signed card.

The patient keeps the profile (or a caregiver they allowed to update their profile); anyone the policy
lets read the patient's clinical data may read it and print the card, staff of their clinic included.
Emergency contacts are not copied here: they are the ones on the patient's record.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from carebridge.contexts import audit, patients
from carebridge.contexts.emergency.card import CardContact, CardData, key_id, qr_svg, sign_card
from carebridge.contexts.emergency.models import EmergencyProfile
from carebridge.contexts.emergency.schemas import (
    BloodGroup,
    EmergencyCardRead,
    EmergencyContactCard,
    EmergencyProfileRead,
    EmergencyProfileUpdate,
)
from carebridge.contexts.emergency.service import PATIENT_SIDE, display_name
from carebridge.kernel.errors import Forbidden
from carebridge.security import DataCategory, Permission, Principal

RESOURCE: Final = "EmergencyProfile"
PURPOSE_SELF: Final = "patient_request"
PURPOSE_STAFF: Final = "treatment"


def _purpose(principal: Principal) -> str:
    return PURPOSE_SELF if principal.role in PATIENT_SIDE else PURPOSE_STAFF


def _to_read(patient: patients.PatientRead, profile: EmergencyProfile | None) -> EmergencyProfileRead:
    return EmergencyProfileRead(
        patient_id=patient.id, name=display_name(patient),
        birth_date=patient.birth_date.isoformat() if patient.birth_date else None,
        blood_group=BloodGroup(profile.blood_group) if profile and profile.blood_group else None,
        allergies=list(profile.allergies) if profile else [], conditions=list(profile.conditions) if profile else [],
        medications=list(profile.medications) if profile else [], notes=profile.notes if profile else None,
        emergency_contacts=[EmergencyContactCard(name=c.name, relationship=c.relationship, phone=c.phone)
                            for c in patient.emergency_contacts],
        updated_at=profile.updated_at if profile else None)


def get_profile(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                action: str = "read") -> EmergencyProfileRead:
    row = patients.load_patient_for(session, principal, patient_id, Permission.patient_read,
                                    purpose=_purpose(principal), now=now, audit_success=False, action=action,
                                    category=DataCategory.clinical)
    audit.record(session, principal, action=action, resource_type=RESOURCE, resource_id=patient_id,
                 patient_id=patient_id, purpose=_purpose(principal), at=now)
    return _to_read(patients.to_read(row), session.get(EmergencyProfile, patient_id))


def update_profile(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: EmergencyProfileUpdate,
                   now: datetime) -> EmergencyProfileRead:
    """Replace the whole profile; only the patient side writes it (it is what the patient tells strangers)."""
    if principal.role not in PATIENT_SIDE:
        raise Forbidden("the emergency profile is kept by the patient or a caregiver they allowed")
    row = patients.load_patient_for(session, principal, patient_id, Permission.patient_update,
                                    purpose=PURPOSE_SELF, now=now, audit_success=False, action="update",
                                    category=DataCategory.clinical)
    profile = session.get(EmergencyProfile, patient_id)
    if profile is None:
        profile = EmergencyProfile(patient_id=patient_id, version=0)
        session.add(profile)
    profile.blood_group = data.blood_group.value if data.blood_group else None
    profile.allergies = list(dict.fromkeys(data.allergies))
    profile.conditions = list(dict.fromkeys(data.conditions))
    profile.medications = list(dict.fromkeys(data.medications))
    profile.notes = data.notes or None
    profile.updated_at = now
    profile.version = (profile.version or 0) + 1
    session.flush()
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=patient_id,
                 patient_id=patient_id, purpose=PURPOSE_SELF, at=now, detail={"version": profile.version})
    return _to_read(patients.to_read(row), profile)


def issue_card(session: Session, principal: Principal, *, patient_id: uuid.UUID, signing_key: Ed25519PrivateKey,
               now: datetime, qr_title: str = "Emergency card") -> EmergencyCardRead:
    """The profile signed now with the server's key, as text and as the QR code of that text."""
    profile = get_profile(session, principal, patient_id=patient_id, now=now, action="export")
    data = CardData(name=profile.name, birth_date=profile.birth_date,
                    blood_group=profile.blood_group.value if profile.blood_group else None,
                    allergies=profile.allergies, conditions=profile.conditions, medications=profile.medications,
                    contacts=[CardContact(c.name, c.relationship, c.phone) for c in profile.emergency_contacts],
                    notes=profile.notes, issued_at=now)
    text = sign_card(data, signing_key)
    return EmergencyCardRead(text=text, qr_svg=qr_svg(text, title=qr_title),
                             key_id=key_id(signing_key.public_key()), issued_at=now)
