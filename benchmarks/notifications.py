"""Notification worker throughput: queued messages delivered per second to the in-app and log channels,
beside a raw `executemany` of the same number of inbox rows into the same database in the same run.

It creates `--users` accounts, queues `--messages` notifications spread over them (through `enqueue`, in
batches of 500 per transaction, as a busy clinic's reminders would be), then runs the worker until the outbox
is empty. Delivery costs a lease, a template render, an inbox row, two attempt rows and a status update per
message, each message in its own transaction (so one bad message never holds back the others); the raw insert
is the floor the database sets. Ceiling stated: the worker should clear a day's reminders for a district
(say 20,000) within a minute, i.e. >= 333 messages/s.

Run: python benchmarks/notifications.py [--messages 5000] [--users 200] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PG_URL, reset_postgres, tmpdir

from carebridge.contexts import notifications
from carebridge.contexts.identity.models import User
from carebridge.contexts.notifications.channels import InAppChannel, LogChannel
from carebridge.contexts.notifications.models import InboxMessage
from carebridge.contexts.notifications.worker import Delivery, NotificationWorker
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade

CEILING_PER_S = 333.0
notifications.register_template(notifications.Template(
    key="bench.reminder", subject={"en": "Appointment reminder: {when}", "hi": "अपॉइंटमेंट की याद: {when}"},
    body={"en": "Hello {name}, you have an appointment at {when}.", "hi": "नमस्ते {name}, {when} पर अपॉइंटमेंट है।"}))


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    users = [uuid.uuid4() for _ in range(args.users)]
    with db.transaction() as s:
        s.execute(insert(User), [{"id": u, "username": f"bench{i}", "password_hash": "x", "role": "patient",
                                  "created_at": now, "updated_at": now, "password_changed_at": now}
                                 for i, u in enumerate(users)])
    for start in range(0, args.messages, 500):
        with db.transaction() as s:
            for i in range(start, min(args.messages, start + 500)):
                notifications.enqueue(s, recipient=notifications.Recipient(user_id=users[i % len(users)],
                                                                           name=f"Patient {i}"),
                                      template="bench.reminder", params={"name": f"Patient {i}", "when": "10:00"},
                                      now=now)
    worker = NotificationWorker(db, Delivery([InAppChannel(), LogChannel()]), clock=FixedClock(now), batch=500)
    started = time.perf_counter()
    delivered = 0
    while (n := worker.run_once()) > 0:
        delivered += n
    worker_s = time.perf_counter() - started
    rows = [{"id": uuid.uuid4(), "user_id": users[i % len(users)], "subject": "Appointment reminder: 10:00",
             "body": f"Hello Patient {i}, you have an appointment at 10:00.", "created_at": now}
            for i in range(args.messages)]
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(insert(InboxMessage), rows)
    raw_s = time.perf_counter() - started
    db.dispose()
    rate, raw = delivered / worker_s, args.messages / raw_s
    print(f"== {name}: {delivered} delivered in {worker_s:.2f} s = {rate:,.0f}/s "
          f"(ceiling >= {CEILING_PER_S:.0f}/s: {'MET' if rate >= CEILING_PER_S else 'NOT MET'}); "
          f"raw executemany of the same inbox rows {raw:,.0f}/s, worker = {rate / raw:.1%} of raw")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        bench("SQLite", f"sqlite:///{tmpdir('cb-bench-notify-') / 'bench.db'}", args)
    url = PG_URL.rsplit("/", 1)[0] + "/carebridge_bench_notify"
    if args.only != "sqlite" and reset_postgres(url):
        bench("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
