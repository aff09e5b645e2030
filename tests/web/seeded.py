"""A migrated SQLite data dir for a browser test's server, and a Factory writing into it before the server starts.

The server runs on the system clock, so the factory's clock is the wall time at setup."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.main import create_app
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory


@dataclass
class Seeded:
    env: dict[str, str]
    database: Database
    factory: Factory
    now: datetime


def seeded_data_dir(data_dir: Path) -> Seeded:
    url = f"sqlite:///{data_dir / 'carebridge.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_ENV="test", CAREBRIDGE_LOG_LEVEL="WARNING",
               CAREBRIDGE_SECRET_KEY=TEST_SECRET)
    subprocess.run([sys.executable, "-m", "carebridge.cli", "migrate"], env=env, check=True, timeout=180,
                   capture_output=True)
    now = datetime.now(UTC)
    database = Database(url)
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=TEST_SECRET, log_level="WARNING")
    factory = Factory(app=create_app(settings, database=database, clock=FixedClock(now)), database=database,
                      clock=FixedClock(now))
    return Seeded(env=env, database=database, factory=factory, now=now)
