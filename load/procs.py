"""The processes a run started, read from /proc: the descendants of this process with a given title,
and the CPU seconds each has used. Ray names its actor processes (`ray::MapWorker(...)`), so the bulk
bench can count the CPU its model actors spend and the fault test can kill one of its own."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BULK_ACTORS = "ray::MapWorker(MapBatches(ScoreBatches))"  # the title Ray gives the bulk model actors


def descendants_titled(prefix: str) -> dict[int, float]:
    """CPU seconds (user + system) of each descendant of this process whose title starts with `prefix`."""
    stats: dict[int, tuple[int, float]] = {}
    titles: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            titles[int(entry.name)] = (
                (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            )
        except OSError:  # gone meanwhile
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    ours: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, (parent, _) in stats.items() if parent in frontier} - ours
        ours |= frontier
    return {pid: stats[pid][1] for pid in ours if titles.get(pid, "").startswith(prefix)}
