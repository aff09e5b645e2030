"""The CapabilityStatement and the SMART configuration, generated from the registry: they can only say
what the mappers really do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carebridge import __version__
from carebridge.fhir import generic, smart
from carebridge.fhir.registry import Mapper, Registry

RESULT_PARAMS = [
    {"name": "_count", "type": "number", "documentation": "Page size, 0 to 100 (default 20)."},
    {"name": "_total", "type": "token", "documentation": "accurate counts the matches; none by default."},
    {"name": "_summary", "type": "token", "documentation": "true, text, data, count or false."},
    {"name": "_elements", "type": "string", "documentation": "Top-level elements to return (marked SUBSETTED)."},
    {"name": "_sort", "type": "string", "documentation": "_lastUpdated, _id and the type's sortable parameters; "
                                                          "- for descending."},
    {"name": "_lastUpdated", "type": "date", "documentation": "eq, ne, gt, lt, ge, le, sa, eb; every type."},
]
BULK_OPERATIONS = [  # fhir/bulk.py: system, Patient and Group (an organization's patients) level
    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"},
    {"name": "patient-export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"},
    {"name": "group-export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"},
]
GENERIC_DOC = ("Kept as validated JSON (no CareBridge domain home): read, vread, history, search by _id, "
               "_lastUpdated, patient/subject; access by the patients policy on its patient, staff-only without one.")


def _resource(m: Mapper, served: list[Mapper]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": m.type, "documentation": m.documentation,
        "interaction": [{"code": code} for code in m.interactions()],
        "versioning": "versioned-update" if m.update is not None else "versioned",
        "readHistory": m.read is not None,
        "updateCreate": m.generic,
        "conditionalCreate": m.create is not None,
        "conditionalUpdate": m.update is not None,
        "conditionalDelete": "single" if m.delete is not None else "not-supported",
        "searchInclude": [f"{m.type}:{r.name}" for r in m.references],
        "searchRevInclude": sorted(f"{o.type}:{r.name}" for o in served for r in o.references
                                   if m.type in r.targets),
        "searchParam": [{"name": p.name, "type": p.type, "documentation": p.documentation}
                        for p in m.search_params],
    }
    if m.type == "Patient":
        entry["operation"] = [{"name": "everything",
                               "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
    return entry


def capability_statement(registry: Registry, *, base: str, now: datetime) -> dict[str, Any]:
    mapped = registry.all()
    kept = [g for g in (generic.mapper_for(t) for t in sorted(generic.storable_types() - {m.type for m in mapped}))
            if g is not None]
    served = mapped + kept
    resources = [_resource(m, served) for m in mapped]
    resources += [{**_resource(m, served), "documentation": GENERIC_DOC} for m in kept]
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": now.date().isoformat(),
        "kind": "instance", "fhirVersion": "4.0.1", "format": ["application/fhir+json", "json"],
        "software": {"name": "CareBridge", "version": __version__},
        "implementation": {"description": "CareBridge FHIR R4 facade", "url": base},
        "rest": [{"mode": "server",
                  "security": {"service": [{"text": "Bearer token from POST /api/v1/auth/login"}],
                               "description": "Every read passes the CareBridge access policy and is audited."},
                  "resource": resources,
                  "searchParam": RESULT_PARAMS,
                  "interaction": [{"code": "transaction"}, {"code": "batch"}],
                  "operation": BULK_OPERATIONS}],
    }


def smart_configuration(*, issuer: str) -> dict[str, Any]:
    """What exists: the token endpoint taking SMART scopes (password and refresh grants); no authorize endpoint,
    so no launch flows are claimed (fhir/smart.py)."""
    return smart.configuration(issuer=issuer)
