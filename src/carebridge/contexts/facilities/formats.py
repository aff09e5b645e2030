"""What the import and export formats share: CSV columns, FHIR systems and extension URLs.

The CSV columns are also the GeoJSON property names, so a file exported in one format imports in
the others. Lists are `;`-separated in CSV; opening hours use the compact text of
`engines.opening_hours` (`Mo-Fr 09:00-17:00`, exceptions `2026-01-26 closed`).
"""

from __future__ import annotations

from typing import Final, Literal

Format = Literal["csv", "geojson", "fhir"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "geojson", "fhir")

CSV_COLUMNS: Final[tuple[str, ...]] = (
    "external_id", "name", "type", "ownership", "organization_id", "emergency", "specialties", "services",
    "insurance", "languages", "beds_total", "beds_available", "lat", "lng", "phone", "email", "website",
    "address_line", "city", "district", "state", "postal_code", "country", "time_zone", "hours",
    "hours_exceptions", "active",
)
LIST_COLUMNS: Final[frozenset[str]] = frozenset({"specialties", "services", "insurance", "languages"})
LIST_SEPARATOR = ";"
FORMULA_STARTS = frozenset("=+-@\t\r")

FHIR_BASE = "https://carebridge.dev/fhir"
EXTERNAL_ID_SYSTEM = f"{FHIR_BASE}/sid/facility-external-id"
FACILITY_TYPE_SYSTEM = f"{FHIR_BASE}/CodeSystem/facility-type"
SPECIALTY_SYSTEM = f"{FHIR_BASE}/CodeSystem/specialty"
EXT = f"{FHIR_BASE}/StructureDefinition/facility-"
EXT_SPECIALTY = EXT + "specialty"
EXT_SERVICE = EXT + "service"
EXT_INSURANCE = EXT + "insurance"
EXT_LANGUAGE = EXT + "language"
EXT_EMERGENCY = EXT + "emergency"
EXT_OWNERSHIP = EXT + "ownership"
EXT_BEDS_TOTAL = EXT + "beds-total"
EXT_BEDS_AVAILABLE = EXT + "beds-available"
EXT_HOURS_EXCEPTIONS = EXT + "hours-exceptions"
EXT_ALWAYS_OPEN = EXT + "always-open"
EXT_DISTRICT = EXT + "district"
TIMEZONE_EXT = "http://hl7.org/fhir/StructureDefinition/timezone"
"""The core extension carrying an IANA zone (defined in R5, usable in R4 as an extension)."""

FHIR_DAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# HL7 v3 ServiceDeliveryLocationRoleType codes a foreign bundle may use for Location.type.
V3_ROLE_TYPES: Final[dict[str, str]] = {
    "HOSP": "hospital", "GACH": "hospital", "CHR": "hospital", "PEDHOSP": "hospital", "PSYCHF": "hospital",
    "PHARM": "pharmacy", "OUTPHARM": "pharmacy", "COMM": "pharmacy", "HLAB": "diagnostic_lab",
    "LAB": "diagnostic_lab", "BLDBK": "blood_bank", "AMB": "ambulance_base", "OF": "private_clinic",
    "GIM": "private_clinic", "ER": "hospital", "ETU": "hospital",
}
COUNTRY_ALPHA3: Final[dict[str, str]] = {"IND": "IN", "USA": "US", "NPL": "NP", "BGD": "BD", "LKA": "LK",
                                         "GBR": "GB"}
