"""The CapabilityStatement and the SMART configuration, generated from the registry: they can only say
what the mappers really do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carebridge import __version__
from carebridge.fhir.registry import Registry

RESULT_PARAMS = [
    {"name": "_count", "type": "number", "documentation": "Page size, 0 to 100 (default 20)."},
    {"name": "_total", "type": "token", "documentation": "accurate counts the matches (Patient); none by default."},
    {"name": "_summary", "type": "token", "documentation": "count: the total only."},
]


def capability_statement(registry: Registry, *, base: str, now: datetime) -> dict[str, Any]:
    resources = []
    for m in registry.all():
        entry: dict[str, Any] = {
            "type": m.type, "documentation": m.documentation,
            "interaction": [{"code": code} for code in m.interactions()],
            "searchParam": [{"name": p.name, "type": p.type, "documentation": p.documentation}
                            for p in m.search_params],
        }
        if m.update is not None:
            entry.update({"versioning": "versioned-update", "updateCreate": False, "conditionalCreate": False,
                          "conditionalUpdate": False, "readHistory": False})
        else:
            entry["versioning"] = "no-version"
        resources.append(entry)
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
                  "interaction": []}],
    }


def smart_configuration(*, issuer: str) -> dict[str, Any]:
    """What exists today: password sign-in issuing bearer tokens. No OAuth authorize endpoint and no
    SMART scopes yet, so no scopes or launch capabilities are claimed."""
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/api/v1/auth/login",
        "token_endpoint_auth_methods_supported": [],
        "grant_types_supported": [],
        "scopes_supported": [],
        "response_types_supported": [],
        "capabilities": [],
        "code_challenge_methods_supported": [],
    }
