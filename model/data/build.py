"""`dialogic data build`: join labels with the shared texts and write leak-free train/dev/test/gold splits.

Training examples are the posts labelled by reading (`read_labels.jsonl`, weighted higher) plus weak
labels from `model.data.rules` on the remaining rows, capped per source and per class. Splits are made
by group (thread / author / outlet) hash; every gold id and every row of a gold group is kept out of
train/dev/test; dev and test hold only read labels, so model selection, calibration and evaluation use
labels made by reading. Near-duplicates (see `near_dup_key`) never straddle splits: a text whose key is in
gold, test or dev is dropped from the later splits (priority gold > test > dev > train).
Outputs go to `model/data/build/`: train/dev/test/gold JSONL, `datasheet.md`, `summary.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from model.data import (
    DEFAULT_BUILD_DIR,
    DEFAULT_DATA_DIR,
    GOLD_FILE,
    READ_LABELS_FILE,
    WRITTEN_FILE,
    Record,
    group_key,
    load_labels,
    load_sources,
    near_dup_key,
    read_jsonl,
    stable_bucket,
    utc_stamp,
    write_jsonl,
)
from model.data.augment import RULE_ACTS, act_of, counterfactuals
from model.data.rules import RULES, apply_rules, rule_votes
from model.runtime.normalize import NORMALIZE_VERSION, normalize

SPLITS = ("train", "dev", "test")
LABEL_SET = ("broadcast", "conversation")


def split_of(group: str) -> str:
    """80/10/10 by a salted hash of the group key (a different salt from the gold sampling)."""
    b = stable_bucket(group, "dialogic-split-v1")
    return "train" if b < 800 else "dev" if b < 900 else "test"


def dup_key(norm: str) -> str:
    return near_dup_key(norm) or "=" + norm.lower()


def example(
    rec: Record,
    label: str,
    origin: str,
    weight: float,
    rule: str | None = None,
    act: str | None = None,
    pool: str | None = None,
) -> dict[str, Any]:
    return {
        "id": rec["id"],
        "text": rec["norm"],
        "label": label,
        "source": rec["source"],
        "lang": rec.get("lang"),
        "origin": origin,
        "weight": weight,
        "rule": rule,
        "act": act,
        "pool": pool,
        "group": group_key(rec),
    }


def read_example(rec: Record, label: dict[str, Any], weight: float) -> dict[str, Any]:
    return example(rec, label["label"], "read", weight, act=act_of(label), pool=label.get("pool"))


def dedupe(rows: list[dict[str, Any]], banned: set[str]) -> tuple[list[dict[str, Any]], int, int]:
    """Drop rows whose key is banned (leak) and collapse near-duplicates inside the split: keep the first
    read-labelled row of a key, else one weak row if all weak labels agree, else none."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    leaked = 0
    for row in rows:
        k = dup_key(row["text"])
        if k in banned:
            leaked += 1
            continue
        by_key[k].append(row)
    kept: list[dict[str, Any]] = []
    for group in by_key.values():
        read = [r for r in group if r["origin"] == "read"]
        if read:
            kept.append(read[0])
        elif len({r["label"] for r in group}) == 1:
            kept.append(group[0])
    return kept, leaked, len(rows) - leaked - len(kept)


REFERENCES = ("gold", "read", "hard")  # label sets a rule's precision is measured on (see rule_report)
MIN_RULE_PRECISION = 0.95  # on the hard-form pool; a rule below it was narrowed or dropped


def _rule_counters(rule: str, label: str, tier: int) -> dict[str, Any]:
    """Where a rule fires (overall and per source) and how often labels made by reading agree with it."""
    counters: dict[str, Any] = {
        "rule": rule,
        "label": label,
        "tier": tier,
        "coverage": 0,
        "by_source": Counter(),
    }
    for ref in REFERENCES:
        counters[f"{ref}_fired"] = counters[f"{ref}_correct"] = 0
    return counters


def rule_report(records: list[Record], refs: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per rule: coverage over all rows (and per source), precision on each reference label set: gold,
    every read label, and the hard-form pool (read labels mined for the forms that mislead: mention-first
    posts by organisations, comments in front of retweets, replies without a handle, very short posts)."""
    stats = {r.name: _rule_counters(r.name, r.label, r.tier) for r in RULES}
    combined = _rule_counters("COMBINED (tiers)", "-", 0)
    for rec in records:
        votes = rule_votes(rec)
        final, _ = apply_rules(rec)
        items = [(stats[name], label) for name, label in votes.items()]
        if final is not None:
            items.append((combined, final))
        for st, label in items:
            st["coverage"] += 1
            st["by_source"][rec["source"]] += 1
            for pre, ref in refs.items():
                if rec["id"] in ref:
                    st[f"{pre}_fired"] += 1
                    st[f"{pre}_correct"] += int(ref[rec["id"]]["label"] == label)
    out = []
    for st in [*stats.values(), combined]:
        for pre in refs:
            fired = st[f"{pre}_fired"]
            st[f"{pre}_precision"] = st[f"{pre}_correct"] / fired if fired else None
        st["by_source"] = dict(st["by_source"])
        out.append(st)
    return out


def reference_labels(
    by_id: dict[str, Record], gold_file: Path, read_file: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Gold and read labels whose posts are in the data (a read label never shadows a gold one)."""
    gold, read = load_labels(gold_file), load_labels(read_file)
    missing = [i for i in [*gold, *read] if i not in by_id]
    if missing:
        print(
            f"warning: {len(missing)} labelled ids not found in the data (e.g. {missing[:3]})",
            file=sys.stderr,
        )
    gold = {i: v for i, v in gold.items() if i in by_id and v["label"] in LABEL_SET}
    read = {i: v for i, v in read.items() if i in by_id and i not in gold and v["label"] in LABEL_SET}
    return gold, read


def candidates_by_split(
    records: list[Record],
    gold: dict[str, dict[str, Any]],
    read: dict[str, dict[str, Any]],
    read_weight: float,
) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple[str, str], list[dict[str, Any]]], dict[str, int]]:
    """Read-labelled rows per split and the weak-labelled train pool per (source, label); gold ids and
    every row of a gold group stay out; weak labels are not used in dev or test."""
    by_id = {r["id"]: r for r in records}
    gold_groups = {group_key(by_id[i]) for i in gold}
    candidates: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    weak_pool: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    skipped = Counter[str]()
    for rec in records:
        if rec["id"] in gold:
            continue
        g = group_key(rec)
        if g in gold_groups:
            skipped["excluded_gold_group"] += 1
            continue
        split = split_of(g)
        if rec["id"] in read:
            candidates[split].append(read_example(rec, read[rec["id"]], read_weight))
            continue
        label, rule = apply_rules(rec)
        if label is None:
            skipped["unlabelled"] += 1
        elif split != "train":
            skipped["weak_in_eval"] += 1
        else:
            weak_pool[(rec["source"], label)].append(
                example(rec, label, "weak", 1.0, rule, RULE_ACTS.get(rule or ""))
            )
    return candidates, weak_pool, dict(skipped)


def capped_weak(
    weak_pool: dict[tuple[str, str], list[dict[str, Any]]], weak_cap: int, rng: random.Random
) -> list[dict[str, Any]]:
    """At most `weak_cap` weak rows per source, split evenly over labels (unused room goes to the other)."""
    weak: list[dict[str, Any]] = []
    for source in sorted({s for s, _ in weak_pool}):
        pools = {lab: sorted(weak_pool.get((source, lab), []), key=lambda r: r["id"]) for lab in LABEL_SET}
        for pool in pools.values():
            rng.shuffle(pool)
        take = dict.fromkeys(LABEL_SET, 0)
        room = weak_cap
        while room > 0:
            grew = [lab for lab in LABEL_SET if take[lab] < len(pools[lab])][:room]
            if not grew:
                break
            for lab in grew:
                take[lab] += 1
            room -= len(grew)
        for lab in LABEL_SET:
            weak.extend(pools[lab][: take[lab]])
    return weak


def balanced(rows: list[dict[str, Any]], max_class_ratio: float, rng: random.Random) -> list[dict[str, Any]]:
    """Downsample weak rows of the majority class to `max_class_ratio` x the minority class."""
    counts = Counter(r["label"] for r in rows)
    minority = min(LABEL_SET, key=lambda lab: counts[lab])
    majority = LABEL_SET[1 - LABEL_SET.index(minority)]
    limit = int(max_class_ratio * counts[minority])
    if counts[majority] <= limit:
        return rows
    maj_weak = [r for r in rows if r["label"] == majority and r["origin"] == "weak"]
    rng.shuffle(maj_weak)
    drop = {r["id"] for r in maj_weak[: counts[majority] - limit]}
    return [r for r in rows if r["id"] not in drop]


def written_examples(path: Path, weight: float) -> list[dict[str, Any]]:
    """Posts the team wrote for kinds of post the data lacks (train only; never evaluated on)."""
    if not path.exists():
        return []
    return [
        {
            "id": row["id"],
            "text": normalize(row["text"]),
            "label": row["label"],
            "source": "written",
            "lang": row.get("lang"),
            "origin": "written",
            "weight": weight,
            "rule": None,
            "act": row.get("act"),
            "pool": None,
            "group": row["id"],
        }
        for row in read_jsonl(path)
    ]


def with_counterfactuals(train: list[dict[str, Any]], banned: set[str]) -> list[dict[str, Any]]:
    """Counterfactual copies of train rows (model.data.augment) that are near-duplicates of no evaluation
    text and of no other post's family, and repeat no train text; broadcast posts of train serve as the
    retweeted texts. A copy may be a near-duplicate of its parent: a link, an emoji or a `.` is all that
    some changes of form add."""
    family = {dup_key(r["text"]): r["id"] for r in train}
    seen = {r["text"] for r in train}
    copies = []
    for row in counterfactuals(train, broadcast_tails(train)):
        key = dup_key(row["text"])
        if key in banned or row["text"] in seen or family.setdefault(key, row["parent"]) != row["parent"]:
            continue
        seen.add(row["text"])
        copies.append(row)
    return copies


TAIL_ACTS = {"announcement", "headline", "link_share", "promotion"}


def broadcast_tails(rows: list[dict[str, Any]]) -> list[str]:
    """Texts to put after a comment as the retweeted post: the split's own announcements and news."""
    return sorted(r["text"] for r in rows if r["label"] == "broadcast" and r["act"] in TAIL_ACTS)


def eval_splits(
    candidates: dict[str, list[dict[str, Any]]], banned: set[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, int]]]:
    """Test, then dev, each without near-duplicates of gold or of the split before it. `banned` (the
    near-duplicate keys of gold) grows by each split's keys."""
    splits: dict[str, list[dict[str, Any]]] = {}
    leak_report: dict[str, dict[str, int]] = {}
    for split in ("test", "dev"):
        kept, leaked, collapsed = dedupe(candidates[split], banned)
        splits[split] = kept
        leak_report[split] = {"near_dup_of_earlier_split": leaked, "near_dup_collapsed": collapsed}
        banned |= {dup_key(r["text"]) for r in kept}
    return splits, leak_report


def train_split(
    pool: list[dict[str, Any]], banned: set[str], max_class_ratio: float, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Train from its candidate pool: no near-duplicate of an evaluation text, weak rows of the majority
    class capped, counterfactual copies added, shuffled; and the near-duplicate counts."""
    kept, leaked, collapsed = dedupe(pool, banned)
    train = balanced(kept, max_class_ratio, rng)
    train += with_counterfactuals(train, banned)
    rng.shuffle(train)
    return train, {"near_dup_of_earlier_split": leaked, "near_dup_collapsed": collapsed}


def set_tables(sets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Rows per origin and label, and per language, of each set: the datasheet's tables."""
    return {
        "counts": {name: count_table(rows) for name, rows in sets.items()},
        "languages": {
            name: dict(Counter(r["lang"] or "null" for r in rows).most_common())
            for name, rows in sets.items()
        },
    }


def write_build(
    out_dir: Path, splits: dict[str, list[dict[str, Any]]], gold_rows: list[dict[str, Any]], dev_cf: list[Any]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        write_jsonl(out_dir / f"{split}.jsonl", splits[split])
    write_jsonl(out_dir / "gold.jsonl", gold_rows)
    write_jsonl(out_dir / "dev_counterfactual.jsonl", dev_cf)


def build(
    data_dir: Path,
    out_dir: Path,
    weak_cap: int = 1000,
    read_weight: float = 2.0,
    written_weight: float = 1.0,
    max_class_ratio: float = 1.5,
    seed: int = 13,
    gold_file: Path = GOLD_FILE,
    read_file: Path = READ_LABELS_FILE,
    written_file: Path = WRITTEN_FILE,
) -> dict[str, Any]:
    """Read the sources and the labels, make the splits (evaluation first, so train can avoid their
    texts), write them and the datasheet; the summary is returned and written as summary.json."""
    t0 = time.time()
    records = load_sources(data_dir)
    by_id = {r["id"]: r for r in records}
    if len(by_id) != len(records):
        raise ValueError("source ids are not unique across files")
    gold, read = reference_labels(by_id, gold_file, read_file)
    rng = random.Random(seed)
    candidates, weak_pool, skipped = candidates_by_split(records, gold, read, read_weight)

    gold_rows = [read_example(by_id[i], v, 1.0) for i, v in sorted(gold.items())]
    banned = {dup_key(r["text"]) for r in gold_rows}
    splits, leak_report = eval_splits(candidates, banned)
    # Dev posts in another form: model selection and calibration must hold for the act in any form.
    dev_cf = counterfactuals(splits["dev"], broadcast_tails(splits["dev"]), copies=1, decorate=False)
    banned |= {dup_key(r["text"]) for r in dev_cf}
    pool = (
        candidates["train"]
        + written_examples(written_file, written_weight)
        + capped_weak(weak_pool, weak_cap, rng)
    )
    splits["train"], leak_report["train"] = train_split(pool, banned, max_class_ratio, rng)
    write_build(out_dir, splits, gold_rows, dev_cf)

    hard = {i: v for i, v in read.items() if v.get("pool") == "hard-form"}
    train = splits["train"]
    summary: dict[str, Any] = {
        "normalize_version": NORMALIZE_VERSION,
        "built_at": utc_stamp(),
        "source_rows": len(records),
        "gold_labels": len(gold),
        "gold_organisation_labels": sum(v.get("pool") == "organisations" for v in gold.values()),
        "read_labels": len(read),
        "hard_form_labels": len(hard),
        "uncertain_org_labels": sum(v.get("pool") == "uncertain-org" for v in read.values()),
        "written_posts": sum(r["origin"] == "written" for r in train),
        "counterfactual_copies": sum(r["origin"] == "augmented" for r in train),
        "dev_counterfactual_copies": len(dev_cf),
        "excluded_rows_in_gold_groups": skipped.get("excluded_gold_group", 0),
        "weak_rows_in_dev_test_groups_dropped": skipped.get("weak_in_eval", 0),
        "rows_without_any_label": skipped.get("unlabelled", 0),
        "weak_cap_per_source": weak_cap,
        "read_weight": read_weight,
        "written_weight": written_weight,
        "max_class_ratio": max_class_ratio,
        "near_duplicates": leak_report,
        **set_tables({**splits, "gold": gold_rows}),
        "rules": rule_report(records, {"gold": gold, "read": read, "hard": hard}),
        "seconds": round(time.time() - t0, 1),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    (out_dir / "datasheet.md").write_text(datasheet(summary))
    return summary


def count_table(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        table[r["source"]][f"{r['origin']}:{r['label']}"] += 1
    return {s: dict(c) for s, c in sorted(table.items())}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def rules_markdown(rules: list[dict[str, Any]]) -> str:
    heads = {"gold": "gold", "read": "read", "hard": "hard-form pool"}
    lines = [
        "| rule | label | tier | coverage (rows) | "
        + " | ".join(f"{h} fired | {h} precision" for h in heads.values())
        + " |",
        "|---|---|---:|---:|" + "---:|---:|" * len(heads),
    ]
    for r in rules:
        cells = " | ".join(f"{r.get(f'{k}_fired', 0)} | {_pct(r.get(f'{k}_precision'))}" for k in heads)
        lines.append(f"| {r['rule']} | {r['label']} | {r['tier']} | {r['coverage']} | {cells} |")
    return "\n".join(lines)


def datasheet(summary: dict[str, Any]) -> str:
    out = [
        "# Dialogic training data: datasheet",
        "",
        f"Built {summary['built_at']} by `dialogic data build` "
        f"(normalisation v{summary['normalize_version']}).",
        "Texts are joined from `../shared/data` at build time and normalised (`@user`, `http`); the "
        "repository stores only ids, labels and notes.",
        "",
        "## Composition",
        "",
        f"- source rows: {summary['source_rows']}",
        f"- gold labels (evaluation only, never trained on): {summary['gold_labels']}",
        f"- labels made by reading for training (`read_labels.jsonl`): {summary['read_labels']}, "
        f"weight {summary['read_weight']}",
        f"- rows excluded because their group (thread/author/outlet) holds a gold id: "
        f"{summary['excluded_rows_in_gold_groups']}",
        f"- weak labels: at most {summary['weak_cap_per_source']} per source, split evenly over the two "
        f"classes where possible; majority class downsampled to <= {summary['max_class_ratio']}x the "
        "minority in train (weak rows only)",
        f"- weak-labelled rows falling in dev/test groups (dropped: dev and test are read labels only): "
        f"{summary['weak_rows_in_dev_test_groups_dropped']}",
        f"- rows on which no rule decides (unused): {summary['rows_without_any_label']}",
        "",
        "Splits: 80/10/10 by a salted hash of the group key (ibm thread, twcs thread root, conversation "
        "thread, Fortune 100 author, ta1c outlet, else the post). **Dev and test contain only labels made "
        "by reading**; train mixes read labels and weak labels. Near-duplicates (lower-cased, no "
        "`rt @user:`, links, digits, punctuation) are removed with priority gold > test > dev > train "
        "and collapsed inside each split.",
        "",
        "| split | near-dups of an earlier split removed | near-dups collapsed |",
        "|---|---:|---:|",
    ]
    for split, v in summary["near_duplicates"].items():
        out.append(f"| {split} | {v['near_dup_of_earlier_split']} | {v['near_dup_collapsed']} |")
    out += ["", "## Counts per source × origin:label × split", ""]
    cols = [f"{o}:{lab}" for o in ("read", "weak") for lab in LABEL_SET]
    for split, table in summary["counts"].items():
        out += [
            f"### {split}",
            "",
            "| source | " + " | ".join(cols) + " | total |",
            "|---|" + "---:|" * (len(cols) + 1),
        ]
        totals: Counter[str] = Counter()
        for source, c in table.items():
            out.append(
                f"| {source} | " + " | ".join(str(c.get(k, 0)) for k in cols) + f" | {sum(c.values())} |"
            )
            totals.update(c)
        out += [
            "| **all** | " + " | ".join(str(totals.get(k, 0)) for k in cols) + f" | {sum(totals.values())} |",
            "",
        ]
    out += ["## Languages", "", "| split | languages |", "|---|---|"]
    for split, langs in summary["languages"].items():
        out.append(f"| {split} | " + ", ".join(f"{k} {v}" for k, v in langs.items()) + " |")
    out += [
        "",
        "## Weak-labelling rules: coverage and precision",
        "",
        "Coverage counts every source row on which the rule fires; precision is measured on the gold "
        "rows (and, separately, on the read labels) where it fires. COMBINED is the tiered labeller "
        "actually used (first tier that fires decides; a tier that disagrees abstains).",
        "",
        rules_markdown(summary["rules"]),
        "",
        "Descriptions:",
        "",
    ]
    for rule in RULES:
        out.append(f"- `{rule.name}` (tier {rule.tier}, {rule.label}): {rule.description}")
    return "\n".join(out) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_BUILD_DIR, help="output folder")
    parser.add_argument(
        "--weak-cap",
        type=int,
        default=1000,
        help="max weak examples per source (1000 keeps training within ~45 min on 2 shared CPU cores)",
    )
    parser.add_argument("--read-weight", type=float, default=2.0, help="loss weight of read labels")
    parser.add_argument("--written-weight", type=float, default=1.0, help="loss weight of the team's posts")
    parser.add_argument("--seed", type=int, default=13)


def run(args: argparse.Namespace) -> int:
    summary = build(
        Path(args.data),
        Path(args.out),
        weak_cap=args.weak_cap,
        read_weight=args.read_weight,
        written_weight=args.written_weight,
        seed=args.seed,
    )
    print(rules_markdown(summary["rules"]))
    print()
    for split, table in summary["counts"].items():
        c: Counter[str] = Counter()
        for v in table.values():
            c.update(v)
        print(f"{split:5s} {sum(c.values()):6d}  " + "  ".join(f"{k}={v}" for k, v in sorted(c.items())))
    print(f"wrote {args.out} in {summary['seconds']}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dialogic data build", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
