"""Vitals ingestion throughput (HTTP batches, MQTT) beside a raw `executemany`, and reading-to-alert latency.

For each database (SQLite file; PostgreSQL when reachable) it migrates a fresh database, seeds patients with one
device each, starts `uvicorn` (one worker, the MQTT gateway inside it when Mosquitto is up) and measures:

* HTTP: `POST /api/v1/vitals` batches of 5,000 readings, sequential, readings/s;
* MQTT: messages of 500 readings on `carebridge/devices/{id}/vitals`, readings/s until all are in the table;
* the ceiling: a raw DBAPI `executemany` of the same number of rows into the same table, same run;
* latency: a reading set scoring NEWS2 5 is posted for a fresh patient while an SSE stream of those patients
  is open; the time until its `monitoring.alert_raised` arrives on the stream (p50/p99).

Bars (issue): HTTP batch ingest >= 25% of the raw rate; reading-to-alert p99 < 250 ms.

Run: python benchmarks/monitoring.py [--batches 10] [--samples 40] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import reset_postgres, server, tmpdir

from carebridge.contexts.identity.models import AuthSession, User
from carebridge.contexts.identity.tokens import issue_access_token
from carebridge.contexts.monitoring.gateway import topic_for
from carebridge.contexts.monitoring.models import Device, VitalReading
from carebridge.contexts.patients.models import Patient, PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.kernel.migrate import upgrade
from carebridge.security import Role
from carebridge.settings import Settings

PG_URL = os.environ.get("CAREBRIDGE_BENCH_PG_MONITORING",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/carebridge_bench_monitoring")
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
HTTP_RATIO_BAR = 0.25
P99_BAR_MS = 250.0
BATCH = 5000
MQTT_MESSAGE = 500
TYPES = ("heart_rate", "respiratory_rate", "spo2", "temperature", "systolic_bp")
VALUES = {"heart_rate": 72.0, "respiratory_rate": 16.0, "spo2": 97.0, "temperature": 36.8, "systolic_bp": 122.0}
MEDIUM_5 = {"respiratory_rate": 22, "spo2": 94, "on_oxygen": 0, "systolic_bp": 105, "heart_rate": 95,
            "consciousness": "A", "temperature": 37.0}


def _mqtt_up() -> bool:
    import socket

    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=1):
            return True
    except OSError:
        return False


def seed(url: str, data_dir: Path, patients: int) -> tuple[str, list[tuple[uuid.UUID, uuid.UUID, str]]]:
    """A nurse's bearer token and (patient id, device id, credential) per patient."""
    upgrade(url)
    keys = load_or_create_keys(Settings(env="test", data_dir=data_dir, database_url=url))
    db = Database(url)
    now = datetime.now(UTC)
    org = uuid.uuid4()
    out: list[tuple[uuid.UUID, uuid.UUID, str]] = []
    with db.transaction() as s:
        s.add(Organization(id=org, name="Bench Ward", type="hospital", created_at=now, updated_at=now))
        s.flush()
        for i in range(patients):
            pid, did, secret = uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex
            s.execute(insert(Patient), [{"id": pid, "given_name": "Bench", "family_name": f"P{i}",
                                         "given_name_norm": "bench", "family_name_norm": f"p{i}",
                                         "name_search": f"bench p{i}", "birth_date": date(1960, 1, 1),
                                         "sex": "female", "created_at": now, "updated_at": now, "version": 1,
                                         "active": True, "deceased": False}])
            s.execute(insert(PatientOrganization), [{"id": uuid.uuid4(), "patient_id": pid, "organization_id": org,
                                                     "since": now}])
            s.add(Device(id=did, patient_id=pid, type="patch", serial=f"B-{i}", spo2_scale=1, created_at=now,
                         secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
            out.append((pid, did, f"cbd_{did.hex}_{secret}"))
        user = User(id=uuid.uuid4(), username="bench_nurse", password_hash="x", role=Role.nurse.value,
                    organization_id=org, created_at=now, updated_at=now, password_changed_at=now)
        s.add(user)
        s.flush()
        sid = uuid.uuid4()
        s.add(AuthSession(id=sid, user_id=user.id, kind="api", mfa=True, created_at=now,
                          expires_at=now + timedelta(hours=2)))
    token = issue_access_token(keys.token_secret, user_id=user.id, role=Role.nurse, username=user.username,
                               session_id=sid, organization_id=org, patient_id=None, mfa=True, now=now,
                               ttl_seconds=7200)
    db.dispose()
    return token, out


def readings(start: datetime, n: int, offset: int) -> list[dict[str, Any]]:
    """n distinct readings, one type per slot, a second apart (so nothing de-duplicates)."""
    return [{"type": TYPES[i % len(TYPES)], "value": VALUES[TYPES[i % len(TYPES)]],
             "at": (start + timedelta(seconds=(offset + i) // len(TYPES), microseconds=i % len(TYPES))).isoformat()}
            for i in range(n)]


def count(db: Database, device: uuid.UUID) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(VitalReading).where(VitalReading.device_id == device))
                   or 0)


def bench_http(base: str, credential: str, batches: int, start: datetime) -> float:
    bodies = [json.dumps({"readings": readings(start, BATCH, b * BATCH)}) for b in range(batches)]
    headers = {"X-Device-Key": credential, "Content-Type": "application/json"}
    with httpx.Client(timeout=60) as client:
        client.post(base + "/api/v1/vitals", headers=headers, content=bodies[0]).raise_for_status()  # warm-up
        began = time.perf_counter()
        for body in bodies[1:]:
            r = client.post(base + "/api/v1/vitals", headers=headers, content=body)
            r.raise_for_status()
            assert r.json()["stored"] == BATCH, r.text
        return (batches - 1) * BATCH / (time.perf_counter() - began)


def bench_mqtt(db: Database, device: uuid.UUID, credential: str, total: int, start: datetime) -> float:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4()}")
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    messages = [json.dumps({"credential": credential, "readings": readings(start, MQTT_MESSAGE, m * MQTT_MESSAGE)})
                for m in range(total // MQTT_MESSAGE)]
    began = time.perf_counter()
    for body in messages:
        client.publish(topic_for(device), body, qos=1)
    deadline = time.monotonic() + 120
    while count(db, device) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    client.loop_stop()
    client.disconnect()
    return count(db, device) / elapsed


def bench_raw(db: Database, patient: uuid.UUID, device: uuid.UUID, total: int, start: datetime) -> float:
    """The ceiling: the DBAPI's own executemany of the same rows, no validation, no HTTP."""
    now = datetime.now(UTC)
    sqlite = db.url.startswith("sqlite")
    mark = "?" if sqlite else "%s"

    def val(x: Any) -> Any:
        if isinstance(x, uuid.UUID):
            return x.hex if sqlite else x
        if isinstance(x, datetime) and sqlite:
            return x.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        return x

    rows = [tuple(val(x) for x in (patient, device, r["type"], datetime.fromisoformat(r["at"]), r["value"], "/min",
                                   None, now)) for r in readings(start, total, 0)]
    sql = ("INSERT INTO vital_readings (patient_id, device_id, type, observed_at, value, unit, spo2_scale, "  # noqa: S608
           f"received_at) VALUES ({', '.join([mark] * 8)})")  # only placeholders are interpolated
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        began = time.perf_counter()
        for i in range(0, total, BATCH):
            if sqlite:  # the engine runs pysqlite in autocommit mode: one explicit transaction per batch
                cur.execute("BEGIN")
            cur.executemany(sql, rows[i:i + BATCH])
            raw.commit()
        return total / (time.perf_counter() - began)
    finally:
        raw.close()


def bench_latency(base: str, token: str, devices: list[tuple[uuid.UUID, uuid.UUID, str]]) -> list[float]:
    arrived: dict[str, float] = {}
    ready = threading.Event()
    stop = threading.Event()
    events: queue.Queue[str] = queue.Queue()

    def listen() -> None:
        params = [("patient", str(p)) for p, _, _ in devices]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=httpx.Timeout(10, read=None)) as c, \
                c.stream("GET", base + "/api/v1/monitoring/stream", params=params, headers=headers) as r:
            r.raise_for_status()
            kind = ""
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "monitoring.alert_raised":
                    arrived[json.loads(line[6:])["payload"]["patient_id"]] = time.perf_counter()
                    events.put(kind)
                if stop.is_set():
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(10)
    samples = []
    with httpx.Client(timeout=30) as client:
        for pid, _did, credential in devices:
            at = datetime.now(UTC).isoformat()
            body = {"readings": [{"type": t, "value": v, "at": at} for t, v in MEDIUM_5.items()]}
            sent = time.perf_counter()
            client.post(base + "/api/v1/vitals", headers={"X-Device-Key": credential}, json=body).raise_for_status()
            try:
                events.get(timeout=5)
            except queue.Empty:
                continue
            samples.append((arrived[str(pid)] - sent) * 1000)
    stop.set()
    return samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench(name: str, url: str, args: argparse.Namespace) -> bool:
    data_dir = tmpdir(f"cb-bench-monitoring-{name}-")
    token, devices = seed(url, data_dir, args.samples + 4)
    http_dev, mqtt_dev, raw_dev, raw_dev2 = devices[0], devices[1], devices[2], devices[3]
    mqtt_on = _mqtt_up()
    if mqtt_on:
        os.environ["CAREBRIDGE_MQTT_URL"] = f"mqtt://{MQTT_HOST}:{MQTT_PORT}"
    db = Database(url)
    start = datetime.now(UTC) - timedelta(days=1)
    total = (args.batches - 1) * BATCH
    print(f"\n== {name}: {args.batches} HTTP batches of {BATCH}, {total} readings each path", flush=True)
    # the ceiling is measured before and after the server's runs (empty table, full table); the faster is kept
    raw_before = bench_raw(db, raw_dev[0], raw_dev[1], total, start)
    with server(url, data_dir) as base:
        http_rate = bench_http(base, http_dev[2], args.batches, start)
        mqtt_rate = bench_mqtt(db, mqtt_dev[1], mqtt_dev[2], total, start) if mqtt_on else None
        latencies = bench_latency(base, token, devices[4:])
    raw_rate = max(raw_before, bench_raw(db, raw_dev2[0], raw_dev2[1], total, start))
    os.environ.pop("CAREBRIDGE_MQTT_URL", None)
    db.dispose()
    print(f"  raw executemany (ceiling)   {raw_rate:10.0f} readings/s")
    print(f"  HTTP POST /api/v1/vitals    {http_rate:10.0f} readings/s  ratio {http_rate / raw_rate:6.1%} of raw")
    if mqtt_rate is not None:
        print(f"  MQTT gateway                {mqtt_rate:10.0f} readings/s  ratio {mqtt_rate / raw_rate:6.1%} of raw")
    else:
        print("  MQTT gateway                skipped (Mosquitto not reachable)")
    p50, p99 = (pct(latencies, 0.5), pct(latencies, 0.99)) if latencies else (float("nan"), float("nan"))
    print(f"  reading -> alert on SSE     p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({len(latencies)} samples, "
          f"mean {statistics.fmean(latencies) if latencies else float('nan'):.1f} ms)")
    ok = http_rate / raw_rate >= HTTP_RATIO_BAR and bool(latencies) and p99 < P99_BAR_MS
    print(f"  bar: HTTP >= {HTTP_RATIO_BAR:.0%} of raw and alert p99 < {P99_BAR_MS:.0f} ms -> "
          f"{'MET' if ok else 'NOT MET'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        d = tmpdir("cb-bench-monitoring-sqlite-db-")
        bench("SQLite", f"sqlite:///{d / 'bench.db'}", args)
    if args.only != "sqlite" and reset_postgres(PG_URL):
        bench("PostgreSQL", PG_URL, args)


if __name__ == "__main__":
    main()
