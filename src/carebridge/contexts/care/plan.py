"""From a triage answer to a facility search and the steps a person can take: pure functions, no I/O.

Urgency decides where to look: an emergency looks only at facilities that receive emergencies
around the clock (any specialty: the emergency department sorts it out) and looks further, since the
nearest one is the answer whatever the distance; the other levels look for the triaged specialty
within a radius a person would travel for that urgency.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from carebridge.contexts.care.schemas import (
    ConditionSummary,
    FacilityMatch,
    NextStep,
    RedFlagSummary,
    StepKind,
    TriageSummary,
)
from carebridge.engines import specialties
from carebridge.engines.triage import Level, TriageResult

RADIUS_KM: dict[Level, float] = {
    Level.EMERGENCY: 100.0,
    Level.URGENT: 25.0,
    Level.NON_URGENT: 50.0,
    Level.SELF_CARE: 15.0,
}
EMERGENCY_NUMBER = "112"
"""India's single emergency number (108, the ambulance number of most states, is named in the label)."""


@dataclass(frozen=True, slots=True)
class SearchPlan:
    emergency_only: bool
    radius_km: float
    specialty: str | None


def summarize(result: TriageResult) -> TriageSummary:
    return TriageSummary(
        level=result.level, action=result.action, specialty=result.specialty, specialty_name=result.specialty_name,
        red_flags=[RedFlagSummary(id=f.id, text=f.text) for f in result.red_flags],
        conditions=[ConditionSummary(code=c.code, name=c.name, score=round(c.score, 3)) for c in result.conditions[:5]],
        safety_net=result.safety_net, disclaimer=result.disclaimer,
    )


def plan_for(level: Level, specialty: str) -> SearchPlan:
    if level is Level.EMERGENCY:
        return SearchPlan(emergency_only=True, radius_km=RADIUS_KM[level], specialty=None)
    known = specialties.get(specialty)
    code = specialty if known is not None and known.kind == "specialty" else None
    return SearchPlan(emergency_only=False, radius_km=RADIUS_KM[level], specialty=code)


def _route(lat: float, lng: float, facility: FacilityMatch) -> str:
    return ("https://www.openstreetmap.org/directions?"
            + urlencode({"route": f"{lat:.5f},{lng:.5f};{facility.lat:.5f},{facility.lng:.5f}"}))


def next_steps(triage: TriageSummary, plan: SearchPlan, facilities: list[FacilityMatch], *,
               lat: float, lng: float) -> list[NextStep]:
    """Emergency: call first. Otherwise: book with the specialty (the scheduling slot search), then call or go."""
    steps: list[NextStep] = []
    if triage.level is Level.EMERGENCY:
        steps.append(NextStep(kind=StepKind.call_emergency, href=f"tel:{EMERGENCY_NUMBER}",
                              label=f"Call an ambulance now: {EMERGENCY_NUMBER} (or 108)"))
    elif triage.level is Level.SELF_CARE:
        steps.append(NextStep(kind=StepKind.self_care, label=triage.safety_net, href=None))
    if triage.level is not Level.EMERGENCY:
        query = {"specialty": plan.specialty or triage.specialty, "lat": f"{lat:.5f}", "lng": f"{lng:.5f}",
                 "radius_km": f"{min(plan.radius_km, 200.0):g}"}
        if plan.specialty is None:
            query.pop("specialty")
        steps.append(NextStep(kind=StepKind.book, href="/api/v1/slots?" + urlencode(query),
                              label=f"Book an appointment: {triage.specialty_name}"))
    for facility in facilities[:1]:
        if facility.phone:
            steps.append(NextStep(kind=StepKind.call, href=f"tel:{facility.phone.replace(' ', '')}",
                                  label=f"Call {facility.name}", facility_id=facility.id))
        steps.append(NextStep(kind=StepKind.directions, href=_route(lat, lng, facility),
                              label=f"Directions to {facility.name} ({facility.distance_km:.1f} km)",
                              facility_id=facility.id))
    return steps
