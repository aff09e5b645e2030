"""Charts drawn on the server as SVG, so the ward view and the patient's vitals charts work on a cheap phone with
scripts off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from xml.sax.saxutils import escape


def sparkline_svg(values: Sequence[float], *, width: int = 120, height: int = 28, label: str = "") -> str:
    """A polyline of `values` scaled to the box (a flat line when they are all equal; empty box without data).
    Only numbers and the escaped label reach the markup."""
    title = f"<title>{escape(label)}</title>" if label else ""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label, {chr(34): "&quot;"})}">{title}')
    if not values:
        return head + "</svg>"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 2
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = " ".join(f"{pad + i * step:.1f},{height - pad - (v - low) / span * (height - 2 * pad):.1f}"
                      for i, v in enumerate(values))
    last_x, last_y = points.rsplit(" ", 1)[-1].split(",")
    return (head + f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/>'
            f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="currentColor"/></svg>')


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    mean: float
    low: float
    high: float


def _clock(at: datetime, span: timedelta) -> str:
    return at.strftime("%H:%M") if span <= timedelta(days=1) else at.strftime("%d %b")


def band_chart_svg(buckets: Sequence[Bucket], *, since: datetime, until: datetime, width_seconds: int,
                   label: str, unit: str, width: int = 640, height: int = 160) -> str:
    """A time chart of one reading type: the mean of each rollup bucket as a line over its min-max band.

    The x axis is the chosen period (so an empty stretch shows as a gap, and the line breaks where buckets are
    missing for more than two widths); the y axis spans the lowest to the highest value, labelled in `unit`.
    Only numbers and escaped text reach the markup."""
    left, right, top, bottom = 44, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    text_label = escape(label, {chr(34): "&quot;"})
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="vitals-chart" width="100%" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{text_label}"><title>{escape(label)}</title>')
    span = until - since
    frame = (f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="currentColor" '
             f'stroke-opacity="0.3"/>'
             f'<text x="{left}" y="{height - 6}" font-size="11" fill="currentColor">{_clock(since, span)}</text>'
             f'<text x="{width - right}" y="{height - 6}" font-size="11" fill="currentColor" '
             f'text-anchor="end">{_clock(until, span)}</text>')
    if not buckets:
        return head + frame + "</svg>"
    low = min(b.low for b in buckets)
    high = max(b.high for b in buckets)
    pad = (high - low) * 0.1 or max(abs(high) * 0.05, 1.0)
    low, high = low - pad, high + pad
    total = span.total_seconds() or 1.0

    def x(at: datetime) -> float:
        mid = at + timedelta(seconds=width_seconds / 2)
        return left + max(0.0, min(1.0, (mid - since).total_seconds() / total)) * plot_w

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * plot_h

    runs: list[list[Bucket]] = [[buckets[0]]]
    for prev, cur in pairwise(buckets):
        if (cur.start - prev.start).total_seconds() > 2 * width_seconds:
            runs.append([])
        runs[-1].append(cur)
    shapes = []
    for run in runs:
        upper = " ".join(f"{x(b.start):.1f},{y(b.high):.1f}" for b in run)
        lower = " ".join(f"{x(b.start):.1f},{y(b.low):.1f}" for b in reversed(run))
        shapes.append(f'<polygon class="range" points="{upper} {lower}" fill="currentColor" fill-opacity="0.15" '
                      f'stroke="none"/>')
        mean = " ".join(f"{x(b.start):.1f},{y(b.mean):.1f}" for b in run)
        if len(run) == 1:
            cx, cy = mean.split(",")
            shapes.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="currentColor"/>')
        else:
            shapes.append(f'<polyline class="mean" fill="none" stroke="currentColor" stroke-width="1.5" '
                          f'points="{mean}"/>')
    axis = (f'<text x="{left - 4}" y="{top + 10}" font-size="11" fill="currentColor" text-anchor="end">'
            f'{round(high - pad, 1):g}</text>'
            f'<text x="{left - 4}" y="{top + plot_h}" font-size="11" fill="currentColor" text-anchor="end">'
            f'{round(low + pad, 1):g}</text>'
            f'<text x="{left + 4}" y="{top + 12}" font-size="10" fill="currentColor" fill-opacity="0.7">'
            f'{escape(unit)}</text>')
    return head + frame + axis + "".join(shapes) + "</svg>"
