"""Facilities (hospitals, clinics, labs, pharmacies ...) and the keys that make nearest-search fast.

`cell` is the facility's cell in the global grid of `engines.geo.Grid` (0.05 degree cells, ids
row-major): the search asks for a few ranges of cell ids around the patient instead of scanning the
table. `facility_search_keys` repeats the cell for each specialty, service and insurance code of an
active facility, so "nearest open cardiology" reads only cardiology rows near the patient through
the (key, cell) index. Both are derived: `service.sync_search_keys` rewrites them on every write.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class Facility(Base):
    __tablename__ = "facilities"
    __table_args__ = (
        # lat/lng ride in the index so cells' edges are trimmed before any table row is read
        Index("ix_facilities_cell", "cell", "lat", "lng"),
        Index("ix_facilities_sort", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, default=None)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))  # no index: the search must seek by cell, never by type
    ownership: Mapped[str | None] = mapped_column(String(16), default=None)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True,
                                                              default=None)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    specialties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    services: Mapped[list[Any]] = mapped_column(JSON, default=list)
    insurance: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    beds_total: Mapped[int | None] = mapped_column(Integer, default=None)
    beds_available: Mapped[int | None] = mapped_column(Integer, default=None)
    beds_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    website: Mapped[str | None] = mapped_column(String(300), default=None)
    address_line: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    district: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    cell: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FacilitySearchKey(Base):
    """One row per (code, active facility): `s:<specialty or service code>` or `i:<insurance scheme>`."""

    __tablename__ = "facility_search_keys"
    # SQLite: stored as the primary-key B-tree itself, so a (key, cell) range scan reads one tree
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    cell: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"),
                                                   primary_key=True, index=True)
    lat: Mapped[float] = mapped_column(Float)  # copies of the facility's, to trim without a join
    lng: Mapped[float] = mapped_column(Float)
