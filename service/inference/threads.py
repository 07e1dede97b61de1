"""How many CPUs the model may use: the container's CPU quota, not the host's core count.

os.cpu_count() reports the host's cores; in a container limited to 2 CPUs, a runtime starting one
thread per host core would thrash the quota. The quota is read from cgroup v2, then v1, and capped by
the CPU affinity mask (which taskset and some schedulers set instead).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _quota_v2(root: Path) -> float | None:
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _quota_v1(root: Path) -> float | None:
    for folder in ("cpu,cpuacct", "cpu"):
        try:
            quota = int((root / folder / "cpu.cfs_quota_us").read_text())
            period = int((root / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may actually use: min(cgroup quota rounded up, affinity mask), at least 1."""
    affinity = len(os.sched_getaffinity(0))
    quota = _quota_v2(root)
    if quota is None:
        quota = _quota_v1(root)
    return max(1, min(affinity, math.ceil(quota)) if quota is not None else affinity)


def model_cpus(requested: int | None = None) -> int:
    """CPUs the model may use: the explicit setting, else the quota (a pod limited to 2 CPUs on a 64-core
    node must not start 64 threads)."""
    return requested if requested and requested > 0 else available_cpus()
