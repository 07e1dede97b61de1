"""How many threads torch may use: the container's CPU quota, not the host's core count.

os.cpu_count() reports the host's cores; in a container limited to 2 CPUs, torch would start one
thread per host core and thrash the quota. The quota is read from cgroup v2, then v1, and capped by
the CPU affinity mask (which taskset and some schedulers set instead).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

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


def configure_torch_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads (explicit setting wins, else the CPU quota) and return the number.

    The quota, not os.cpu_count(): a pod limited to 2 CPUs on a 64-core node must not start 64 threads.
    Measured on a quiet 2-CPU machine (make bench, 2026-11-23): 2 threads served 56.9 posts/s at c=64,
    1 thread 35.9. Idle OpenMP threads wait passively (model/__init__.py), so the event loop still gets
    the CPU it needs. Where other processes compete for the same CPUs, DIALOGIC_TORCH_THREADS=1 can do
    better: under a saturated shared machine 1 thread served 12.1 posts/s and 2 threads 3.9."""
    threads = requested if requested and requested > 0 else available_cpus()
    torch.set_num_threads(threads)
    return threads
