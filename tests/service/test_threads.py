"""Thread count from the cgroup quota, never from the host's core count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.inference import threads


@pytest.fixture(autouse=True)
def eight_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))


def test_cgroup_v2_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.available_cpus(tmp_path) == 2


def test_cgroup_v2_unlimited_falls_back_to_affinity(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.available_cpus(tmp_path) == 8


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu,cpuacct").mkdir()
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.available_cpus(tmp_path) == 3


def test_quota_is_capped_by_affinity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    assert threads.available_cpus(tmp_path) == 1


def test_no_cgroup_uses_affinity(tmp_path: Path) -> None:
    assert threads.available_cpus(tmp_path) == 8


def test_explicit_setting_wins() -> None:
    assert threads.model_cpus(3) == 3
    assert threads.model_cpus(None) == threads.model_cpus(0) == threads.available_cpus()
