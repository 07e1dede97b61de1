"""`dialogic data build` on the real shared data (fast, no model): splits do not leak."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from model.data import DEFAULT_DATA_DIR, GOLD_FILE, load_labels, read_jsonl
from model.data.build import build, dup_key

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "twcs_customer_support.jsonl").exists(), reason="shared data folder not present"
)
SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any], dict[str, list[dict[str, Any]]]]:
    out = tmp_path_factory.mktemp("build")
    summary = build(DEFAULT_DATA_DIR, out)
    rows = {name: list(read_jsonl(out / f"{name}.jsonl")) for name in (*SPLITS, "gold")}
    return out, summary, rows


def test_outputs_exist(built: Any) -> None:
    out, _, rows = built
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "gold.jsonl", "datasheet.md", "summary.json"):
        assert (out / name).exists()
    assert rows["train"] and rows["dev"] and rows["test"]
    sheet = (out / "datasheet.md").read_text()
    assert "coverage" in sheet and "precision" in sheet
    for row in rows["train"][:50]:
        assert set(row) >= {"id", "text", "label", "source", "lang", "origin"}
        assert row["origin"] in ("read", "weak")


def test_no_gold_id_or_gold_group_in_splits(built: Any) -> None:
    _, _, rows = built
    gold_ids = set(load_labels(GOLD_FILE))
    assert {r["id"] for r in rows["gold"]} <= gold_ids
    gold_groups = {r["group"] for r in rows["gold"]}
    for split in SPLITS:
        assert not gold_ids & {r["id"] for r in rows[split]}, split
        assert not gold_groups & {r["group"] for r in rows[split]}, split


def test_groups_do_not_straddle_splits(built: Any) -> None:
    _, _, rows = built
    groups = {s: {r["group"] for r in rows[s]} for s in SPLITS}
    assert not groups["train"] & groups["dev"]
    assert not groups["train"] & groups["test"]
    assert not groups["dev"] & groups["test"]


def test_no_near_duplicates_across_or_within_splits(built: Any) -> None:
    _, _, rows = built
    keys = {s: [dup_key(r["text"]) for r in rows[s]] for s in (*SPLITS, "gold")}
    for s in SPLITS:
        assert len(keys[s]) == len(set(keys[s])), f"near-duplicates inside {s}"
    order = ["gold", "test", "dev", "train"]
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            assert not set(keys[a]) & set(keys[b]), f"{a} and {b} share near-duplicates"


def test_eval_splits_are_read_labels_and_weak_is_capped(built: Any) -> None:
    _, summary, rows = built
    for s in ("dev", "test"):
        assert {r["origin"] for r in rows[s]} == {"read"}
    weak = Counter(r["source"] for r in rows["train"] if r["origin"] == "weak")
    assert max(weak.values()) <= summary["weak_cap_per_source"]
    labels = Counter(r["label"] for r in rows["train"])
    assert max(labels.values()) <= 1.5 * min(labels.values()) + 1


def test_texts_are_normalised_and_repo_holds_no_text() -> None:
    for path in (GOLD_FILE, GOLD_FILE.with_name("read_labels.jsonl")):
        for line in path.read_text().splitlines()[:200]:
            assert set(json.loads(line)) <= {"id", "label", "note"}
