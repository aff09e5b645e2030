"""Building facilities for tests: a valid payload with overridable fields."""

from __future__ import annotations

import itertools
from typing import Any

_n = itertools.count(1)

WEEKDAY_HOURS = {"time_zone": "Asia/Kolkata",
                 "weekly": {d: [{"opens": "09:00", "closes": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}}
NIGHT_HOURS = {"time_zone": "Asia/Kolkata",
               "weekly": {d: [{"opens": "20:00", "closes": "06:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}}
ALWAYS = {"time_zone": "Asia/Kolkata", "always_open": True}


def payload(**over: Any) -> dict[str, Any]:
    n = next(_n)
    data: dict[str, Any] = {
        "name": f"Test Facility {n}", "external_id": f"test:{n}", "type": "hospital", "ownership": "public",
        "emergency": False, "specialties": ["general_practice"], "services": [], "insurance": [], "languages": ["hi"],
        "opening_hours": ALWAYS, "contact": {"phone": "+91 20 2612 3456"},
        "address": {"city": "Pune", "country": "IN"}, "location": {"lat": 18.52, "lng": 73.85},
    }
    data.update(over)
    return data
