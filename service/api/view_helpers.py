"""How the admin pages write figures and times: the Jinja globals of every template (`TEMPLATE_HELPERS`).

Kept apart from the controller so the pages and the JSON API share one set of figures, and the
formatting one set of rules: a missing figure is a dash, every time is UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def sparkline(values: list[float], width: int = 240, height: int = 40) -> str:
    """SVG polyline points for `values`, scaled to the box (zero at the bottom, the maximum at the top)."""
    if not values:
        return ""
    top = max(values) or 1.0
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return (
        f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if s >= size:
            return f"{s // size} {unit} {(s % size) // sub_size} {sub}"
    return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"


def clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch)) + " UTC"


def utc(iso: str) -> str:
    """An ISO 8601 instant as the dashboard writes every time: `2026-12-01 07:36 UTC`."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def ago(iso: str) -> str:
    """How long ago an ISO 8601 instant was, for heartbeats: `4 s ago`."""
    return f"{duration(max(0.0, time.time() - datetime.fromisoformat(iso).timestamp()))} ago"


TEMPLATE_HELPERS = {
    "sparkline": sparkline,
    "pct": pct,
    "ms": ms,
    "duration": duration,
    "clock": clock,
    "utc": utc,
    "ago": ago,
}
