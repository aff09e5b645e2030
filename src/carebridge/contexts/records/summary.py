"""The printable health summary: what a clinician elsewhere needs on one page, as HTML (print CSS) and PDF.

Active problems, allergies, the latest value of each vital sign and lab, vaccines, recent visits and active
care plans. Reading it is one audited read of the record (resource `HealthSummary`). The PDF is drawn with
fpdf2's core fonts, which need no system libraries; they cover Latin-1 only, so other scripts are
transliterated there (the HTML page keeps them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from unidecode import unidecode

from carebridge.contexts import audit, patients
from carebridge.contexts.records.models import Allergy, CarePlan, Condition, Encounter, Immunization, Observation
from carebridge.contexts.records.vocab import ACTIVE_CLINICAL
from carebridge.security import DataCategory, Permission, Principal


@dataclass
class SummaryLine:
    label: str
    value: str
    when: str = ""
    flag: str = ""


@dataclass
class HealthSummary:
    patient_id: uuid.UUID
    name: str
    birth_date: date | None
    sex: str
    generated_at: datetime
    problems: list[SummaryLine] = field(default_factory=list)
    allergies: list[SummaryLine] = field(default_factory=list)
    observations: list[SummaryLine] = field(default_factory=list)
    immunizations: list[SummaryLine] = field(default_factory=list)
    encounters: list[SummaryLine] = field(default_factory=list)
    care_plans: list[SummaryLine] = field(default_factory=list)


def health_summary(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime) -> HealthSummary:
    patient = patients.load_patient_for(session, principal, patient_id, Permission.record_read, now=now,
                                        audit_success=False, category=DataCategory.clinical)
    out = HealthSummary(patient_id=patient_id, name=f"{patient.given_name} {patient.family_name}".strip(),
                        birth_date=patient.birth_date, sex=patient.sex or "", generated_at=now)
    for c in session.scalars(select(Condition).where(
            Condition.patient_id == patient_id, Condition.category == "problem-list-item",
            Condition.clinical_status.in_([s.value for s in ACTIVE_CLINICAL]),
            Condition.verification_status != "entered-in-error").order_by(Condition.recorded_at.desc()).limit(50)):
        out.problems.append(SummaryLine(c.code, c.display, c.onset_date.isoformat() if c.onset_date else ""))
    for a in session.scalars(select(Allergy).where(Allergy.patient_id == patient_id, Allergy.clinical_status ==
                                                   "active").order_by(Allergy.recorded_at.desc()).limit(50)):
        out.allergies.append(SummaryLine(a.substance, a.reaction or a.type, a.criticality,
                                         "!" if a.criticality == "high" else ""))
    latest = (select(Observation.code, func.max(Observation.effective_at).label("at"))
              .where(Observation.patient_id == patient_id, Observation.status != "entered-in-error")
              .group_by(Observation.code).subquery())
    rows = session.scalars(select(Observation).join(
        latest, (Observation.code == latest.c.code) & (Observation.effective_at == latest.c.at))
        .where(Observation.patient_id == patient_id).order_by(Observation.category.desc(), Observation.display)
        .limit(60))
    seen: set[str] = set()
    for o in rows:
        if o.code in seen:
            continue
        seen.add(o.code)
        value = (o.value_text or "") if o.value is None else f"{o.value:g} {o.unit}".strip()
        out.observations.append(SummaryLine(o.display, value, o.effective_at.date().isoformat(),
                                            o.interpretation if o.interpretation not in (None, "N") else ""))
    for i in session.scalars(select(Immunization).where(Immunization.patient_id == patient_id,
                                                        Immunization.status == "completed")
                             .order_by(Immunization.occurrence_date.desc()).limit(60)):
        out.immunizations.append(SummaryLine(i.display, i.lot_number, i.occurrence_date.isoformat()))
    for e in session.scalars(select(Encounter).where(Encounter.patient_id == patient_id)
                             .order_by(Encounter.start_at.desc()).limit(5)):
        out.encounters.append(SummaryLine(e.reason or e.encounter_class, e.assessment[:200],
                                          e.start_at.date().isoformat()))
    for p in session.scalars(select(CarePlan).where(CarePlan.patient_id == patient_id, CarePlan.status == "active")
                             .order_by(CarePlan.period_start.desc()).limit(10)):
        goals = "; ".join(str(g.get("description", "")) for g in p.goals)
        out.care_plans.append(SummaryLine(p.title, goals, p.period_start.isoformat()))
    audit.record(session, principal, action="export", resource_type="HealthSummary", patient_id=patient_id,
                 detail={"sections": 6}, at=now)
    return out


def _latin(text: str) -> str:
    return unidecode(text).encode("latin-1", "replace").decode("latin-1")


SECTIONS = [("Active problems", "problems"), ("Allergies and intolerances", "allergies"),
            ("Latest measurements", "observations"), ("Vaccinations", "immunizations"),
            ("Recent visits", "encounters"), ("Care plans", "care_plans")]


def summary_pdf(summary: HealthSummary, *, titles: dict[str, str] | None = None) -> bytes:
    """An A4 PDF of the summary; `titles` translates the section headings (Latin-1 only, so English by default)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_title("Health summary")
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"Health summary: {summary.name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    born = summary.birth_date.isoformat() if summary.birth_date else "-"
    pdf.cell(0, 6, _latin(f"Born {born}   Sex {summary.sex or '-'}   "
                          f"Printed {summary.generated_at:%Y-%m-%d %H:%M} UTC"), new_x="LMARGIN", new_y="NEXT")
    for title, attr in SECTIONS:
        lines: list[SummaryLine] = getattr(summary, attr)
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _latin((titles or {}).get(title, title)), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        if not lines:
            pdf.cell(0, 5, "None recorded", new_x="LMARGIN", new_y="NEXT")
        for line in lines:
            flag = f" [{line.flag}]" if line.flag else ""
            when = f" ({line.when})" if line.when else ""
            pdf.multi_cell(0, 5, _latin(f"{line.label}: {line.value}{flag}{when}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
