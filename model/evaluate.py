"""`dialogic evaluate`: score the artifact on the gold set, the test split and the behavioural suite.

Reports accuracy, macro-F1, per-class P/R/F1, confusion, ECE (15 bins) and Brier beside the baselines;
per source, per form x label cell, per language, on the organisation slice and on slices; the gold posts
in another form (counterfactual gold); the behavioural suite per capability; fp32 vs int8 on gold.
Stores the headline metrics in the artifact's dialogic.json (`metrics` is not part of the artifact
version) and renders model/MODEL_CARD.md from `model/templates/MODEL_CARD.md.j2`. The card names posts
by id only: no post text enters the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from model import checks, perturb
from model.baselines import labels_of, load_split, train_baselines
from model.data import DEFAULT_BUILD_DIR, GOLD_FILE, PACKAGE_DIR, load_labels, utc_stamp
from model.data.augment import variants
from model.data.build import broadcast_tails
from model.metrics import cohen_kappa, macro_f1, per_class, report
from model.runtime import onnx_int8
from model.runtime.classifier import ARTIFACT_DIR, BACKENDS, LABELS, META_FILE, Classifier, softmax

CARD = Path(__file__).parent / "MODEL_CARD.md"
TEMPLATES = Path(__file__).parent / "templates"
TARGETS = {
    "gold_macro_f1": 0.95,
    "cell_f1": 0.90,  # every form x label cell with at least CELL_MIN posts
    "margin_over_tfidf": 0.05,
    "ece": 0.03,  # gold and the organisation slice
}
CELL_MIN = 30
Row = dict[str, Any]

SLICES: dict[str, Callable[[Row], bool]] = {
    "with @mention": lambda r: "@user" in r["text"],
    "without @mention": lambda r: "@user" not in r["text"],
    "with URL": lambda r: "http" in r["text"],
    "without URL": lambda r: "http" not in r["text"],
    "short (< 8 tokens)": lambda r: len(r["text"].split()) < 8,
    "non-English": lambda r: (r.get("lang") or "en") != "en",
}
LANGUAGES = ("en", "es", "ru")  # reported one by one; the rest as "other"


def subset_report(rows: list[Row], probs: np.ndarray, mask: Sequence[bool]) -> dict[str, Any] | None:
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
    title: str, groups: dict[str, Sequence[bool]], rows: list[Row], systems: dict[str, np.ndarray]
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
            f"{cells} | {fmt(first['ece'])} |"
        )
        stored[key] = {
            "n": first["n"],
            "ece": round(first["ece"], 4),
            **{
                s: {"accuracy": round(reps[s]["accuracy"], 4), "macro_f1": round(reps[s]["macro_f1"], 4)}
                for s in names
            },
        }
    return "\n".join(lines), stored


def form_cells(rows: list[Row], probs: np.ndarray) -> tuple[str, dict[str, Any]]:
    """F1 of each label among the posts of each form (leading handle, no handle, comment + retweet,
    plain retweet): the cell's F1 counts both the label's misses inside the form and the other label's
    posts of that form taken for it, so a form the model reads as a label shows up in both of its cells."""
    forms = [perturb.form(r["text"]) for r in rows]
    y, pred = labels_of(rows), probs.argmax(1)
    lines = [
        "| form | label | n | recall | F1 (within the form) | judged (n >= 30) |",
        "|---|---|---:|---:|---:|---|",
    ]
    stored: dict[str, Any] = {}
    for form in perturb.FORMS:
        m = np.array([f == form for f in forms])
        if not m.any():
            continue
        stats = per_class(y[m], pred[m])
        for k, label in enumerate(LABELS):
            n = stats[k]["support"]
            if not n:
                continue
            judged = n >= CELL_MIN
            stored[f"{form} x {label}"] = {
                "n": n,
                "recall": round(stats[k]["recall"], 4),
                "f1": round(stats[k]["f1"], 4),
                "judged": judged,
            }
            lines.append(
                f"| {form} | {label} | {n} | {fmt(stats[k]['recall'])} | {fmt(stats[k]['f1'])} | "
                f"{'yes' if judged else 'no'} |"
            )
    return "\n".join(lines), stored


def counterfactual_gold(rows: list[Row]) -> list[tuple[Row, str, str]]:
    """Gold posts in another form where the guide says the form does not decide, made exactly as the
    training copies are (`model.data.augment.variants`, one change of form each): (row, change, new text)."""
    tails = broadcast_tails(rows)
    return [
        (r, *made) for r in rows for made in variants(r, r.get("act") or "", tails, copies=1, decorate=False)
    ]


def annotator_agreement() -> list[dict[str, Any]]:
    """Inter-annotator agreement of the gold set before adjudication, per labelling round.

    `gold_second.jsonl` is an independent blind second annotation. Adjudicated gold rows (notes starting
    "adjudicated") were disagreements, so with two labels the first annotator chose the other label.
    """
    gold, second = load_labels(GOLD_FILE), load_labels(PACKAGE_DIR / "gold_second.jsonl")
    rounds: dict[str, list[str]] = {}
    for i in gold:
        if i in second:
            rounds.setdefault(gold[i].get("pool") or "original", []).append(i)
    out = []
    for pool, ids in rounds.items():
        other = [LABELS.index(second[i]["label"]) for i in ids]
        adjudicated = [gold[i].get("note", "").startswith("adjudicated") for i in ids]
        first = [
            1 - o if adj else LABELS.index(gold[i]["label"])
            for i, o, adj in zip(ids, other, adjudicated, strict=True)
        ]
        out.append(
            {
                "pool": pool,
                "n": len(ids),
                "agreed": sum(f == o for f, o in zip(first, other, strict=True)),
                "kappa": round(cohen_kappa(first, other), 3),
                "adjudicated": sum(adjudicated),
            }
        )
    return out


def error_rows(rows: list[Row], probs: np.ndarray) -> list[dict[str, Any]]:
    """Misclassified gold rows with the annotator's note (ids only, never the text)."""
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
                    "act": r.get("act") or "",
                    "form": perturb.form(r["text"]),
                    "url": "http" in r["text"],
                    "tokens": len(r["text"].split()),
                }
            )
    return sorted(out, key=lambda e: -abs(e["p_conversation"] - 0.5))


def error_summary(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "by_direction": Counter(
            f"{e['gold']} predicted as {LABELS[1 - LABELS.index(e['gold'])]}" for e in errors
        ),
        "by_source": Counter(e["source"] for e in errors).most_common(),
        "by_form": Counter(e["form"] for e in errors).most_common(),
        "by_act": Counter(e["act"] for e in errors if e["act"]).most_common(12),
        "notes": Counter(e["note"] for e in errors if e["note"]).most_common(15),
        "with_link": sum(e["url"] for e in errors),
        "short": sum(e["tokens"] < 8 for e in errors),
        "non_english": sum((e["lang"] or "en") != "en" for e in errors),
    }


def system_reports(
    sets: dict[str, list[Row]], probs: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Each system's report on each set, systems in the order of `probs` (the model first)."""
    return {
        system: {name: report(labels_of(rows), by_set[name]) for name, rows in sets.items()}
        for system, by_set in probs.items()
    }


def backend_agreement(
    artifact: Path, backend: str, other: str, temperature: float, gold_rows: list[Row], gold_probs: np.ndarray
) -> dict[str, Any]:
    """The other backend on gold beside this one: macro-F1 of each, label agreement, largest score gap."""
    other_clf = Classifier.load(artifact, backend=other)  # type: ignore[arg-type]
    other_probs = softmax(other_clf.logits([r["text"] for r in gold_rows]) / temperature)
    y_gold = labels_of(gold_rows)
    return {
        backend: macro_f1(y_gold, gold_probs.argmax(1)),
        other: macro_f1(y_gold, other_probs.argmax(1)),
        "agreement": float((other_probs.argmax(1) == gold_probs.argmax(1)).mean()),
        "max_abs_prob_diff": float(np.abs(other_probs - gold_probs).max()),
        "cpu": onnx_int8.describe_cpu(),  # int8 scores depend on the CPU's int8 kernels
    }


def breakdowns(
    sets: dict[str, list[Row]], model_probs: dict[str, np.ndarray], tfidf_probs: dict[str, np.ndarray]
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """The model beside TF-IDF + LR per source, slice, language and gold pool, and per form x label cell:
    the card's tables, the figures stored in dialogic.json, and the cells."""
    gold_rows, test_rows = sets["gold"], sets["test"]
    system_probs = {"model": model_probs["gold"], "TF-IDF+LR": tfidf_probs["gold"]}
    tables: dict[str, str] = {}
    stored: dict[str, Any] = {}
    sources = sorted({r["source"] for r in gold_rows})
    tables["sources"], stored["per_source_gold"] = breakdown_table(
        "source", {s: [r["source"] == s for r in gold_rows] for s in sources}, gold_rows, system_probs
    )
    tables["slices"], stored["slices_gold"] = breakdown_table(
        "slice", {k: [f(r) for r in gold_rows] for k, f in SLICES.items()}, gold_rows, system_probs
    )
    lang_of = [
        (r.get("lang") or "en") if (r.get("lang") or "en") in LANGUAGES else "other" for r in gold_rows
    ]
    tables["languages"], stored["languages_gold"] = breakdown_table(
        "language", {k: [x == k for x in lang_of] for k in (*LANGUAGES, "other")}, gold_rows, system_probs
    )
    org = organisation_mask(gold_rows)
    tables["pools"], stored["pools_gold"] = breakdown_table(
        "gold set",
        {"organisation posts (labelled 2026-12)": org, "original gold": [not o for o in org]},
        gold_rows,
        system_probs,
    )
    tables["cells"], cells = form_cells(gold_rows, model_probs["gold"])
    tables["test_sources"], _ = breakdown_table(
        "source",
        {s: [r["source"] == s for r in test_rows] for s in sorted({r["source"] for r in test_rows})},
        test_rows,
        {"model": model_probs["test"], "TF-IDF+LR": tfidf_probs["test"]},
    )
    return tables, stored, cells


def organisation_mask(rows: list[Row]) -> list[bool]:
    return [r.get("pool") == "organisations" for r in rows]


def counterfactual_report(clf: Classifier, gold_rows: list[Row]) -> dict[str, Any]:
    """Accuracy on gold posts in another form (`counterfactual_gold`), overall and per change."""
    swapped = counterfactual_gold(gold_rows)
    swapped_labels = [p.label for p in clf.predict([t for _, _, t in swapped])]
    cf_ops: dict[str, list[int]] = {}
    for (r, op, _), got in zip(swapped, swapped_labels, strict=True):
        cf_ops.setdefault(op, [0, 0])
        cf_ops[op][0] += got == r["label"]
        cf_ops[op][1] += 1
    right, n = sum(v[0] for v in cf_ops.values()), sum(v[1] for v in cf_ops.values())
    return {"accuracy": round(right / max(1, n), 4), "n": n, "by_change": cf_ops}


def targets_met(
    gold_r: dict[str, Any],
    tfidf_gold: dict[str, Any],
    org_r: dict[str, Any] | None,
    cells: dict[str, Any],
    suite_report: checks.SuiteReport,
) -> dict[str, bool]:
    judged = {k: v for k, v in cells.items() if v["judged"]}
    return {
        f"gold macro-F1 >= {TARGETS['gold_macro_f1']}": gold_r["macro_f1"] >= TARGETS["gold_macro_f1"],
        f"every judged form x label cell F1 >= {TARGETS['cell_f1']}": all(
            v["f1"] >= TARGETS["cell_f1"] for v in judged.values()
        ),
        f"behavioural suite >= {checks.MIN_OVERALL:.0%}, each capability >= {checks.MIN_RATE:.0%}": (
            not suite_report.below
        ),
        f"gold ECE <= {TARGETS['ece']}": gold_r["ece"] <= TARGETS["ece"],
        f"organisation-slice ECE <= {TARGETS['ece']}": org_r is not None and org_r["ece"] <= TARGETS["ece"],
        "gold macro-F1 >= TF-IDF + 0.05": gold_r["macro_f1"]
        >= tfidf_gold["macro_f1"] + TARGETS["margin_over_tfidf"],
    }


def print_report(
    results: dict[str, dict[str, dict[str, Any]]],
    uncal: dict[str, dict[str, Any]],
    temperature: float,
    tables: dict[str, str],
    metrics: dict[str, Any],
    backend: str,
    other: str,
) -> None:
    print(headline_table(results))
    print(
        f"\nuncalibrated ECE (T=1): gold {fmt(uncal['gold']['ece'])}, test {fmt(uncal['test']['ece'])}; "
        f"temperature {temperature:.3f}"
    )
    for name in ("cells", "languages", "pools", "sources", "slices", "suite"):
        print(f"\n{name}\n{tables[name]}")
    print(f"\ncounterfactual gold: {json.dumps(metrics['counterfactual_gold'])}")
    print(f"\n{backend} vs {other} on gold: " + json.dumps(metrics["quantization_gold"]))
    print("targets: " + json.dumps(metrics["targets"], indent=1))


def write_results(artifact: Path, build_dir: Path, metrics: dict[str, Any], **card: Any) -> None:
    """The metrics into the artifact's dialogic.json, and the model card rendered from them."""
    meta_path = artifact / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["metrics"] = metrics
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    summary_path = build_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    CARD.write_text(
        render_card(meta=meta, summary=summary, artifact=artifact, agreement=annotator_agreement(), **card)
    )
    print(f"\nwrote metrics to {meta_path} and {CARD}")


def evaluate(artifact: Path, build_dir: Path, backend: str = "int8", write: bool = True) -> dict[str, Any]:
    """Every figure of the card, in named steps: score, compare, break down, check, store."""
    t0 = time.time()
    sets = {name: load_split(build_dir, name) for name in ("gold", "test")}
    clf = Classifier.load(artifact, backend=backend)  # type: ignore[arg-type]
    temperature = clf.temperature
    logits = {name: clf.logits([r["text"] for r in rows]) for name, rows in sets.items()}
    t_model = time.time() - t0
    probs = {name: softmax(lg / temperature) for name, lg in logits.items()}
    baselines = train_baselines(build_dir)
    model_name, tfidf = f"{clf.name} ({backend})", "TF-IDF + LR"
    base_probs = {
        m.name: {name: m.predict_proba([r["text"] for r in rows]) for name, rows in sets.items()}
        for m in baselines
    }
    results = system_reports(sets, {model_name: probs, **base_probs})
    uncal = system_reports(sets, {"T=1": {name: softmax(lg) for name, lg in logits.items()}})["T=1"]
    other = "int8" if backend == "fp32" else "fp32"
    quant = backend_agreement(artifact, backend, other, temperature, sets["gold"], probs["gold"])
    tables, stored, cells = breakdowns(sets, probs, base_probs[tfidf])
    suite = checks.load_suite()
    suite_report = checks.run(suite, lambda texts: [p.label for p in clf.predict(texts)])
    tables["suite"] = checks.markdown(suite_report, suite)
    gold_r = results[model_name]["gold"]
    org_r = subset_report(sets["gold"], probs["gold"], organisation_mask(sets["gold"]))
    targets = targets_met(gold_r, results[tfidf]["gold"], org_r, cells, suite_report)
    metrics = {
        "evaluated_at": utc_stamp(),
        "backend": backend,
        "gold": slim(gold_r),
        "test": slim(results[model_name]["test"]),
        "organisations_gold": slim(org_r) if org_r else None,
        "gold_uncalibrated_ece": round(uncal["gold"]["ece"], 4),
        "baselines": {
            b.name: {"gold": slim(results[b.name]["gold"]), "test": slim(results[b.name]["test"])}
            for b in baselines
        },
        "quantization_gold": {k: round(v, 4) if isinstance(v, float) else v for k, v in quant.items()},
        **stored,
        "form_cells_gold": cells,
        "counterfactual_gold": counterfactual_report(clf, sets["gold"]),
        "behaviour": suite_report.as_dict(),
        "targets": targets,
        "model_seconds_per_1000": round(1000 * t_model / max(1, sum(len(r) for r in sets.values())), 1),
    }
    print_report(results, uncal, temperature, tables, metrics, backend, other)
    if write:
        write_results(
            artifact,
            build_dir,
            metrics,
            results=results,
            uncal=uncal,
            temperature=temperature,
            tables=tables,
            quant=quant,
            backend=backend,
            other=other,
            targets=targets,
            errors=error_rows(sets["gold"], probs["gold"]),
            model_name=model_name,
        )
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


def counts_table(summary: dict[str, Any]) -> str:
    origins = ("read", "written", "augmented", "weak")
    lines = [
        "| split | " + " | ".join(f"{o}: {lab}" for o in origins for lab in LABELS) + " | total |",
        "|---|" + "---:|" * (2 * len(origins) + 1),
    ]
    for split, table in summary.get("counts", {}).items():
        c: Counter[str] = Counter()
        for v in table.values():
            c.update(v)
        cells = " | ".join(str(c[f"{o}:{lab}"]) for o in origins for lab in LABELS)
        lines.append(f"| {split} | {cells} | {sum(c.values())} |")
    return "\n".join(lines)


def render_card(**context: Any) -> str:
    """The model card, from the Jinja2 template beside this module."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from model.data.build import MIN_RULE_PRECISION, rules_markdown
    from model.runtime.classifier import artifact_version

    env = Environment(
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.filters["f3"] = fmt
    summary = context["summary"]
    return env.get_template("MODEL_CARD.md.j2").render(
        **context,
        version=artifact_version(context["artifact"]),
        evaluated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        tr=context["meta"].get("training", {}),
        counts=counts_table(summary),
        rules=rules_markdown(summary.get("rules", [])),
        min_rule_precision=MIN_RULE_PRECISION,
        langs=summary.get("languages", {}),
        gold_r=context["results"][context["model_name"]]["gold"],
        test_r=context["results"][context["model_name"]]["test"],
        tfidf=context["results"]["TF-IDF + LR"],
        majority=context["results"]["majority class"],
        headline=headline_table(context["results"]),
        per_class=per_class_table(context["results"][context["model_name"]]["gold"]),
        errors_summary=error_summary(context["errors"]),
        cell_min=CELL_MIN,
        metrics=context["meta"]["metrics"],
    )


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
