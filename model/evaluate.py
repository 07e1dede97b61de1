"""`dialogic evaluate`: score the artifact on the gold set and the test split, beside the baselines.

Reports accuracy, macro-F1, per-class P/R/F1, confusion, ECE (15 bins) and Brier, per source and on
slices (with/without @mention, with/without URL, short posts, non-English), fp32 vs int8 on gold.
Stores the headline metrics in the artifact's dialogic.json (`metrics` is not part of the artifact
version) and writes model/MODEL_CARD.md. The model card names posts by id only: no post text enters
the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from model import onnx_int8
from model.baselines import labels_of, load_split, train_baselines
from model.classifier import ARTIFACT_DIR, BACKENDS, LABELS, META_FILE, Classifier, softmax
from model.data import DEFAULT_BUILD_DIR
from model.metrics import cohen_kappa, macro_f1, report

CARD = Path(__file__).parent / "MODEL_CARD.md"
TARGETS = {"gold_macro_f1": 0.90, "margin_over_tfidf": 0.05, "gold_ece": 0.05}
Row = dict[str, Any]

SLICES: dict[str, Callable[[Row], bool]] = {
    "with @mention": lambda r: "@user" in r["text"],
    "without @mention": lambda r: "@user" not in r["text"],
    "with URL": lambda r: "http" in r["text"],
    "without URL": lambda r: "http" not in r["text"],
    "short (< 8 tokens)": lambda r: len(r["text"].split()) < 8,
    "non-English": lambda r: (r.get("lang") or "en") != "en",
}


def subset_report(rows: list[Row], probs: np.ndarray, mask: list[bool]) -> dict[str, Any] | None:
    m = np.array(mask, dtype=bool)
    if not m.any():
        return None
    return report(labels_of([r for r, k in zip(rows, m, strict=True) if k]), probs[m])


def fmt(x: float | None, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    return f"{100 * x:.1f}" if pct else f"{x:.3f}"


def headline_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| system | set | n | accuracy | macro-F1 | F1 broadcast | F1 conversation | ECE | Brier |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for system, sets in results.items():
        for name, r in sets.items():
            pc = r["per_class"]
            lines.append(
                f"| {system} | {name} | {r['n']} | {fmt(r['accuracy'])} | **{fmt(r['macro_f1'])}** | "
                f"{fmt(pc['broadcast']['f1'])} | {fmt(pc['conversation']['f1'])} | {fmt(r['ece'])} | "
                f"{fmt(r['brier'])} |"
            )
    return "\n".join(lines)


def per_class_table(r: dict[str, Any]) -> str:
    lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label, s in r["per_class"].items():
        lines.append(
            f"| {label} | {fmt(s['precision'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | {s['support']} |"
        )
    c = r["confusion"]
    lines += [
        "",
        "Confusion (rows true, columns predicted):",
        "",
        "| true \\ predicted | broadcast | conversation |",
        "|---|---:|---:|",
        f"| broadcast | {c[0][0]} | {c[0][1]} |",
        f"| conversation | {c[1][0]} | {c[1][1]} |",
    ]
    return "\n".join(lines)


def breakdown_table(
    title: str, groups: dict[str, list[bool]], rows: list[Row], systems: dict[str, np.ndarray]
) -> tuple[str, dict[str, Any]]:
    names = list(systems)
    head = (
        f"| {title} | n | broadcast / conversation | "
        + " | ".join(f"{s} acc | {s} macro-F1" for s in names)
        + " | model ECE |"
    )
    lines = [head, "|---|---:|---:|" + "---:|---:|" * len(names) + "---:|"]
    stored: dict[str, Any] = {}
    for key, mask in groups.items():
        maybe = {s: subset_report(rows, p, mask) for s, p in systems.items()}
        reps = {s: r for s, r in maybe.items() if r is not None}
        if len(reps) < len(maybe):  # an empty slice
            continue
        first = reps[names[0]]
        sup = first["per_class"]
        cells = " | ".join(f"{fmt(reps[s]['accuracy'])} | {fmt(reps[s]['macro_f1'])}" for s in names)
        lines.append(
            f"| {key} | {first['n']} | {sup['broadcast']['support']} / {sup['conversation']['support']} | "
            f"{cells} | {fmt(reps[names[0]]['ece'])} |"
        )
        stored[key] = {
            "n": first["n"],
            **{
                s: {"accuracy": round(reps[s]["accuracy"], 4), "macro_f1": round(reps[s]["macro_f1"], 4)}
                for s in names
            },
        }
    return "\n".join(lines), stored


def evaluate(artifact: Path, build_dir: Path, backend: str = "fp32", write: bool = True) -> dict[str, Any]:
    t0 = time.time()
    sets = {name: load_split(build_dir, name) for name in ("gold", "test")}
    clf = Classifier.load(artifact, backend=backend)  # type: ignore[arg-type]
    temperature = clf.temperature
    logits = {name: clf.logits([r["text"] for r in rows]) for name, rows in sets.items()}
    t_model = time.time() - t0
    probs = {name: softmax(lg / temperature) for name, lg in logits.items()}
    raw_probs = {name: softmax(lg) for name, lg in logits.items()}
    baselines = train_baselines(build_dir)
    base_probs = {
        m.name: {name: m.predict_proba([r["text"] for r in rows]) for name, rows in sets.items()}
        for m in baselines
    }

    model_name = f"{clf.name} ({backend})"
    results: dict[str, dict[str, dict[str, Any]]] = {model_name: {}}
    for name, rows in sets.items():
        results[model_name][name] = report(labels_of(rows), probs[name])
    for b in baselines:
        results[b.name] = {
            name: report(labels_of(rows), base_probs[b.name][name]) for name, rows in sets.items()
        }
    uncal = {name: report(labels_of(rows), raw_probs[name]) for name, rows in sets.items()}

    other = "int8" if backend == "fp32" else "fp32"
    other_clf = Classifier.load(artifact, backend=other)  # type: ignore[arg-type]
    gold_texts = [r["text"] for r in sets["gold"]]
    t1 = time.time()
    other_probs = softmax(other_clf.logits(gold_texts) / temperature)
    other_s = time.time() - t1
    y_gold = labels_of(sets["gold"])
    quant = {
        backend: macro_f1(y_gold, probs["gold"].argmax(1)),
        other: macro_f1(y_gold, other_probs.argmax(1)),
        "agreement": float((other_probs.argmax(1) == probs["gold"].argmax(1)).mean()),
        "max_abs_prob_diff": float(np.abs(other_probs - probs["gold"]).max()),
        f"{other}_seconds_per_1000": round(1000 * other_s / max(1, len(gold_texts)), 1),
        "cpu": onnx_int8.describe_cpu(),  # int8 scores depend on the CPU's int8 kernels
    }

    gold_rows = sets["gold"]
    system_probs = {"model": probs["gold"], "TF-IDF+LR": base_probs["TF-IDF + LR"]["gold"]}
    sources = sorted({r["source"] for r in gold_rows})
    src_md, src_stored = breakdown_table(
        "source", {s: [r["source"] == s for r in gold_rows] for s in sources}, gold_rows, system_probs
    )
    sl_md, sl_stored = breakdown_table(
        "slice", {k: [f(r) for r in gold_rows] for k, f in SLICES.items()}, gold_rows, system_probs
    )
    test_rows = sets["test"]
    tsrc_md, _ = breakdown_table(
        "source",
        {s: [r["source"] == s for r in test_rows] for s in sorted({r["source"] for r in test_rows})},
        test_rows,
        {"model": probs["test"], "TF-IDF+LR": base_probs["TF-IDF + LR"]["test"]},
    )

    gold_r = results[model_name]["gold"]
    tfidf_gold = results["TF-IDF + LR"]["gold"]["macro_f1"]
    targets = {
        "gold_macro_f1 >= 0.90": gold_r["macro_f1"] >= TARGETS["gold_macro_f1"],
        "gold_macro_f1 >= TF-IDF + 0.05": gold_r["macro_f1"] >= tfidf_gold + TARGETS["margin_over_tfidf"],
        "gold_ece <= 0.05": gold_r["ece"] <= TARGETS["gold_ece"],
    }
    errors = error_rows(gold_rows, probs["gold"], build_dir)
    metrics = {
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "backend": backend,
        "gold": slim(gold_r),
        "test": slim(results[model_name]["test"]),
        "gold_uncalibrated_ece": round(uncal["gold"]["ece"], 4),
        "baselines": {
            b.name: {"gold": slim(results[b.name]["gold"]), "test": slim(results[b.name]["test"])}
            for b in baselines
        },
        "quantization_gold": {k: round(v, 4) if isinstance(v, float) else v for k, v in quant.items()},
        "per_source_gold": src_stored,
        "slices_gold": sl_stored,
        "targets": targets,
        "model_seconds_per_1000": round(1000 * t_model / max(1, sum(len(r) for r in sets.values())), 1),
    }

    print(headline_table(results))
    print(
        f"\nuncalibrated ECE (T=1): gold {fmt(uncal['gold']['ece'])}, test {fmt(uncal['test']['ece'])}; "
        f"temperature {temperature:.3f}"
    )
    print("\nper source (gold)\n" + src_md + "\n\nslices (gold)\n" + sl_md)
    print(f"\n{backend} vs {other} on gold: " + json.dumps(metrics["quantization_gold"]))
    print("targets: " + json.dumps(targets))

    if write:
        meta_path = artifact / META_FILE
        meta = json.loads(meta_path.read_text())
        meta["metrics"] = metrics
        meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        CARD.write_text(
            model_card(
                meta,
                results,
                uncal,
                temperature,
                src_md,
                tsrc_md,
                sl_md,
                quant,
                backend,
                other,
                targets,
                errors,
                build_dir,
                model_name,
                artifact,
            )
        )
        print(f"\nwrote metrics to {meta_path} and {CARD}")
    return metrics


def slim(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": r["n"],
        "accuracy": round(r["accuracy"], 4),
        "macro_f1": round(r["macro_f1"], 4),
        "ece": round(r["ece"], 4),
        "brier": round(r["brier"], 4),
        "per_class": {
            k: {m: round(v, 4) if isinstance(v, float) else v for m, v in s.items()}
            for k, s in r["per_class"].items()
        },
        "confusion": r["confusion"],
    }


def annotator_agreement() -> str:
    """Inter-annotator agreement of the gold set, before adjudication.

    `gold_second.jsonl` is an independent blind second annotation. Adjudicated gold rows (notes starting
    "adjudicated") were disagreements, so with two labels the first annotator chose the other label.
    """
    from model.data import GOLD_FILE, PACKAGE_DIR, load_labels

    gold, second = load_labels(GOLD_FILE), load_labels(PACKAGE_DIR / "gold_second.jsonl")
    ids = [i for i in gold if i in second]
    other = [LABELS.index(second[i]["label"]) for i in ids]
    adjudicated = [gold[i].get("note", "").startswith("adjudicated") for i in ids]
    first = [
        1 - o if adj else LABELS.index(gold[i]["label"])
        for i, o, adj in zip(ids, other, adjudicated, strict=True)
    ]
    agree = sum(f == o for f, o in zip(first, other, strict=True))
    return (
        f"an independent blind second annotation of all {len(ids)} agreed on {agree} before adjudication "
        f"(Cohen's kappa {cohen_kappa(first, other):.3f}); the {sum(adjudicated)} disagreements were "
        "adjudicated against the guide and noted"
    )


def error_rows(rows: list[Row], probs: np.ndarray, build_dir: Path) -> list[dict[str, Any]]:
    """Misclassified gold rows with the annotator's note (ids only, never the text)."""
    from model.data import GOLD_FILE, load_labels

    notes = load_labels(GOLD_FILE)
    out = []
    for r, p in zip(rows, probs, strict=True):
        pred = LABELS[int(p.argmax())]
        if pred != r["label"]:
            out.append(
                {
                    "id": r["id"],
                    "source": r["source"],
                    "lang": r.get("lang"),
                    "gold": r["label"],
                    "p_conversation": round(float(p[1]), 3),
                    "note": notes.get(r["id"], {}).get("note", ""),
                    "mention": "@user" in r["text"],
                    "url": "http" in r["text"],
                    "leading_mention": r["text"].startswith("@user"),
                    "tokens": len(r["text"].split()),
                }
            )
    return out


def error_analysis(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "No gold row is misclassified."
    by_dir = Counter(
        f"{e['gold']} predicted as {'conversation' if e['gold'] == 'broadcast' else 'broadcast'}"
        for e in errors
    )
    by_src = Counter(e["source"] for e in errors)
    notes = Counter(e["note"] for e in errors if e["note"])
    lead = sum(e["leading_mention"] for e in errors)
    lines = [
        f"{len(errors)} gold rows are misclassified: "
        + ", ".join(f"{v} {k}" for k, v in by_dir.items())
        + ".",
        "By source: " + ", ".join(f"{k} {v}" for k, v in by_src.most_common()) + ".",
        f"{lead} of them start with a handle, {sum(e['url'] for e in errors)} contain a link, "
        f"{sum(e['tokens'] < 8 for e in errors)} are short (< 8 tokens), "
        f"{sum((e['lang'] or 'en') != 'en' for e in errors)} are not English.",
        "",
        "Annotator notes on the misclassified rows (hard cases the guide names):",
        "",
    ]
    lines += [f"- {k} ({v})" for k, v in notes.most_common(15)] or ["- (none)"]
    lines += ["", "| id | source | gold | P(conversation) | note |", "|---|---|---|---:|---|"]
    for e in sorted(errors, key=lambda e: -abs(e["p_conversation"] - 0.5))[:40]:
        lines.append(f"| `{e['id']}` | {e['source']} | {e['gold']} | {e['p_conversation']} | {e['note']} |")
    return "\n".join(lines)


def model_card(
    meta: dict[str, Any],
    results: dict[str, Any],
    uncal: dict[str, Any],
    temperature: float,
    src_md: str,
    tsrc_md: str,
    sl_md: str,
    quant: dict[str, Any],
    backend: str,
    other: str,
    targets: dict[str, bool],
    errors: list[dict[str, Any]],
    build_dir: Path,
    model_name: str,
    artifact: Path,
) -> str:
    from model.classifier import artifact_version
    from model.data.build import rules_markdown

    summary_path = build_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    tr = meta.get("training", {})
    counts_lines = [
        "| split | read: broadcast | read: conversation | weak: broadcast | weak: conversation | total |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split, table in summary.get("counts", {}).items():
        c: Counter[str] = Counter()
        for v in table.values():
            c.update(v)
        counts_lines.append(
            f"| {split} | {c['read:broadcast']} | {c['read:conversation']} | {c['weak:broadcast']} | "
            f"{c['weak:conversation']} | {sum(c.values())} |"
        )
    langs = summary.get("languages", {})
    gold_r = results[model_name]["gold"]
    tfidf = results["TF-IDF + LR"]["gold"]
    met = all(targets.values())
    need = tfidf["macro_f1"] + TARGETS["margin_over_tfidf"]
    margin_note = (
        f"The margin target asks for gold macro-F1 >= {need:.3f} "
        f"(TF-IDF + LR {tfidf['macro_f1']:.3f} + 0.05); "
        f"the model has {gold_r['macro_f1']:.3f} with {len(errors)} errors in {gold_r['n']} rows. "
        "TF-IDF is strong here because much of the label is carried by surface form (a leading `@user`, "
        "`RT @user:`, a link), so the remaining errors are the guide's hard cases listed below: handles used "
        "as a sentence subject, mention-first notices, quote-tweet rebuttals, status updates in reply "
        "threads. Closing the gap needs more labels made by reading on those cases (weak rules cannot "
        "separate them) and more training than the CPU budget allows."
        if not targets["gold_macro_f1 >= TF-IDF + 0.05"]
        else "All targets met; the rows below are the remaining disagreements with the gold labels."
    )
    outcome = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in targets.items())
    return f"""# Model card: {meta["name"]}

Version `{artifact_version(artifact)}` · trained
{meta.get("trained_at", "-")} · evaluated {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} ·
normalisation v{meta["normalize_version"]} · temperature {temperature:.3f}.
Generated by `dialogic evaluate`; numbers below are from that run.

## Intended use

Labels one social-media post as **broadcast** (speaks *to* an audience: announcements, promotions,
headlines, links, calls to action, auto-DMs, status updates) or **conversation** (speaks *with* a
particular person: replies, answers, care responses, addressed thanks and questions), following
`model/LABELING.md`, with calibrated scores. Meant for measuring how brands and organisations use social
media in aggregate. Not meant for decisions about individual people, for moderation, or for text that is
not a short social post. Inputs are normalised with `model/normalize.py` (handles -> `@user`, links ->
`http`) exactly as in training.

## Model

`sentence-transformers/all-MiniLM-L6-v2` (6 layers, 384 hidden, 22.7M parameters) with a new
2-way classification head (`BertForSequenceClassification`), fine-tuned on CPU
({tr.get("threads", "-")} thread(s), shared machine): {tr.get("steps", "-")} steps of batch
{tr.get("batch_size", "-")} ({tr.get("epochs_run", "-")} epochs; stop: {tr.get("stop_reason", "-")}), AdamW lr
{tr.get("lr", "-")}, linear warm-up {tr.get("warmup", "-")} and decay, weighted cross-entropy, max length
{tr.get("max_length", "-")} tokens, embeddings frozen: {tr.get("freeze_embeddings", "-")}, best dev checkpoint
at step {tr.get("best_step", "-")} (dev macro-F1 {tr.get("dev_macro_f1", "-")}), seed {tr.get("seed", "-")},
{tr.get("train_seconds", "-")} s at {tr.get("examples_per_second", "-")} examples/s. Weights stored as fp16
safetensors ({tr.get("roundtrip", {}).get("weights_mb", "-")} MB), cast to fp32 on load; reload check:
max |Δp| {tr.get("roundtrip", {}).get("max_abs_prob_diff", "-")} against the fp32 training weights.

## Data

Ten public tweet collections in `../shared/data` (see its README; none has a broadcast/conversation
label): IBM customer care, TWCS customer support, a Twitter conversation corpus, Tweet-Act, TweetEval,
XLM-T (ar, de, es, fr, hi, it, pt), SentiRuEval (ru), TA1C Spanish news, Fortune 100 corporate tweets,
CrisisLex T26 information sources.

- **Gold set** ({summary.get("gold_labels", "-")} posts, labelled by reading against the guide by five
  annotators; threads/authors/outlets chosen by hashing group keys): evaluation only; {annotator_agreement()}.
  Every row of a gold group (thread, author, outlet) is excluded from train/dev/test.
- **Labels by reading** ({summary.get("read_labels", "-")} posts, same annotators, same guide): training
  (weight {summary.get("read_weight", "-")}), dev and test. **Dev and test hold only labels made by reading.**
- **Weak labels** from the documented rules in `model/data/rules.py` on the remaining rows (at most
  {summary.get("weak_cap_per_source", "-")} per source, classes balanced per source), train only.
- Splits 80/10/10 by group hash; near-duplicates removed across splits (gold > test > dev > train).
  Full counts per source in `model/data/build/datasheet.md` (regenerated by `dialogic data build`).

{chr(10).join(counts_lines)}

Languages (gold): {", ".join(f"{k} {v}" for k, v in langs.get("gold", {}).items())}.
Languages (train): {", ".join(f"{k} {v}" for k, v in langs.get("train", {}).items())}.

### Weak-labelling rules (coverage on all rows, precision on gold)

{rules_markdown(summary.get("rules", []))}

## Results

Targets: gold macro-F1 >= 0.90 and >= 5 points above TF-IDF + LR; gold ECE <= 0.05.
Outcome: {"all met" if met else "NOT all met"}: {outcome}.

{headline_table(results)}

Gold macro-F1: model {fmt(gold_r["macro_f1"])} vs TF-IDF + LR {fmt(tfidf["macro_f1"])} (difference
{100 * (gold_r["macro_f1"] - tfidf["macro_f1"]):+.1f} points) vs majority class
{fmt(results["majority class"]["gold"]["macro_f1"])}.

How much the gold set was looked at: never trained on, but not untouched. The first trained model
(gold macro-F1 0.940) was analysed on gold, most of its errors were personal status updates predicted as
conversation, and the `personal_status` weak rule was added in response. The test split (read labels of
held-out groups, never inspected while designing) is therefore the cleaner estimate of quality on
unseen posts: model {fmt(results[model_name]["test"]["macro_f1"])} vs TF-IDF + LR
{fmt(results["TF-IDF + LR"]["test"]["macro_f1"])}.

### Model on gold: per class

{per_class_table(gold_r)}

### Calibration

Temperature scaling fitted on dev (NLL, grid + golden-section search over log T): T = {temperature:.3f}.
ECE (15 bins, top-label confidence): gold {fmt(uncal["gold"]["ece"])} before -> {fmt(gold_r["ece"])} after;
test {fmt(uncal["test"]["ece"])} -> {fmt(results[model_name]["test"]["ece"])}; dev
{tr.get("dev_ece_uncalibrated", "-")} -> {tr.get("dev_ece_calibrated", "-")}. Brier is the binary Brier
score of P(conversation).

### Per source (gold)

Macro-F1 is degenerate where a source's gold rows are (nearly) all one class; read accuracy there.

{src_md}

### Per source (test: read-labelled rows of held-out groups)

{tsrc_md}

### Slices (gold)

{sl_md}

### fp32 vs int8, gold

int8 is the fp32 model exported to ONNX, fused (attention, bias-GELU), with the last layer computed
for the [CLS] row only (the row the classifier reads; exact in fp32), and quantised to int8 per output
channel, run by ONNX Runtime (`model/onnx_int8.py`). The service serves int8 by default because it keeps
gold macro-F1 within 0.5 point of fp32 (the rule set in advance) and, on the 2-CPU VM, serves more
posts/s than fp32's best batched layout (README, Performance, has the figures). int8 runs one text per
forward pass: its activations get one quantisation scale per pass, so in a shared pass a text's scores
would depend on its neighbours. `DIALOGIC_MODEL_BACKEND=fp32` serves the reference.

| backend | macro-F1 |
|---|---:|
| {backend} | {fmt(quant[backend])} |
| {other} | {fmt(quant[other])} |

Label agreement {100 * quant["agreement"]:.1f}%, max |Δp| {quant["max_abs_prob_diff"]:.3f}.
Measured on: {quant["cpu"]}.

ONNX Runtime picks its int8 kernels by the CPU's instruction set (AVX2, AVX-512 VNNI, AMX), so int8
scores differ slightly from one CPU type to another; fp32's do not. Check the rule on the serving
hardware with `dialogic evaluate --backend int8 --no-write`.

## Limitations

- The labels are judgements by reading under one guide; the hard cases (replies that are pitches,
  mention-first announcements, questions to the audience, personal status updates) are where annotators
  and the model disagree most. Structure-derived weak labels make up most of the training set and carry
  the rules' biases (e.g. a leading handle tends to mean conversation).
- Sources are skewed: corporate, news and crisis posts are nearly all broadcast; customer-care data nearly
  all conversation, so the model can partly learn *style of source*. Per-source gold sets are small
  (tens of rows), so per-source numbers have wide confidence intervals.
- Languages: training is mostly English; Spanish, Russian and the XLM-T languages (ar, de, fr, hi, it, pt)
  have a few hundred rows each at most. Other languages are unsupported in practice.
- Data are 2011-2021 tweets; platform conventions drift (e.g. reply handles are no longer in the text).
- Trained on a shared 2-core CPU under a 45-minute budget: {tr.get("epochs_run", "-")} epochs; more
  epochs or a GPU would likely help.

### Error analysis (gold)

{margin_note}

{error_analysis(errors)}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifact", type=Path, default=ARTIFACT_DIR)
    parser.add_argument("--backend", choices=BACKENDS, default="int8", help="the backend to report on")
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave dialogic.json and the card"
    )


def run(args: argparse.Namespace) -> int:
    evaluate(Path(args.artifact), Path(args.build), args.backend, write=not args.no_write)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dialogic evaluate", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
