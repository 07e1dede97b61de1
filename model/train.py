"""`dialogic train`: fine-tune all-MiniLM-L6-v2 (+ a new head) on the build's train split.

Seeded (torch, numpy, random), AdamW with linear warm-up and decay, weighted cross-entropy (read labels
weigh more), length-bucketed batches, dev macro-F1 every half epoch, early stopping with patience, best
checkpoint kept. A wall-clock budget (`--max-minutes`) shrinks the schedule to fit once the step time is
measured. Then a temperature is fitted on dev (model.calibrate) and the artifact is written as fp16
safetensors + tokenizer + config + dialogic.json, reloaded with `Classifier.load` and checked to give the
same predictions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from tqdm import tqdm

from model.calibrate import fit_temperature
from model.classifier import (
    ARTIFACT_DIR,
    LABELS,
    MAX_TOKENS,
    META_FILE,
    Classifier,
    artifact_version,
    pad,
    softmax,
)
from model.data import DEFAULT_BUILD_DIR, read_jsonl
from model.metrics import ece, macro_f1, nll
from model.normalize import NORMALIZE_VERSION

ARTIFACT_NAME = "dialogic-minilm"
RUNS_DIR = Path(__file__).parent / "runs"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def bucketed_batches(
    lengths: list[int], batch_size: int, rng: random.Random, chunk: int = 50
) -> list[list[int]]:
    """Shuffle, sort by length inside chunks of `chunk` batches, cut into batches, shuffle the batches:
    little padding, still random order."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches = []
    span = batch_size * chunk
    for start in range(0, len(idx), span):
        block = sorted(idx[start : start + span], key=lambda i: lengths[i])
        batches += [block[i : i + batch_size] for i in range(0, len(block), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(ids: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(array) for name, array in pad(ids, pad_id).items()}


@torch.inference_mode()
def predict_logits(model: Any, ids: list[list[int]], pad_id: int, batch_size: int = 128) -> np.ndarray:
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), len(LABELS)), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = model(**collate([ids[i] for i in chunk], pad_id)).logits.float().numpy()
    return out


def save_artifact(model: Any, tokenizer: Any, out: Path, meta: dict[str, Any]) -> None:
    """fp16 safetensors (the loader casts to fp32) + tokenizer + config + dialogic.json."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    half = type(model)(model.config)
    half.load_state_dict(model.state_dict())
    half = half.half()
    half.config.torch_dtype = "float16"
    half.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def train(args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    build_dir = Path(args.build)
    train_rows = list(read_jsonl(build_dir / "train.jsonl"))
    dev_rows = list(read_jsonl(build_dir / "dev.jsonl"))
    if args.limit:
        train_rows = train_rows[: args.limit]
    built_version = json.loads((build_dir / "summary.json").read_text()).get("normalize_version")
    if built_version != NORMALIZE_VERSION:
        raise SystemExit(
            f"the build was normalised with v{built_version}, this code has "
            f"v{NORMALIZE_VERSION}: "
            "run `dialogic data build` again"
        )
    model, tokenizer = Classifier.fresh(args.seed)
    pad_id = tokenizer.pad_token_id
    train_ids = tokenize(tokenizer, [r["text"] for r in train_rows], args.max_length)
    dev_ids = tokenize(tokenizer, [r["text"] for r in dev_rows], args.max_length)
    y_train = torch.tensor([LABELS.index(r["label"]) for r in train_rows])
    w_train = torch.tensor([float(r.get("weight", 1.0)) for r in train_rows])
    y_dev = np.array([LABELS.index(r["label"]) for r in dev_rows])

    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(train_rows) / args.batch_size)
    plan = {"total": args.max_steps or int(args.epochs * steps_per_epoch)}
    warmup = max(1, int(args.warmup * plan["total"]))
    eval_every = max(1, min(steps_per_epoch // 2, args.eval_every or 10**9))

    if args.freeze_embeddings:
        for p in model.bert.embeddings.parameters():
            p.requires_grad = False
    no_decay = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")
    groups = [
        {
            "params": [
                p
                for n, p in model.named_parameters()
                if p.requires_grad and not any(k in n for k in no_decay)
            ],
            "weight_decay": args.weight_decay,
        },
        {
            "params": [
                p for n, p in model.named_parameters() if p.requires_grad and any(k in n for k in no_decay)
            ],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (plan["total"] - step) / max(1, plan["total"] - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    budget_s = args.max_minutes * 60
    reserve_s = 90.0  # final calibration, saving and the reload check
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"f1": -1.0, "state": None, "step": 0}
    bad_evals = 0
    step = 0
    seen = 0
    stop_reason = "schedule finished"
    t_train = time.time()
    bar = tqdm(total=plan["total"], desc="train", unit="step", dynamic_ncols=True, file=sys.stderr)
    epoch = 0
    done = False
    while not done:
        for batch in bucketed_batches([len(x) for x in train_ids], args.batch_size, rng):
            model.train()
            enc = collate([train_ids[i] for i in batch], pad_id)
            logits = model(**enc).logits
            loss_each = torch.nn.functional.cross_entropy(logits, y_train[batch], reduction="none")
            w = w_train[batch]
            loss = (loss_each * w).sum() / w.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(batch)
            bar.update(1)
            elapsed = time.time() - t_start
            if step == 30 or (step % 200 == 0):
                # Fit the schedule into the budget once the real step time is known (evals included).
                per_step = (time.time() - t_train) / step
                evals_left = max(0, (plan["total"] - step) // eval_every)
                eval_cost = (
                    history[-1]["eval_s"] if history else per_step * len(dev_ids) / args.batch_size / 3
                )
                affordable = step + int((budget_s - elapsed - reserve_s - evals_left * eval_cost) / per_step)
                # Shrink to the budget, or grow back towards the requested epochs when steps got faster
                # (the machine is shared: early step times can be pessimistic).
                wanted = args.max_steps or int(args.epochs * steps_per_epoch)
                new_total = max(step + 1, min(wanted, affordable))
                if new_total != plan["total"]:
                    plan["total"] = new_total
                    bar.total = plan["total"]
                    bar.refresh()
            bar.set_postfix(loss=f"{loss.item():.3f}", ex_s=f"{seen / (time.time() - t_train):.0f}")
            last = step >= plan["total"]
            if step % eval_every == 0 or last:
                t_eval = time.time()
                dev_logits = predict_logits(model, dev_ids, pad_id)
                f1 = macro_f1(y_dev, dev_logits.argmax(1))
                rec = {
                    "step": step,
                    "epoch": round(step / steps_per_epoch, 2),
                    "dev_macro_f1": round(f1, 4),
                    "dev_nll": round(nll(softmax(dev_logits), y_dev), 4),
                    "loss": round(loss.item(), 4),
                    "elapsed_s": round(time.time() - t_start, 1),
                    "eval_s": round(time.time() - t_eval, 1),
                }
                history.append(rec)
                tqdm.write(json.dumps(rec), file=sys.stderr)
                if f1 > best["f1"] + 1e-4:
                    best = {
                        "f1": f1,
                        "step": step,
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
                    }
                    bad_evals = 0
                else:
                    bad_evals += 1
                    if bad_evals >= args.patience:
                        stop_reason = f"early stop: no dev gain in {args.patience} evaluations"
                        done = True
            if last and not done:
                done = True
                if step < int(args.epochs * steps_per_epoch) and not args.max_steps:
                    stop_reason = "time budget"
            if done:
                break
        epoch += 1
    bar.close()
    train_s = time.time() - t_train
    model.load_state_dict(best["state"])
    model.eval()

    dev_logits = predict_logits(model, dev_ids, pad_id)
    temperature = fit_temperature(dev_logits, y_dev)
    dev_probs = softmax(dev_logits / temperature)
    out = Path(args.out)
    meta = {
        "name": ARTIFACT_NAME,
        "labels": list(LABELS),
        "temperature": temperature,
        "normalize_version": built_version,  # the version the training texts were normalised with
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "training": {
            "seed": args.seed,
            "epochs_planned": args.epochs,
            "steps": step,
            "best_step": best["step"],
            "epochs_run": round(step / steps_per_epoch, 2),
            "batch_size": args.batch_size,
            "lr": args.lr,
            "max_length": args.max_length,
            "warmup": args.warmup,
            "weight_decay": args.weight_decay,
            "patience": args.patience,
            "freeze_embeddings": args.freeze_embeddings,
            "stop_reason": stop_reason,
            "train_seconds": round(train_s),
            "examples_per_second": round(seen / train_s, 1),
            "threads": args.threads,
            "dev_macro_f1": round(best["f1"], 4),
            "dev_ece_calibrated": round(ece(dev_probs, y_dev), 4),
            "dev_ece_uncalibrated": round(ece(softmax(dev_logits), y_dev), 4),
        },
        "data": data_summary(build_dir, len(train_rows), len(dev_rows)),
        "metrics": {},
    }
    save_artifact(model, tokenizer, out, meta)
    check = check_roundtrip(out, dev_rows, dev_probs)
    meta["training"]["roundtrip"] = check
    (out / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    run_dir = RUNS_DIR / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "history.json").write_text(json.dumps({"history": history, "meta": meta}, indent=1))
    print(json.dumps({"artifact": str(out), "version": artifact_version(out), **meta["training"]}, indent=1))
    return meta


def data_summary(build_dir: Path, n_train: int, n_dev: int) -> dict[str, Any]:
    summary_path = build_dir / "summary.json"
    info: dict[str, Any] = {"train_rows": n_train, "dev_rows": n_dev}
    if summary_path.exists():
        s = json.loads(summary_path.read_text())
        info.update(
            {
                k: s[k]
                for k in ("built_at", "gold_labels", "read_labels", "weak_cap_per_source", "read_weight")
                if k in s
            }
        )
        info["counts"] = s.get("counts")
    return info


def check_roundtrip(out: Path, rows: list[dict[str, Any]], probs: np.ndarray) -> dict[str, Any]:
    """Reload through the serving path and compare with the in-memory fp32 model (fp16 tolerance)."""
    clf = Classifier.load(out)
    v1, v2 = clf.version, artifact_version(out)
    reloaded = clf.probabilities([r["text"] for r in rows])
    diff = float(np.abs(reloaded - probs).max()) if len(rows) else 0.0
    agree = float((reloaded.argmax(1) == probs.argmax(1)).mean()) if len(rows) else 1.0
    size_mb = (out / "model.safetensors").stat().st_size / 2**20
    result = {
        "max_abs_prob_diff": round(diff, 5),
        "label_agreement": agree,
        "version": v1,
        "version_stable": v1 == v2,
        "weights_mb": round(size_mb, 1),
    }
    if diff > 0.02 or agree < 0.99 or v1 != v2 or size_mb > 50:
        raise RuntimeError(f"artifact round trip failed: {result}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD_DIR, help="dialogic data build output")
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR, help="artifact directory")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    parser.add_argument("--max-length", type=int, default=MAX_TOKENS)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--patience", type=int, default=3, help="evaluations without dev gain")
    parser.add_argument("--max-minutes", type=float, default=45.0, help="wall-clock budget, all included")
    parser.add_argument("--max-steps", type=int, default=0, help="fixed number of steps (smoke runs)")
    parser.add_argument(
        "--eval-every", type=int, default=0, help="steps between dev evaluations (default: half an epoch)"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N train rows")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (1 can be faster on a "
        "machine shared with other jobs: fewer synchronisation stalls)",
    )
    parser.add_argument(
        "--freeze-embeddings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the (multilingual-vocabulary) embedding table fixed: faster steps",
    )


def run(args: argparse.Namespace) -> int:
    train(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dialogic train", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
