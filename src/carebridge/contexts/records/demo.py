"""Plausible synthetic clinical histories for the demo, written through the record services.

Seeded per patient, so every demo is the same: two to four closed visits with SOAP notes, vital signs and a
diagnosis; a chronic problem for about half the adults (hypertension, type 2 diabetes, asthma, hypothyroidism)
with its labs and, for diabetes, a care plan; an allergy for some; vaccines of the national schedule due by
the patient's age. No real person is described.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from carebridge.contexts.records.entries import (
    add_allergy,
    add_care_plan,
    add_condition,
    add_immunization,
    add_observation,
)
from carebridge.contexts.records.schemas import (
    Activity,
    AllergyCreate,
    CarePlanCreate,
    ConditionCreate,
    EncounterClose,
    EncounterCreate,
    Goal,
    ImmunizationCreate,
    ObservationCreate,
)
from carebridge.contexts.records.service import close_encounter, open_encounter
from carebridge.contexts.records.vocab import (
    AllergyCategory,
    AllergyCriticality,
    ConditionCategory,
    EncounterClass,
    ReactionSeverity,
)
from carebridge.security import Principal

# (ICD-10, reason, subjective, assessment, plan)
ACUTE = [
    ("J06.9", "Cold and sore throat", "Runny nose, sore throat for 3 days, no breathlessness",
     "Viral upper respiratory infection", "Steam inhalation, paracetamol 500 mg as needed, review if fever > 3 days"),
    ("A09", "Loose motions", "Watery stools 5 times since yesterday, no blood, drinking well",
     "Acute gastroenteritis, mild dehydration", "ORS after each stool, zinc for children, return if blood in stool"),
    ("R50.9", "Fever", "Fever with chills for 2 days, body ache", "Fever, malaria and dengue tests sent",
     "Paracetamol, plenty of fluids, review with reports"),
    ("M54.5", "Low back pain", "Back pain after lifting, no leg weakness", "Mechanical low back pain",
     "Warm compresses, stretching exercises, ibuprofen 400 mg after food for 5 days"),
    ("L30.9", "Itchy rash", "Itchy rash on forearms for a week", "Contact dermatitis",
     "Avoid the new detergent, calamine lotion, cetirizine at night"),
    ("K29.7", "Acidity", "Burning upper abdominal pain after meals", "Gastritis",
     "Small frequent meals, avoid late dinners, pantoprazole 40 mg before breakfast for 2 weeks"),
]
CHRONIC = [("I10", "Hypertension follow-up"), ("E11.9", "Diabetes follow-up"), ("J45.9", "Asthma review"),
           ("E03.9", "Thyroid follow-up")]
ALLERGIES = [("Penicillin", AllergyCategory.medication, "Hives", AllergyCriticality.high, ReactionSeverity.moderate),
             ("Sulfonamides", AllergyCategory.medication, "Rash", AllergyCriticality.low, ReactionSeverity.mild),
             ("Peanuts", AllergyCategory.food, "Lip swelling", AllergyCriticality.high, ReactionSeverity.severe),
             ("Dust mites", AllergyCategory.environment, "Sneezing", AllergyCriticality.low, ReactionSeverity.mild)]
# UIP doses with the age in days at which they are due
UIP_DUE = [("BCG", 0), ("OPV0", 0), ("HEPB0", 0), ("PENTA1", 42), ("OPV1", 42), ("RVV1", 42), ("FIPV1", 42),
           ("PCV1", 42), ("PENTA2", 70), ("OPV2", 70), ("RVV2", 70), ("PENTA3", 98), ("OPV3", 98), ("RVV3", 98),
           ("FIPV2", 98), ("PCV2", 98), ("MR1", 270), ("PCVB", 270), ("FIPV3", 270), ("MR2", 480), ("DPTB1", 480),
           ("OPVB", 480), ("DPTB2", 1825), ("TD10", 3650), ("TD16", 5840)]


def _vitals(s: Session, p: Principal, pid: uuid.UUID, enc: uuid.UUID, at: datetime, rng: random.Random,
            now: datetime, hypertensive: bool) -> None:
    values = [("8867-4", rng.randint(64, 104)), ("8310-5", round(rng.uniform(36.4, 38.6), 1)),
              ("59408-5", rng.randint(94, 99)), ("8480-6", rng.randint(136, 158) if hypertensive else
                                                   rng.randint(108, 128)),
              ("8462-4", rng.randint(86, 98) if hypertensive else rng.randint(68, 82)),
              ("29463-7", round(rng.uniform(48, 86), 1))]
    for code, value in values:
        add_observation(s, p, patient_id=pid, now=now, data=ObservationCreate(
            code=code, value=float(value), effective_at=at + timedelta(minutes=5), encounter_id=enc))


def add_history(session: Session, principal: Principal, *, patient_id: uuid.UUID, birth_date: date, seed: int,
                now: datetime) -> None:
    """One patient's history; visits end before `now`."""
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not security
    age_days = (now.date() - birth_date).days
    adult = age_days >= 18 * 365
    chronic = rng.choice(CHRONIC) if adult and rng.random() < 0.5 else None
    hypertensive = chronic is not None and chronic[0] == "I10"
    if chronic:
        add_condition(session, principal, patient_id=patient_id, now=now, data=ConditionCreate(
            code=chronic[0], onset_date=now.date() - timedelta(days=rng.randint(400, 2500))))
    if rng.random() < 0.3:
        substance, category, reaction, criticality, severity = rng.choice(ALLERGIES)
        add_allergy(session, principal, patient_id=patient_id, now=now, data=AllergyCreate(
            substance=substance, category=category, reaction=reaction, criticality=criticality, severity=severity))
    visits = rng.randint(2, 4)
    for n in range(visits):
        start = now - timedelta(days=rng.randint(20, 700) * (visits - n) // visits + 1, hours=rng.randint(1, 8))
        if chronic and n % 2 == 1:
            code, reason = chronic
            subjective, assessment, plan = ("Regular follow-up, taking medicines", f"{reason}: stable",
                                            "Continue medicines, review in 3 months")
        else:
            code, reason, subjective, assessment, plan = rng.choice(ACUTE)
        kind = EncounterClass.VR if rng.random() < 0.2 else EncounterClass.AMB
        enc = open_encounter(session, principal, patient_id=patient_id, now=now, data=EncounterCreate(
            encounter_class=kind, start_at=start, reason=reason, subjective=subjective,
            objective="Alert, well hydrated", assessment=assessment, plan=plan))
        if kind is EncounterClass.AMB:
            _vitals(session, principal, patient_id, enc.id, start, rng, now, hypertensive)
        if chronic and chronic[0].startswith("E11"):
            add_observation(session, principal, patient_id=patient_id, now=now, data=ObservationCreate(
                code="4548-4", value=round(rng.uniform(6.4, 8.9), 1), effective_at=start, encounter_id=enc.id))
        add_condition(session, principal, patient_id=patient_id, now=now, data=ConditionCreate(
            code=code, category=ConditionCategory.encounter_diagnosis, encounter_id=enc.id))
        close_encounter(session, principal, patient_id=patient_id, encounter_id=enc.id, now=now,
                        data=EncounterClose(end_at=start + timedelta(minutes=rng.randint(10, 25))))
    if chronic and chronic[0].startswith("E11"):
        add_care_plan(session, principal, patient_id=patient_id, now=now, data=CarePlanCreate(
            title="Diabetes control", period_start=now.date() - timedelta(days=180),
            goals=[Goal(description="HbA1c below 7%"), Goal(description="Lose 3 kg")],
            activities=[Activity(description="Walk 30 minutes a day"), Activity(description="HbA1c every 3 months")]))
    for code, due in UIP_DUE:
        given = min(birth_date + timedelta(days=due + rng.randint(0, 10)), now.date())
        if due <= age_days and (now.date() - given).days < 20 * 365:  # the record starts with the programme's books
            add_immunization(session, principal, patient_id=patient_id, now=now, data=ImmunizationCreate(
                vaccine_code=code, occurrence_date=given))
