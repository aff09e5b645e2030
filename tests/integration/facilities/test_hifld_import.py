"""Importing the public US HIFLD hospitals file through the hifld profile (shared/data/facilities)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebridge.contexts.facilities import importers, search, service
from carebridge.contexts.facilities.models import Facility
from carebridge.contexts.facilities.schemas import FacilitySearch, ImportReport
from carebridge.kernel.clock import FixedClock

HIFLD = Path(__file__).resolve().parents[4] / "shared" / "data" / "facilities" / "us_hifld_hospitals.csv"
if not HIFLD.exists():
    HIFLD = Path("/work/shared/data/facilities/us_hifld_hospitals.csv")


def _import(session: Session, now: datetime) -> ImportReport:
    profile, records, notes = importers.read("csv", HIFLD.read_bytes())
    return service.import_facilities(session, None, fmt="csv", profile=profile, records=records, notes=notes,
                                     now=now)


@pytest.mark.skipif(not HIFLD.exists(), reason="shared/data/facilities/us_hifld_hospitals.csv is not present")
def test_hifld_file_imports_every_row_and_reimport_updates(session: Session, clock: FixedClock) -> None:
    report = _import(session, clock.now())
    assert (report.profile, report.total, report.created, report.updated, report.rejected) == (
        "hifld", 8013, 8013, 0, 0)
    count = session.execute(select(func.count()).select_from(Facility)).scalar_one()
    inactive = session.execute(select(func.count()).where(Facility.active.is_(False))).scalar_one()
    assert (count, inactive) == (8013, 379)  # PROVENANCE.md: 7,634 open, 379 closed

    andalusia = session.execute(select(Facility).where(Facility.external_id == "hifld:1336420")).scalar_one()
    assert andalusia.name == "Andalusia Health"
    assert (andalusia.lat, andalusia.lng) == pytest.approx((31.29579533, -86.49454911))
    assert (andalusia.beds_total, andalusia.ownership, andalusia.emergency) == (88, "private", True)  # LEVEL III
    assert (andalusia.city, andalusia.state, andalusia.postal_code, andalusia.country) == (
        "Andalusia", "AL", "36420", "US")
    assert andalusia.website == "http://www.andalusiaregionalhospital.com"
    assert "emergency_medicine" in andalusia.specialties

    athens = session.execute(select(Facility).where(Facility.external_id == "hifld:1535611")).scalar_one()
    assert (athens.name, athens.beds_total, athens.phone) == ("Athens Limestone Hospital", 71, "(256) 262-6468")

    nearest = search.search_ids(session, query=FacilitySearch(lat=31.2958, lng=-86.4945, limit=1))
    assert nearest[0][1] == andalusia.id

    again = _import(session, clock.now())
    assert (again.created, again.updated, again.rejected) == (0, 8013, 0)
    assert session.execute(select(func.count()).select_from(Facility)).scalar_one() == 8013
