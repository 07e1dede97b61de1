"""One real data build for the model tests (about 15 s on the shared data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model.data import DEFAULT_DATA_DIR, read_jsonl

SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="session")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any], dict[str, list[dict[str, Any]]]]:
    from model.data.build import build

    if not (DEFAULT_DATA_DIR / "twcs_customer_support.jsonl").exists():
        pytest.skip("shared data folder not present")
    out = tmp_path_factory.mktemp("build")
    summary = build(DEFAULT_DATA_DIR, out)
    rows = {name: list(read_jsonl(out / f"{name}.jsonl")) for name in (*SPLITS, "gold", "dev_counterfactual")}
    return out, summary, rows
