"""Symptom triage engine latency: the written case texts, triaged over and over.

Loads the knowledge once (reported separately), warms up, then times every call to `triage()` over
`--rounds` passes of tests/unit/triage/cases.jsonl (+ the two held-out sets). Prints cases/s and p50/p99
latency beside the bar (p99 < 10 ms), plus the same figures for a trivial baseline (lower-casing and
regex-tokenising the same texts) measured in the same run, so machine speed can be read off.
Wall-clock latency includes whatever else the machine is doing, so CPU time per call
(time.thread_time) and the load average are printed too.

Run: python benchmarks/triage.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import carebridge.engines.triage  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from carebridge.engines.triage import TriageInput, load_knowledge, triage  # noqa: E402
from carebridge.engines.triage.evaluate import load_cases  # noqa: E402

BAR_P99_MS = 10.0
CASE_FILES = tuple(ROOT / "tests/unit/triage" / n for n in ("cases.jsonl", "heldout.jsonl", "heldout2.jsonl"))
_TOKEN = re.compile(r"\w+")


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


Timings = tuple[list[float], list[float], float]


def _time_calls(n_rounds: int, calls: list[Callable[[], object]]) -> Timings:
    calls[0]()
    wall: list[float] = []
    cpu: list[float] = []
    start = time.perf_counter()
    for _ in range(n_rounds):
        for call in calls:
            w0, c0 = time.perf_counter(), time.thread_time()
            call()
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
    return sorted(wall), sorted(cpu), time.perf_counter() - start


def _report(name: str, wall: list[float], cpu: list[float], elapsed: float, bar: bool) -> None:
    p50, p99 = _percentile(wall, 0.50) * 1e3, _percentile(wall, 0.99) * 1e3
    c50, c99 = _percentile(cpu, 0.50) * 1e3, _percentile(cpu, 0.99) * 1e3
    rate = len(wall) / elapsed
    bar_text = f" (bar < {BAR_P99_MS:g} ms: {'PASS' if p99 < BAR_P99_MS else 'FAIL'})" if bar else ""
    print(
        f"{name:<9} {rate:>10,.0f} cases/s   p50 {p50:.3f} ms   p99 {p99:.3f} ms{bar_text}   "
        f"max {wall[-1] * 1e3:.1f} ms   cpu p50 {c50:.3f} ms / p99 {c99:.3f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the case texts")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    load_knowledge()
    load_ms = (time.perf_counter() - t0) * 1e3

    inputs: list[TriageInput] = [c.to_input() for path in CASE_FILES for c in load_cases(path)]
    texts = [i.text for i in inputs]
    for inp in inputs:  # warm-up: fills the spelling-correction cache like a running service
        triage(inp)

    engine_calls: list[Callable[[], object]] = [lambda inp=inp: triage(inp) for inp in inputs]
    baseline_calls: list[Callable[[], object]] = [lambda t=t: _TOKEN.findall(t.lower()) for t in texts]

    print(f"triage benchmark: {len(inputs)} case texts x {args.rounds} rounds, knowledge load {load_ms:.0f} ms")
    if hasattr(os, "getloadavg"):
        print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    wall, cpu, elapsed = _time_calls(args.rounds, engine_calls)
    _report("triage", wall, cpu, elapsed, bar=True)
    b_wall, b_cpu, b_elapsed = _time_calls(args.rounds, baseline_calls)
    _report("baseline", b_wall, b_cpu, b_elapsed, bar=False)
    slowdown = statistics.median(wall) / max(statistics.median(b_wall), 1e-9)
    print(f"triage is {slowdown:,.0f}x the median cost of lower-casing + tokenising the same text")
    return 0 if _percentile(wall, 0.99) * 1e3 < BAR_P99_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
