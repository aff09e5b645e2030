"""Importers: good and bad rows with their line numbers, upserts, and round trips through every format."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.facilities import exporters, importers, service
from carebridge.contexts.facilities.models import Facility
from carebridge.contexts.facilities.schemas import FacilityCreate, ImportReport
from carebridge.kernel.clock import FixedClock
from tests.factories import Factory
from tests.integration.facilities.helpers import NIGHT_HOURS, payload

HEADER = ("external_id,name,type,ownership,emergency,specialties,services,insurance,languages,beds_total,"
          "beds_available,lat,lng,phone,city,country,time_zone,hours,hours_exceptions\n")


def _run(session: Session, clock: FixedClock, fmt: str, raw: bytes, profile: str | None = None) -> ImportReport:
    used, records, notes = importers.read(fmt, raw, profile=profile)  # type: ignore[arg-type]
    return service.import_facilities(session, None, fmt=fmt, profile=used, records=records, notes=notes,
                                     now=clock.now())


def test_csv_reports_each_bad_row_with_its_line_and_keeps_the_good(session: Session, clock: FixedClock) -> None:
    text = HEADER + (
        'pn-1,Sassoon General Hospital,district_hospital,public,true,general_surgery;cardiology,radiology,'
        'PM-JAY;CGHS,mr;hi,1300,40,18.5286,73.8743,+91 20 2612 8000,Pune,IN,Asia/Kolkata,24/7,\n'
        'pn-2,Bad Latitude Clinic,private_clinic,private,false,,,,,,,95.0,73.8,,Pune,IN,,,\n'        # line 3
        'pn-3,"Multi\nLine Name Clinic",private_clinic,private,no,dermatology,,,,,,18.5,73.8,,Pune,IN,,'
        'Mo-Sa 10:00-19:00,2026-01-26 closed\n'                                                          # 4-5
        'pn-4,Unknown Code Centre,hospital,public,yes,heart_magic,,,,,,18.5,73.8,,Pune,IN,,,\n'          # line 6
        'pn-1,Duplicate Of Line Two,hospital,public,yes,,,,,,,18.5,73.8,,Pune,IN,,,\n'                   # line 7
        ',No External Id,hospital,public,yes,,,,,,,18.5,73.8,,Pune,IN,,,\n'                              # line 8
        'pn-5,Too Many Beds,hospital,public,yes,,,,,10,20,18.5,73.8,,Pune,IN,,,\n'                       # line 9
        'pn-6,Bad Hours,hospital,public,yes,,,,,,,18.5,73.8,,Pune,IN,,Mo 9-5,\n'                         # line 10
    )
    report = _run(session, clock, "csv", text.encode())
    assert (report.total, report.created, report.updated, report.rejected) == (8, 2, 0, 6)
    by_line = {r.line: r for r in report.rejected_rows}
    assert sorted(by_line) == [3, 6, 7, 8, 9, 10]  # the quoted field spanning lines 4-5 counts both
    assert "location.lat" in by_line[3].errors[0]
    assert "heart_magic" in by_line[6].errors[0]
    assert "repeats line 2" in by_line[7].errors[0]
    assert "external_id" in by_line[8].errors[0]
    assert "beds_available cannot exceed beds_total" in by_line[9].errors[0]
    assert "9-5" in by_line[10].errors[0]
    sassoon = session.execute(select(Facility).where(Facility.external_id == "pn-1")).scalar_one()
    assert sassoon.insurance == ["pmjay", "cghs"]
    assert sassoon.opening_hours == {"time_zone": "Asia/Kolkata", "always_open": True, "weekly": {}, "exceptions": []}
    multi = session.execute(select(Facility).where(Facility.external_id == "pn-3")).scalar_one()
    assert multi.name == "Multi\nLine Name Clinic"
    assert multi.opening_hours is not None and multi.opening_hours["exceptions"][0]["closed"] is True


def test_reimport_updates_by_external_id(session: Session, clock: FixedClock) -> None:
    row = "up-1,Ruby Hall Clinic,hospital,private,true,cardiology,,,en,{beds},,18.5323,73.8772,,Pune,IN,,,\n"
    first = _run(session, clock, "csv", (HEADER + row.format(beds=500)).encode())
    second = _run(session, clock, "csv", (HEADER + row.format(beds=550)).encode())
    assert (first.created, second.created, second.updated) == (1, 0, 1)
    ruby = session.execute(select(Facility).where(Facility.external_id == "up-1")).scalar_one()
    assert (ruby.beds_total, ruby.version) == (550, 2)


def test_unknown_organization_is_rejected_not_a_failed_foreign_key(session: Session, clock: FixedClock) -> None:
    text = "external_id,name,type,lat,lng,organization_id\norg-1,Orphan,hospital,18.5,73.8," + str(uuid.uuid4())
    report = _run(session, clock, "csv", text.encode())
    assert report.rejected == 1
    assert report.rejected_rows[0].line == 2
    assert "organization" in report.rejected_rows[0].errors[0]


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "empty"),
    (b"name,lat\nx,1\n", "matches no known profile"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
])
def test_unreadable_csv_files_say_why(raw: bytes, message: str) -> None:
    with pytest.raises(importers.ImportFormatError, match=message):
        importers.read("csv", raw)


def test_geojson_bad_features_are_reported_by_index(session: Session, clock: FixedClock) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [73.85, 18.52]},
         "properties": {"external_id": "g-1", "name": "Point Clinic", "type": "private_clinic",
                        "specialties": ["dermatology"], "opening_hours": NIGHT_HOURS}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"external_id": "g-2", "name": "Line", "type": "hospital"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [73.85, 18.52]}, "properties": None},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 18.52]},
         "properties": {"external_id": "g-4", "name": "Far", "type": "hospital"}},
    ]}
    report = _run(session, clock, "geojson", json.dumps(doc).encode())
    assert (report.created, report.rejected) == (1, 3)
    assert [r.where for r in report.rejected_rows] == ["features[1]", "features[2]", "features[3]"]
    assert "Point" in report.rejected_rows[0].errors[0]
    assert "location.lng" in report.rejected_rows[2].errors[0]


def test_fhir_bundle_locations_borrow_from_their_organization(session: Session, clock: FixedClock) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Organization", "id": "o1", "name": "KEM Hospital Trust",
                      "telecom": [{"system": "phone", "value": "+91 22 2410 7000"}]}},
        {"resource": {"resourceType": "Location", "id": "l1", "status": "active",
                      "identifier": [{"system": "https://example.org/nin", "value": "NIN-123"}],
                      "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                            "code": "HOSP"}]}],
                      "position": {"latitude": 19.0025, "longitude": 72.8422},
                      "address": {"city": "Mumbai", "country": "IND"},
                      "hoursOfOperation": [{"daysOfWeek": ["mon", "tue"], "openingTime": "08:00:00",
                                            "closingTime": "20:00:00"}],
                      "managingOrganization": {"reference": "Organization/o1"}}},
        {"resource": {"resourceType": "Location", "id": "l2", "name": "No Position"}},
        {"resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": {"resourceType": "Organization", "id": "o2", "name": "Lonely Org"}},
    ]}
    report = _run(session, clock, "fhir", json.dumps(bundle).encode())
    assert (report.total, report.created, report.rejected) == (4, 1, 3)
    assert {r.where for r in report.rejected_rows} == {"entry[2]", "entry[3]", "entry[4]"}
    kem = session.execute(select(Facility).where(Facility.external_id == "NIN-123")).scalar_one()
    assert (kem.name, kem.type, kem.phone, kem.country) == ("KEM Hospital Trust", "hospital", "+91 22 2410 7000", "IN")
    assert kem.opening_hours is not None
    assert kem.opening_hours["weekly"]["mon"] == [{"opens": "08:00", "closes": "20:00"}]


@pytest.mark.parametrize("fmt", ["csv", "geojson", "fhir"])
def test_export_then_import_round_trips(fmt: str, session: Session, clock: FixedClock, factory: Factory) -> None:
    org = factory.organization()
    full = FacilityCreate.model_validate(payload(
        external_id=f"rt-{fmt}", organization_id=str(org), emergency=True, ownership="private",
        specialties=["cardiology", "emergency_medicine"], services=["radiology"], insurance=["pmjay", "esi"],
        languages=["mr", "hi"], beds_total=120, beds_available=12,
        opening_hours={**NIGHT_HOURS, "exceptions": [{"date": "2026-01-26", "closed": True},
                                                     {"date": "2026-12-31", "ranges": [{"opens": "10:00",
                                                                                        "closes": "24:00"}]}]},
        contact={"phone": "+91 20 1234 5678", "email": "desk@sunrise-clinic.in", "website": "https://sunrise-clinic.in"},
        address={"line": "1 Station Road", "city": "Pune", "district": "Pune", "state": "Maharashtra",
                 "postal_code": "411001", "country": "IN"}))
    service.upsert_many(session, [full], now=clock.now())
    session.flush()
    before = service.to_read(session.execute(select(Facility).where(Facility.external_id == f"rt-{fmt}")).scalar_one())
    exported = "".join(exporters.export(fmt, [before]))  # type: ignore[arg-type]
    report = _run(session, clock, fmt, exported.encode())
    assert (report.created, report.updated, report.rejected) == (0, 1, 0), report.rejected_rows
    session.expire_all()
    after = service.to_read(session.execute(select(Facility).where(Facility.external_id == f"rt-{fmt}")).scalar_one())
    skip = {"version", "updated_at", "beds_updated_at"}
    assert after.model_dump(exclude=skip) == before.model_dump(exclude=skip)


def test_csv_export_defuses_formulas_and_still_round_trips(session: Session, clock: FixedClock) -> None:
    record = FacilityCreate.model_validate(payload(external_id="fx-1", name='=HYPERLINK("http://evil.test")',
                                                   location={"lat": -1.5, "lng": 73.8}))
    service.upsert_many(session, [record], now=clock.now())
    before = service.to_read(session.execute(select(Facility).where(Facility.external_id == "fx-1")).scalar_one())
    exported = "".join(exporters.to_csv([before]))
    assert "'=HYPERLINK" in exported and "'+91 20 2612 3456" in exported
    assert ",-1.5," in exported  # numbers stay numbers
    report = _run(session, clock, "csv", exported.encode())
    assert (report.updated, report.rejected) == (1, 0)
    session.expire_all()
    after = session.execute(select(Facility).where(Facility.external_id == "fx-1")).scalar_one()
    assert (after.name, after.phone) == ('=HYPERLINK("http://evil.test")', "+91 20 2612 3456")
