"""Charts drawn on the server as SVG, so the ward view works on a cheap phone with scripts off."""

from __future__ import annotations

from collections.abc import Sequence
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
