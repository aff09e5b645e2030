"""Shared benchmark plumbing: start a real server, drive it with a load generator, read the figures.

The load generator is `wrk` (Debian package) when present, since a Python client on this 2-core
machine would compete with the server for the same CPU and distort the ratio; otherwise a small
asyncio client stands in and the output says so.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PG_URL = os.environ.get("CAREBRIDGE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/carebridge_bench")


@dataclass
class Figure:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_postgres(url: str) -> bool:
    """Drop and recreate the benchmark database; False when PostgreSQL is not reachable."""
    from sqlalchemy import create_engine, text

    base, _, name = url.rpartition("/")
    try:
        admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return True
    except Exception as exc:
        print(f"  PostgreSQL not available ({type(exc).__name__}); skipping it", file=sys.stderr)
        return False


@contextmanager
def server(database_url: str, data_dir: Path, *, workers: int = 1) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_DATABASE_URL=database_url,
               CAREBRIDGE_ENV="test", CAREBRIDGE_LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "uvicorn", "carebridge.main:app_factory", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


_LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def _to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, *, headers: dict[str, str], connections: int, seconds: int) -> Figure:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {m.group(1): _to_ms(m.group(2), m.group(3)) for m in _LAT.finditer(out)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return Figure(rps=rps, p50_ms=lat.get("50", float("nan")), p99_ms=lat.get("99", float("nan")), errors=errors,
                  tool="wrk")


async def _py_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> Figure:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                if r.status_code >= 300:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    return Figure(rps=len(latencies) / elapsed, p50_ms=statistics.median(latencies) * 1000, p99_ms=p99,
                  errors=errors, tool="python-asyncio")


def load(url: str, *, headers: dict[str, str] | None = None, connections: int = 32, seconds: int = 10) -> Figure:
    if shutil.which("wrk"):
        return run_wrk(url, headers=headers or {}, connections=connections, seconds=seconds)
    return asyncio.run(_py_load(url, headers or {}, connections, seconds))


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
