"""Synthetic people for the demo, generated from a seed so every demo is the same.

Names are common Indian given and family names; addresses are real city names with approximate
city-centre coordinates. No real person is described.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

GIVEN_FEMALE = ["Asha", "Priya", "Meera", "Kavita", "Sunita", "Anjali", "Fatima", "Lakshmi", "Pooja", "Divya",
                "Neha", "Shabana", "Radha", "Gurpreet", "Ananya", "Sneha", "Farida", "Rekha", "Jyoti", "Nandini"]
GIVEN_MALE = ["Rahul", "Amit", "Suresh", "Ravi", "Imran", "Arjun", "Vikram", "Sanjay", "Harpreet", "Mohammed",
              "Rajesh", "Anil", "Deepak", "Joseph", "Karthik", "Manoj", "Naveen", "Prakash", "Sunil", "Yusuf"]
FAMILY = ["Sharma", "Verma", "Iyer", "Khan", "Patel", "Reddy", "Singh", "Nair", "Das", "Gupta", "Joshi",
          "Kulkarni", "Mehta", "Shaikh", "Pillai", "Rao", "Banerjee", "Chatterjee", "Fernandes", "Ansari"]
CITIES = [("Pune", "Maharashtra", "411001", 18.5204, 73.8567), ("Nagpur", "Maharashtra", "440001", 21.1458, 79.0882),
          ("Nashik", "Maharashtra", "422001", 19.9975, 73.7898), ("Satara", "Maharashtra", "415001", 17.6805, 74.0183)]
LANGUAGES = [["hi", "en"], ["mr", "hi"], ["mr"], ["hi"], ["en"], ["ur", "hi"], ["mr", "en"]]
STREETS = ["MG Road", "Station Road", "Shivaji Nagar", "Gandhi Chowk", "Nehru Colony", "Lake View Lane"]
RELATIONS = ["spouse", "daughter", "son", "mother", "father", "sister", "brother", "neighbour"]


@dataclass
class DemoPatient:
    given: str
    family: str
    sex: str
    birth_date: date
    phone: str
    city: str
    state: str
    postal_code: str
    latitude: float
    longitude: float
    address_line: str
    languages: list[str]
    abha: str
    contact_name: str
    contact_relation: str
    contact_phone: str
    organization_index: int
    extra: dict[str, str] = field(default_factory=dict)


def _phone(rng: random.Random) -> str:
    return f"+91 9{rng.randint(100000000, 999999999)}"


def _abha(rng: random.Random) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(14))


def patients(count: int = 50, *, seed: int = 20261123, today: date = date(2026, 1, 1)) -> list[DemoPatient]:
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not security
    out: list[DemoPatient] = []
    for i in range(count):
        sex = "female" if i % 2 == 0 else "male"
        given = rng.choice(GIVEN_FEMALE if sex == "female" else GIVEN_MALE)
        family = rng.choice(FAMILY)
        # ages spread across life: infants, children, adults, older adults
        age_days = rng.choice([rng.randint(30, 700), rng.randint(730, 6500), rng.randint(6600, 25000),
                               rng.randint(6600, 25000), rng.randint(22000, 32000)])
        city, state, pin, lat, lng = CITIES[i % len(CITIES)]
        out.append(DemoPatient(
            given=given, family=family, sex=sex, birth_date=today - timedelta(days=age_days), phone=_phone(rng),
            city=city, state=state, postal_code=pin, latitude=round(lat + rng.uniform(-0.05, 0.05), 5),
            longitude=round(lng + rng.uniform(-0.05, 0.05), 5),
            address_line=f"{rng.randint(1, 300)}, {rng.choice(STREETS)}", languages=rng.choice(LANGUAGES),
            abha=_abha(rng), contact_name=f"{rng.choice(GIVEN_FEMALE + GIVEN_MALE)} {family}",
            contact_relation=rng.choice(RELATIONS), contact_phone=_phone(rng), organization_index=i % 2,
        ))
    return out
