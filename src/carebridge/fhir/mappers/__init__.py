"""The table of mapped resource types: a new type is a module beside these and one line here."""

from carebridge.fhir.mappers import facilities, patient, practitioners
from carebridge.fhir.registry import Registry

REGISTRY = Registry()
for _mapper in (patient.MAPPER, practitioners.PRACTITIONER, practitioners.PRACTITIONER_ROLE,
                practitioners.ORGANIZATION, facilities.LOCATION, facilities.HEALTHCARE_SERVICE):
    REGISTRY.add(_mapper)

__all__ = ["REGISTRY"]
