"""`dialogic data build` on the real shared data (fast, no model): splits do not leak."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from model import perturb
from model.data import DEFAULT_DATA_DIR, GOLD_FILE, WRITTEN_FILE, load_labels, read_jsonl
from model.data.augment import COPIES, TRAIN_EMOJI, TRAIN_HASHTAGS
from model.data.build import dup_key
from model.runtime.normalize import normalize

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "twcs_customer_support.jsonl").exists(), reason="shared data folder not present"
)
SPLITS = ("train", "dev", "test")


def test_outputs_exist(built: Any) -> None:
    out, _, rows = built
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "gold.jsonl", "datasheet.md", "summary.json"):
        assert (out / name).exists()
    assert rows["train"] and rows["dev"] and rows["test"]
    sheet = (out / "datasheet.md").read_text()
    assert "coverage" in sheet and "precision" in sheet
    for row in rows["train"][:50]:
        assert set(row) >= {"id", "text", "label", "source", "lang", "origin"}
        assert row["origin"] in ("read", "weak", "written", "augmented")


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
    for s in ("dev", "test"):
        assert len(keys[s]) == len(set(keys[s])), f"near-duplicates inside {s}"
    # In train, only a post and its own counterfactual copies may be near-duplicates of each other.
    families: dict[str, set[str]] = {}
    for r in rows["train"]:
        families.setdefault(dup_key(r["text"]), set()).add(r.get("parent") or r["id"])
    assert not [k for k, f in families.items() if len(f) > 1]
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
    labels = Counter(r["label"] for r in rows["train"] if r["origin"] != "augmented")
    assert max(labels.values()) <= 1.5 * min(labels.values()) + 1


def test_label_files_hold_no_text() -> None:
    for path in (
        GOLD_FILE,
        GOLD_FILE.with_name("gold_second.jsonl"),
        GOLD_FILE.with_name("read_labels.jsonl"),
    ):
        for line in path.read_text().splitlines():
            assert set(json.loads(line)) <= {"id", "label", "note", "act", "pool"}


def test_written_posts_are_not_copies_of_the_data(built: Any) -> None:
    """The team's own training posts: none is a near-duplicate of a post in the shared data."""
    from model.data import load_sources

    data_keys = {dup_key(r["norm"]) for r in load_sources()}
    written = [r for r in read_jsonl(WRITTEN_FILE)]
    assert written and not [r["id"] for r in written if dup_key(normalize(r["text"])) in data_keys]
    _, summary, rows = built
    assert summary["written_posts"] == sum(r["origin"] == "written" for r in rows["train"]) > 0
    for split in ("dev", "test", "gold"):
        assert not [r for r in rows[split] if r["origin"] == "written"]


def test_counterfactual_copies_keep_label_and_group_and_stay_in_train(built: Any) -> None:
    _, _, rows = built
    parents = {r["id"]: r for r in rows["train"] if r["origin"] != "augmented"}
    copies = [r for r in rows["train"] if r["origin"] == "augmented"]
    assert len(copies) > 1000
    for copy in copies:
        parent = parents[copy["parent"]]
        assert (copy["label"], copy["group"]) == (parent["label"], parent["group"])
        assert copy["text"] != parent["text"]
    ops = Counter(r["rule"] for r in copies)
    # drop_link, add_link and decorate make near-duplicates of the parent; they must survive the dedupe.
    assert {"strip_handle", "add_handle", "rt_tail", "drop_link", "add_link", "decorate"} <= set(ops)
    assert max(Counter(r["parent"] for r in copies).values()) == COPIES
    for split in ("dev", "test", "gold"):
        assert not [r for r in rows[split] if r["origin"] == "augmented"]


def test_training_decorations_are_not_the_suites() -> None:
    """The suite's invariance cases add `perturb.EMOJI` and `perturb.HASHTAGS`; training copies use their
    own, so a suite pass is not a memorised decoration."""
    assert not set(TRAIN_EMOJI) & set(perturb.EMOJI)
    assert not {h.lower() for h in TRAIN_HASHTAGS} & {h.lower() for h in perturb.HASHTAGS}


def test_dev_copies_change_only_the_form(built: Any) -> None:
    _, _, rows = built
    ops = Counter(r["rule"] for r in rows["dev_counterfactual"])
    assert ops and "decorate" not in ops
    assert max(Counter(r["parent"] for r in rows["dev_counterfactual"]).values()) == 1


def test_rules_are_measured_on_the_hard_form_pool(built: Any) -> None:
    from model.data.build import MIN_RULE_PRECISION

    _, summary, _ = built
    assert summary["hard_form_labels"] >= 1500
    for rule in summary["rules"]:
        if rule["hard_fired"] >= 20:
            assert rule["hard_precision"] >= MIN_RULE_PRECISION, rule["rule"]


def test_organisation_gold_round_has_both_labels_in_every_form(built: Any) -> None:
    from model.perturb import form

    _, _, rows = built
    org = [r for r in rows["gold"] if r["pool"] == "organisations"]
    assert len(org) >= 300
    cells = Counter((form(r["text"]), r["label"]) for r in org)
    for f in ("leading handle", "no handle", "comment + retweet"):
        assert cells[(f, "broadcast")] and cells[(f, "conversation")], f
