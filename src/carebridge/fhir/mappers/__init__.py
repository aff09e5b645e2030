"""The table of mapped resource types: a new type is a module beside these and one line here."""

from carebridge.fhir.mappers import (
    audit_event,
    clinical,
    consent,
    device,
    document_reference,
    encounter,
    facilities,
    kept_json,
    medication,
    observation,
    patient,
    practitioners,
    provenance,
    questionnaire,
    received,
    scheduling,
)
from carebridge.fhir.registry import Registry

REGISTRY = Registry()
NOT_SERVING_KEPT = frozenset({"Patient", "AuditEvent", "Appointment"})  # why: fhir/mappers/kept_json.py
for _mapper in (patient.MAPPER, practitioners.PRACTITIONER, practitioners.PRACTITIONER_ROLE,
                practitioners.ORGANIZATION, facilities.LOCATION, facilities.HEALTHCARE_SERVICE,
                observation.MAPPER, clinical.CONDITION, clinical.ALLERGY, clinical.IMMUNIZATION,
                encounter.ENCOUNTER, encounter.CARE_PLAN, device.MAPPER, audit_event.MAPPER,
                medication.MEDICATION_REQUEST, medication.MEDICATION_DISPENSE,
                scheduling.APPOINTMENT, scheduling.SCHEDULE, scheduling.SLOT, consent.MAPPER):
    _mapper = received.keeping(_mapper) if _mapper.create is not None else _mapper
    REGISTRY.add(_mapper if _mapper.type in NOT_SERVING_KEPT else kept_json.serving_kept(_mapper))

for _mapper in (provenance.MAPPER,  # prescriptions' signatures + kept ones
                questionnaire.QUESTIONNAIRE, questionnaire.QUESTIONNAIRE_RESPONSE):  # generic store + R4 params
    REGISTRY.add(_mapper)
REGISTRY.add(kept_json.serving_kept(document_reference.MAPPER))  # keeps the received body without the bytes

__all__ = ["REGISTRY"]
