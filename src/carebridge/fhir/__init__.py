"""FHIR R4 facade: translation between the domain and FHIR resources, no rules (FHIR issue)."""
