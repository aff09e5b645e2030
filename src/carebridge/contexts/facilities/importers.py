"""Reading facility files: CSV (CareBridge columns or a named source profile), GeoJSON and FHIR bundles.

Parsing is pure: each record comes out as a `ParsedRecord` holding either a validated
`FacilityCreate` or the reasons it was refused, with where it was (CSV line, `features[i]`,
`entry[i]`). Nothing is dropped silently; the service turns these into the import report.

Profiles map a foreign CSV's columns onto ours. `hifld` reads the US DHS HIFLD "Hospitals" open
dataset (columns described in shared/data/facilities/PROVENANCE.md).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from carebridge.contexts.facilities import formats as fm
from carebridge.contexts.facilities.schemas import FacilityCreate
from carebridge.engines.opening_hours import (
    OpeningHours,
    TimeRange,
    Weekday,
    parse_exceptions,
    parse_weekly,
    valid_time_zone,
)

MAX_ERRORS_PER_ROW = 10
MAX_ERROR_LEN = 300
DEFAULT_TIME_ZONE = "Asia/Kolkata"


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (not a CSV with our columns, not a FeatureCollection...)."""


@dataclass
class ParsedRecord:
    where: str
    line: int | None
    external_id: str | None
    facility: FacilityCreate | None = None
    errors: list[str] = field(default_factory=list)


def _clip(message: str) -> str:
    return message if len(message) <= MAX_ERROR_LEN else message[: MAX_ERROR_LEN - 1] + "…"


def validation_messages(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors()[:MAX_ERRORS_PER_ROW]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append(_clip(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", "invalid")))
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _bool(value: Any, name: str) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in {"true", "yes", "y", "1"}:
        return True
    if text in {"false", "no", "n", "0"}:
        return False
    raise ValueError(f"{name}: {value!r} is not true/false")


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [part.strip() for part in str(value).split(fm.LIST_SEPARATOR) if part.strip()]


def _hours(flat: dict[str, Any], default_time_zone: str) -> OpeningHours | dict[str, Any] | None:
    given = flat.get("opening_hours")
    if isinstance(given, dict):
        return given
    hours_text = _text(flat.get("hours"))
    exceptions_text = _text(flat.get("hours_exceptions"))
    if hours_text is None and exceptions_text is None:
        return None
    zone = valid_time_zone(_text(flat.get("time_zone")) or default_time_zone)
    try:
        weekly = parse_weekly(hours_text or "", zone)
    except ValueError as exc:
        raise ValueError(f"hours: {exc}".splitlines()[0]) from exc
    try:
        exceptions = parse_exceptions(exceptions_text) if exceptions_text else []
    except ValueError as exc:
        raise ValueError(f"hours_exceptions: {exc}".splitlines()[0]) from exc
    return weekly.model_copy(update={"exceptions": exceptions}) if exceptions else weekly


def to_create_input(flat: dict[str, Any], default_time_zone: str) -> dict[str, Any]:
    """Our flat column names (CSV / GeoJSON properties) to the nested FacilityCreate input."""
    data: dict[str, Any] = {
        "external_id": _text(flat.get("external_id")), "name": _text(flat.get("name")) or "",
        "type": _text(flat.get("type")), "ownership": _text(flat.get("ownership")),
        "organization_id": _text(flat.get("organization_id")),
        "specialties": _list(flat.get("specialties")), "services": _list(flat.get("services")),
        "insurance": _list(flat.get("insurance")), "languages": _list(flat.get("languages")),
        "beds_total": _text(flat.get("beds_total")), "beds_available": _text(flat.get("beds_available")),
        "contact": {k: _text(flat.get(k)) for k in ("phone", "email", "website")},
        "address": {"line": _text(flat.get("address_line")), "city": _text(flat.get("city")),
                    "district": _text(flat.get("district")), "state": _text(flat.get("state")),
                    "postal_code": _text(flat.get("postal_code")), "country": _text(flat.get("country"))},
        "location": {"lat": _text(flat.get("lat")), "lng": _text(flat.get("lng"))},
    }
    emergency = _bool(flat.get("emergency"), "emergency")
    data["emergency"] = bool(emergency)
    active = _bool(flat.get("active"), "active")
    data["active"] = True if active is None else active
    data["opening_hours"] = _hours(flat, default_time_zone)
    return data


def build(where: str, line: int | None, flat: dict[str, Any], *, default_time_zone: str,
          require_external_id: bool = True) -> ParsedRecord:
    external_id = _text(flat.get("external_id"))
    record = ParsedRecord(where=where, line=line, external_id=external_id)
    try:
        data = to_create_input(flat, default_time_zone)
        record.facility = FacilityCreate.model_validate(data)
    except ValidationError as exc:
        record.errors = validation_messages(exc)
        return record
    except ValueError as exc:
        record.errors = [_clip(str(exc))]
        return record
    if require_external_id and record.facility.external_id is None:
        record.facility = None
        record.errors = ["external_id: required for import, so that importing the file again updates "
                         "these facilities instead of duplicating them"]
    return record


# --- CSV ------------------------------------------------------------------------------------------

def _us_zip(value: str) -> str:
    return value.zfill(5) if value.isdigit() and 3 <= len(value) < 5 else value


_HIFLD_COUNTRY = {"USA": "US", "PRI": "PR", "GUM": "GU", "VIR": "VI", "ASM": "AS", "MNP": "MP", "PLW": "PW"}
_HIFLD_SPECIALTIES = {
    "GENERAL ACUTE CARE": ["internal_medicine", "general_surgery"],
    "CRITICAL ACCESS": ["general_practice", "emergency_medicine"],
    "PSYCHIATRIC": ["psychiatry"], "CHILDREN": ["paediatrics"], "WOMEN": ["obstetrics_gynaecology"],
    "LONG TERM CARE": ["internal_medicine", "geriatrics"], "MILITARY": ["general_practice"],
    "CHRONIC DISEASE": ["internal_medicine"],
}
_HIFLD_SERVICES = {"REHABILITATION": ["physiotherapy"]}
_MISSING = {"NOT AVAILABLE", "-999", ""}


def _hifld_website(value: str | None) -> str | None:
    """HIFLD writes some sites without a scheme (www.example.org) and some with a stray space."""
    if value is None:
        return None
    value = value.replace(" ", "")
    return value if value.lower().startswith(("http://", "https://")) else f"http://{value}"


def hifld_row(row: dict[str, str]) -> dict[str, Any]:
    """One HIFLD Hospitals row in our columns.

    Trauma centres and critical access hospitals (which must run a 24-hour emergency department,
    42 CFR 485.618) are marked emergency; CLOSED hospitals import as inactive, not skipped.
    """
    def get(name: str) -> str | None:
        value = (row.get(name) or "").strip()
        return None if value.upper() in _MISSING else value

    kind = (get("TYPE") or "").upper()
    trauma = get("TRAUMA")
    emergency = trauma is not None or kind == "CRITICAL ACCESS"
    specialties = list(_HIFLD_SPECIALTIES.get(kind, []))
    if emergency and "emergency_medicine" not in specialties:
        specialties.append("emergency_medicine")
    owner = (get("OWNER") or "").upper()
    ownership = "public" if owner.startswith("GOVERNMENT") else ("private" if owner else None)
    source_id = get("ID")
    return {
        "external_id": f"hifld:{source_id}" if source_id else None, "name": (get("NAME") or "").title(),
        "type": "hospital", "ownership": ownership, "emergency": emergency, "specialties": specialties,
        "services": _HIFLD_SERVICES.get(kind, []), "beds_total": get("BEDS"), "lat": get("LATITUDE") or get("Y"),
        "lng": get("LONGITUDE") or get("X"), "phone": get("TELEPHONE"), "website": _hifld_website(get("WEBSITE")),
        "address_line": (get("ADDRESS") or "").title() or None, "city": (get("CITY") or "").title() or None,
        "district": (get("COUNTY") or "").title() or None, "state": get("STATE"),
        "postal_code": _us_zip(get("ZIP") or "") or None,
        "country": _HIFLD_COUNTRY.get(get("COUNTRY") or "", get("COUNTRY")),
        "active": (get("STATUS") or "OPEN").upper() != "CLOSED", "languages": ["en"],
    }


def _unescape(value: str | None) -> str | None:
    """Undo `exporters.csv_safe`: an apostrophe guarding a formula-like cell."""
    if value and len(value) > 1 and value[0] == "'" and value[1] in fm.FORMULA_STARTS:
        return value[1:]
    return value


@dataclass(frozen=True)
class CsvProfile:
    name: str
    required: frozenset[str]
    convert: Callable[[dict[str, str]], dict[str, Any]]


PROFILES: dict[str, CsvProfile] = {
    "carebridge": CsvProfile("carebridge", frozenset({"external_id", "name", "type", "lat", "lng"}), dict),
    "hifld": CsvProfile("hifld", frozenset({"ID", "NAME", "LATITUDE", "LONGITUDE", "TYPE", "STATUS"}), hifld_row),
}


def detect_profile(header: Iterable[str]) -> str:
    columns = set(header)
    for name, profile in PROFILES.items():
        if profile.required <= columns:
            return name
    raise ImportFormatError(
        "the CSV header matches no known profile: it needs the columns "
        + ", ".join(sorted(PROFILES["carebridge"].required)) + " (or a source profile such as hifld)")


def read_csv(text: Iterable[str], *, profile: str | None = None,
             default_time_zone: str = DEFAULT_TIME_ZONE) -> tuple[str, Iterator[ParsedRecord]]:
    """(profile used, records); line numbers count the header as line 1."""
    reader = csv.DictReader(iter(text))
    header = reader.fieldnames
    if not header:
        raise ImportFormatError("the file is empty: no CSV header line")
    header = [h.lstrip("\ufeff").strip() for h in header]
    reader.fieldnames = header
    chosen = profile or detect_profile(header)
    if chosen not in PROFILES:
        raise ImportFormatError(f"unknown profile {chosen!r}; known: {', '.join(PROFILES)}")
    spec = PROFILES[chosen]
    missing = spec.required - set(header)
    if missing:
        raise ImportFormatError(f"the CSV lacks the column(s) {', '.join(sorted(missing))} of profile {chosen}")

    def records() -> Iterator[ParsedRecord]:
        start = reader.line_num + 1
        for row in reader:
            line = start
            start = reader.line_num + 1
            if None in row:
                yield ParsedRecord(where=f"line {line}", line=line, external_id=None,
                                   errors=[f"the row has more fields than the header ({len(header)})"])
                continue
            row = {k: _unescape(v) for k, v in row.items()}
            try:
                flat = spec.convert(row)
            except ValueError as exc:
                yield ParsedRecord(where=f"line {line}", line=line, external_id=None, errors=[_clip(str(exc))])
                continue
            yield build(f"line {line}", line, flat, default_time_zone=default_time_zone)

    return chosen, records()


# --- GeoJSON --------------------------------------------------------------------------------------

def _load_json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"not valid JSON: {exc}") from exc


def read_geojson(raw: bytes | str, *, default_time_zone: str = DEFAULT_TIME_ZONE) -> list[ParsedRecord]:
    doc = _load_json(raw)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
            doc.get("features"), list):
        raise ImportFormatError("a GeoJSON import must be a FeatureCollection with a features array")
    out = []
    for i, feature in enumerate(doc["features"]):
        where = f"features[{i}]"
        props = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        external_id = _text(props.get("external_id")) if isinstance(props, dict) else None
        if not isinstance(props, dict):
            out.append(ParsedRecord(where, None, None, errors=["the feature has no properties object"]))
            continue
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not (isinstance(geometry, dict) and geometry.get("type") == "Point" and isinstance(coords, list)
                and len(coords) >= 2):
            out.append(ParsedRecord(where, None, external_id, errors=["geometry must be a Point [lng, lat]"]))
            continue
        flat = {**props, "lng": coords[0], "lat": coords[1]}
        out.append(build(where, None, flat, default_time_zone=default_time_zone))
    return out


# --- FHIR -----------------------------------------------------------------------------------------

def _ext(resource: dict[str, Any], url: str) -> list[Any]:
    values: list[Any] = []
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            values.extend(v for k, v in ext.items() if k.startswith("value"))
    return values


def _telecom(resource: dict[str, Any], system: str) -> str | None:
    for t in resource.get("telecom") or []:
        if isinstance(t, dict) and t.get("system") == system and t.get("value"):
            return str(t["value"])
    return None


def _external_id(resource: dict[str, Any]) -> str | None:
    identifiers = [i for i in resource.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    for ident in identifiers:
        if ident.get("system") == fm.EXTERNAL_ID_SYSTEM:
            return str(ident["value"])
    if identifiers:
        return str(identifiers[0]["value"])
    return f"fhir:Location/{resource['id']}" if resource.get("id") else None


def _facility_type(resource: dict[str, Any]) -> str:
    for concept in resource.get("type") or []:
        for coding in (concept or {}).get("coding") or []:
            if coding.get("system") == fm.FACILITY_TYPE_SYSTEM and coding.get("code"):
                return str(coding["code"])
            if coding.get("code") in fm.V3_ROLE_TYPES:
                return fm.V3_ROLE_TYPES[str(coding["code"])]
    return "other"


def _fhir_hours(location: dict[str, Any], default_time_zone: str) -> dict[str, Any] | None:
    zone = next((str(v) for v in _ext(location, fm.TIMEZONE_EXT)), default_time_zone)
    always = any(v is True for v in _ext(location, fm.EXT_ALWAYS_OPEN))
    slots = location.get("hoursOfOperation") or []
    exceptions_text = next((str(v) for v in _ext(location, fm.EXT_HOURS_EXCEPTIONS)), None)
    if not slots and not always and not exceptions_text:
        return None
    weekly: dict[str, list[dict[str, str]]] = {}
    for slot in slots:
        if not isinstance(slot, dict):
            raise ValueError("hoursOfOperation entries must be objects")
        if slot.get("allDay"):
            opens, closes = "00:00", "24:00"
        else:
            opens = str(slot.get("openingTime", ""))[:5]
            closes = str(slot.get("closingTime", ""))[:5]
            closes = "24:00" if closes == "00:00" else closes
        for day in slot.get("daysOfWeek") or []:
            if day not in fm.FHIR_DAYS:
                raise ValueError(f"hoursOfOperation.daysOfWeek: {day!r} is not a FHIR day code")
            weekly.setdefault(day, []).append(TimeRange(opens=opens, closes=closes).model_dump())
    hours = OpeningHours(time_zone=zone, always_open=always,
                         weekly={Weekday(d): [TimeRange(**r) for r in rs] for d, rs in weekly.items()},
                         exceptions=parse_exceptions(exceptions_text) if exceptions_text else [])
    return hours.model_dump(mode="json")


def location_flat(location: dict[str, Any], organization: dict[str, Any] | None, org_ref: str | None,
                  default_time_zone: str) -> dict[str, Any]:
    position = location.get("position") or {}
    org_addresses = (organization or {}).get("address") or [{}]
    address = location.get("address") or org_addresses[0] or {}
    lines = address.get("line") or []
    country = _text(address.get("country"))
    if country and len(country) == 3:
        country = fm.COUNTRY_ALPHA3.get(country.upper(), country)
    org = organization or {}
    flat: dict[str, Any] = {
        "external_id": _external_id(location), "name": location.get("name") or org.get("name"),
        "type": _facility_type(location), "lat": position.get("latitude"), "lng": position.get("longitude"),
        "phone": _telecom(location, "phone") or _telecom(org, "phone"),
        "email": _telecom(location, "email") or _telecom(org, "email"),
        "website": _telecom(location, "url") or _telecom(org, "url"),
        "address_line": ", ".join(str(x) for x in lines) or None, "city": address.get("city"),
        "district": address.get("district") or next(iter(_ext(address, fm.EXT_DISTRICT)), None),
        "state": address.get("state"), "postal_code": address.get("postalCode"), "country": country,
        "specialties": _ext(location, fm.EXT_SPECIALTY), "services": _ext(location, fm.EXT_SERVICE),
        "insurance": _ext(location, fm.EXT_INSURANCE), "languages": _ext(location, fm.EXT_LANGUAGE),
        "emergency": next(iter(_ext(location, fm.EXT_EMERGENCY)), False),
        "ownership": next(iter(_ext(location, fm.EXT_OWNERSHIP) or _ext(org, fm.EXT_OWNERSHIP)), None),
        "beds_total": next(iter(_ext(location, fm.EXT_BEDS_TOTAL)), None),
        "beds_available": next(iter(_ext(location, fm.EXT_BEDS_AVAILABLE)), None),
        "active": location.get("status", "active") == "active",
        "opening_hours": _fhir_hours(location, default_time_zone),
    }
    if org_ref is not None and organization is None:
        flat["organization_id"] = org_ref  # a reference to an organization on this server
    return flat


def read_fhir(raw: bytes | str, *, default_time_zone: str = DEFAULT_TIME_ZONE) -> tuple[list[ParsedRecord], list[str]]:
    """Locations become facilities; Organizations lend them name, contact and address. (records, notes)"""
    doc = _load_json(raw)
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle" or not isinstance(doc.get("entry", []), list):
        raise ImportFormatError("a FHIR import must be a Bundle resource with an entry array")
    entries = doc.get("entry") or []
    resources = [(i, e.get("resource") if isinstance(e, dict) else None) for i, e in enumerate(entries)]
    orgs = {f"Organization/{r['id']}": (i, r) for i, r in resources
            if isinstance(r, dict) and r.get("resourceType") == "Organization" and r.get("id")}
    used: set[str] = set()
    out: list[ParsedRecord] = []
    for i, resource in resources:
        where = f"entry[{i}]"
        if not isinstance(resource, dict):
            out.append(ParsedRecord(where, None, None, errors=["the entry has no resource"]))
            continue
        kind = resource.get("resourceType")
        if kind == "Organization":
            continue
        if kind != "Location":
            out.append(ParsedRecord(where, None, None, errors=[f"{kind} resources are not imported"]))
            continue
        ref = ((resource.get("managingOrganization") or {}).get("reference") or "").strip() or None
        found = orgs.get(ref) if ref is not None else None
        org = found[1] if found is not None else None
        if ref is not None and found is not None:
            used.add(ref)
        org_id = ref.split("/", 1)[1] if ref and ref.startswith("Organization/") and org is None else None
        try:
            flat = location_flat(resource, org, org_id, default_time_zone)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
            out.append(ParsedRecord(where, None, _external_id(resource), errors=[_clip(f"Location: {exc}")]))
            continue
        out.append(build(where, None, flat, default_time_zone=default_time_zone))
    for ref, (i, _org) in orgs.items():
        if ref not in used:
            out.append(ParsedRecord(f"entry[{i}]", None, None, errors=[
                "an Organization that no Location in the bundle manages: it has no position to place it"]))
    notes = [f"{len(used)} Organization resource(s) lent their details to Locations"] if used else []
    return out, notes


def read(fmt: fm.Format, raw: bytes, *, profile: str | None = None,
         default_time_zone: str = DEFAULT_TIME_ZONE) -> tuple[str, Iterator[ParsedRecord] | list[ParsedRecord],
                                                               list[str]]:
    """(profile, records, notes) of an uploaded or local file's bytes."""
    if fmt == "csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"the CSV is not UTF-8 text (byte {exc.start})") from exc
        used, records = read_csv(io.StringIO(text, newline=""), profile=profile, default_time_zone=default_time_zone)
        return used, records, []
    if fmt == "geojson":
        return "geojson", read_geojson(raw, default_time_zone=default_time_zone), []
    records_list, notes = read_fhir(raw, default_time_zone=default_time_zone)
    return "fhir", records_list, notes
