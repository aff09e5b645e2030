"""The table of mapped resource types: a new type is a module beside these and one line here."""

from carebridge.fhir.mappers import (
    audit_event,
    clinical,
    device,
    encounter,
    facilities,
    medication,
    observation,
    patient,
    practitioners,
    scheduling,
)
from carebridge.fhir.registry import Registry

REGISTRY = Registry()
for _mapper in (patient.MAPPER, practitioners.PRACTITIONER, practitioners.PRACTITIONER_ROLE,
                practitioners.ORGANIZATION, facilities.LOCATION, facilities.HEALTHCARE_SERVICE,
                observation.MAPPER, clinical.CONDITION, clinical.ALLERGY, clinical.IMMUNIZATION,
                encounter.ENCOUNTER, encounter.CARE_PLAN, device.MAPPER, audit_event.MAPPER,
                medication.MEDICATION_REQUEST, medication.MEDICATION_DISPENSE,
                scheduling.APPOINTMENT, scheduling.SCHEDULE, scheduling.SLOT):
    REGISTRY.add(_mapper)

__all__ = ["REGISTRY"]
