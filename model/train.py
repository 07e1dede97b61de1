"""`dialogic train`: fine-tune all-MiniLM-L6-v2 (+ a new head) on the build's train split.

Seeded (torch, numpy, random), AdamW with linear warm-up and decay, weighted cross-entropy (read labels
weigh more), length-bucketed batches, dev macro-F1 every half epoch, early stopping with patience, best
checkpoint kept. A wall-clock budget (`--max-minutes`) shrinks the schedule to fit once the step time is
measured. Then a temperature is fitted on dev (model.calibrate) and the artifact is written as fp16
safetensors + tokenizer + config + dialogic.json, reloaded with `Classifier.load` and checked to give the
same predictions.

With `--act-weight`, a second head learns the annotated act (LABELING.md's acts: care reply, headline,
mention-first announcement...) from the same [CLS] vector, so that the encoder is taught what a post
does, of which the label is one consequence, and not only the label that a post's form predicts. The act
head is dropped after training: the artifact and the service are unchanged.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from tqdm import tqdm

from model.calibrate import CALIBRATION_SPLITS, fit_temperature
from model.data import DEFAULT_BUILD_DIR, read_jsonl, utc_stamp
from model.metrics import ece, macro_f1, nll
from model.runtime.classifier import (
    ARTIFACT_DIR,
    LABELS,
    MAX_TOKENS,
    META_FILE,
    WEIGHTS_FILE,
    Classifier,
    artifact_version,
    pad,
    softmax,
)
from model.runtime.normalize import NORMALIZE_VERSION

ARTIFACT_NAME = "dialogic-minilm"
NO_ACT = -100  # cross_entropy's ignore_index: rows without an act add nothing to the act loss
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


@dataclass
class Encoded:
    """One split as the model reads it: token ids, label indices, loss weights, and act indices into
    `acts` (NO_ACT where the row has none)."""

    ids: list[list[int]]
    y: np.ndarray
    weights: np.ndarray
    act: np.ndarray
    acts: tuple[str, ...]

    @classmethod
    def of(cls, tokenizer: Any, rows: list[dict[str, Any]], max_length: int) -> Encoded:
        acts = tuple(sorted({r["act"] for r in rows if r.get("act")}))
        return cls(
            tokenize(tokenizer, [r["text"] for r in rows], max_length),
            np.array([LABELS.index(r["label"]) for r in rows], dtype=np.int64),
            np.array([float(r.get("weight", 1.0)) for r in rows], dtype=np.float32),
            np.array([acts.index(r["act"]) if r.get("act") else NO_ACT for r in rows], dtype=np.int64),
            acts,
        )


def load_build(build_dir: Path, limit: int = 0) -> dict[str, list[dict[str, Any]]]:
    """train, dev and dev's counterfactual copies (dev posts in another form, same label)."""
    built_version = json.loads((build_dir / "summary.json").read_text()).get("normalize_version")
    if built_version != NORMALIZE_VERSION:
        raise SystemExit(
            f"the build was normalised with v{built_version}, this code has v{NORMALIZE_VERSION}: "
            "run `dialogic data build` again"
        )
    rows = {name: list(read_jsonl(build_dir / f"{name}.jsonl")) for name in ("train", "dev")}
    cf_path = build_dir / "dev_counterfactual.jsonl"
    rows["dev_counterfactual"] = list(read_jsonl(cf_path)) if cf_path.exists() else []
    if limit:
        rows["train"] = rows["train"][:limit]
    return rows


def optimizer_for(model: Any, args: argparse.Namespace) -> torch.optim.Optimizer:
    """AdamW without weight decay on biases and norms; the embedding table frozen if asked."""
    if args.freeze_embeddings:
        for p in model.bert.embeddings.parameters():
            p.requires_grad = False
    no_decay = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for n, p in params if not any(k in n for k in no_decay)],
            "weight_decay": args.weight_decay,
        },
        {"params": [p for n, p in params if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=args.lr)


class Plan:
    """How many steps to run: the requested epochs, shrunk to the wall-clock budget once the step time is
    known (and grown back when steps get faster: early step times on a shared machine are pessimistic)."""

    def __init__(self, args: argparse.Namespace, steps_per_epoch: int) -> None:
        self.wanted = args.max_steps or int(args.epochs * steps_per_epoch)
        self.total = self.wanted
        self.warmup = max(1, int(args.warmup * self.total))
        self.eval_every = max(1, min(steps_per_epoch // 2, args.eval_every or 10**9))
        self.budget_s = args.max_minutes * 60
        self.reserve_s = 90.0  # final calibration, saving and the reload check

    def lr_factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))

    def refit(self, step: int, elapsed_s: float, train_s: float, eval_s: float) -> None:
        per_step = train_s / step
        evals_left = max(0, (self.total - step) // self.eval_every)
        affordable = step + int((self.budget_s - elapsed_s - self.reserve_s - evals_left * eval_s) / per_step)
        self.total = max(step + 1, min(self.wanted, affordable))


def dev_score(model: Any, dev: Encoded, dev_cf: Encoded | None, pad_id: int) -> tuple[float, dict[str, Any]]:
    """Model selection: dev macro-F1, averaged with the macro-F1 on dev's counterfactual copies when the
    build has them, so a checkpoint that reads the form instead of the act is not the one kept."""
    logits = predict_logits(model, dev.ids, pad_id)
    f1 = macro_f1(dev.y, logits.argmax(1))
    rec: dict[str, Any] = {"dev_macro_f1": round(f1, 4), "dev_nll": round(nll(softmax(logits), dev.y), 4)}
    if dev_cf is None:
        return f1, rec
    cf_f1 = macro_f1(dev_cf.y, predict_logits(model, dev_cf.ids, pad_id).argmax(1))
    rec["dev_counterfactual_macro_f1"] = round(cf_f1, 4)
    return (f1 + cf_f1) / 2, rec


class TrainingRun:
    """One training loop's state, a step at a time: weighted cross-entropy on a batch, the schedule refitted
    to the time budget, an evaluation every `plan.eval_every` steps, early stopping with patience and the
    best checkpoint kept. `stop_reason` is set once the loop should end."""

    def __init__(
        self,
        model: Any,
        data: dict[str, Encoded | None],
        pad_id: int,
        args: argparse.Namespace,
        t_start: float,
    ) -> None:
        train_set, dev = data["train"], data["dev"]
        assert train_set is not None and dev is not None
        self.model, self.train_set, self.dev, self.dev_cf = model, train_set, dev, data["dev_counterfactual"]
        self.pad_id, self.args, self.t_start = pad_id, args, t_start
        self.steps_per_epoch = math.ceil(len(train_set.ids) / args.batch_size)
        self.plan = Plan(args, self.steps_per_epoch)
        # The act head (see the module docstring) trains beside the label head and is never saved.
        self.act_head = torch.nn.Linear(model.config.hidden_size, len(train_set.acts))
        self.optimizer = optimizer_for(model, args)
        if args.act_weight:
            self.optimizer.add_param_group({"params": list(self.act_head.parameters()), "weight_decay": 0.0})
        self.act = torch.from_numpy(train_set.act)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.plan.lr_factor)
        self.y, self.w = torch.from_numpy(train_set.y), torch.from_numpy(train_set.weights)
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"score": -1.0, "state": None, "step": 0}
        self.bad_evals = self.step = self.seen = 0
        self.stop_reason: str | None = None
        self.t_train = time.time()
        self.bar = tqdm(total=self.plan.total, desc="train", unit="step", dynamic_ncols=True, file=sys.stderr)

    def step_on(self, batch: list[int]) -> None:
        loss = self.optimise(batch)
        self.step += 1
        self.seen += len(batch)
        self.bar.update(1)
        if self.step == 30 or self.step % 200 == 0:
            eval_s = self.history[-1]["eval_s"] if self.history else 0.0
            self.plan.refit(self.step, time.time() - self.t_start, time.time() - self.t_train, eval_s)
            self.bar.total = self.plan.total
            self.bar.refresh()
        self.bar.set_postfix(loss=f"{loss:.3f}", ex_s=f"{self.seen / (time.time() - self.t_train):.0f}")
        if (self.step % self.plan.eval_every == 0 or self.step >= self.plan.total) and self.evaluate(loss):
            self.stop_reason = f"early stop: no dev gain in {self.args.patience} evaluations"
        elif self.step >= self.plan.total:
            cut_short = self.step < int(self.args.epochs * self.steps_per_epoch) and not self.args.max_steps
            self.stop_reason = "time budget" if cut_short else "schedule finished"

    def optimise(self, batch: list[int]) -> float:
        """One optimiser step on `batch`; its loss."""
        self.model.train()
        inputs = collate([self.train_set.ids[i] for i in batch], self.pad_id)
        # BertForSequenceClassification's own forward, spelled out so that the act head shares its vector.
        pooled = self.model.dropout(self.model.bert(**inputs).pooler_output)
        loss_each = torch.nn.functional.cross_entropy(
            self.model.classifier(pooled),
            self.y[batch],
            reduction="none",
            label_smoothing=self.args.label_smoothing,
        )
        loss = (loss_each * self.w[batch]).sum() / self.w[batch].sum()
        if self.args.act_weight and (self.act[batch] != NO_ACT).any():
            act_loss = torch.nn.functional.cross_entropy(
                self.act_head(pooled), self.act[batch], ignore_index=NO_ACT
            )
            loss = loss + self.args.act_weight * act_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*self.model.parameters(), *self.act_head.parameters()], 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.item())

    def evaluate(self, loss: float) -> bool:
        """Score dev, keep the checkpoint if it is the best so far; True once patience has run out."""
        t_eval = time.time()
        score, rec = dev_score(self.model, self.dev, self.dev_cf, self.pad_id)
        rec = {
            "step": self.step,
            "epoch": round(self.step / self.steps_per_epoch, 2),
            **rec,
            "score": round(score, 4),
            "loss": round(loss, 4),
            "elapsed_s": round(time.time() - self.t_start, 1),
            "eval_s": round(time.time() - t_eval, 1),
        }
        self.history.append(rec)
        tqdm.write(json.dumps(rec), file=sys.stderr)
        if score > self.best["score"] + 1e-4:
            state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.best = {"score": score, "f1": rec["dev_macro_f1"], "step": self.step, "state": state}
            self.bad_evals = 0
            return False
        self.bad_evals += 1
        return self.bad_evals >= self.args.patience

    def finish(self) -> dict[str, Any]:
        """The best checkpoint loaded back into the model, and what the run did."""
        self.bar.close()
        train_s = time.time() - self.t_train
        self.model.load_state_dict(self.best["state"])
        self.model.eval()
        return {
            "history": self.history,
            "best": self.best,
            "steps": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "stop_reason": self.stop_reason,
            "train_s": train_s,
            "seen": self.seen,
        }


def fit(
    model: Any, data: dict[str, Encoded | None], pad_id: int, args: argparse.Namespace, t_start: float
) -> dict[str, Any]:
    """The training loop: epochs of length-bucketed batches until the run says stop."""
    run = TrainingRun(model, data, pad_id, args, t_start)
    rng = random.Random(args.seed)
    while run.stop_reason is None:
        for batch in bucketed_batches([len(x) for x in run.train_set.ids], args.batch_size, rng):
            run.step_on(batch)
            if run.stop_reason is not None:
                break
    return run.finish()


@dataclass
class Calibration:
    """The temperature fitted on dev and its counterfactual copies, and dev's scores with and without it."""

    temperature: float
    rows: int
    dev_probs: np.ndarray
    dev_ece: float
    dev_ece_uncalibrated: float


def calibrate(
    model: Any,
    tokenizer: Any,
    rows: dict[str, list[dict[str, Any]]],
    dev: Encoded,
    pad_id: int,
    max_length: int,
) -> Calibration:
    """Calibrate on dev and its counterfactual copies: the scores must hold for posts in any form."""
    calib_rows = [r for split in CALIBRATION_SPLITS for r in rows[split]]
    calib = Encoded.of(tokenizer, calib_rows, max_length)
    temperature = fit_temperature(predict_logits(model, calib.ids, pad_id), calib.y)
    dev_logits = predict_logits(model, dev.ids, pad_id)
    dev_probs = softmax(dev_logits / temperature)
    return Calibration(
        temperature,
        len(calib_rows),
        dev_probs,
        round(ece(dev_probs, dev.y), 4),
        round(ece(softmax(dev_logits), dev.y), 4),
    )


def artifact_meta(
    args: argparse.Namespace, run: dict[str, Any], calibration: Calibration, data: dict[str, Any]
) -> dict[str, Any]:
    """dialogic.json: what the artifact is, how it was trained and on what (metrics come from evaluate)."""
    return {
        "name": ARTIFACT_NAME,
        "labels": list(LABELS),
        "temperature": calibration.temperature,
        "normalize_version": NORMALIZE_VERSION,  # the version the training texts were normalised with
        "trained_at": utc_stamp(),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "init_from": artifact_version(args.init_from) if args.init_from else None,
        "training": {
            "seed": args.seed,
            "epochs_planned": args.epochs,
            "steps": run["steps"],
            "best_step": run["best"]["step"],
            "epochs_run": round(run["steps"] / run["steps_per_epoch"], 2),
            "batch_size": args.batch_size,
            "lr": args.lr,
            "max_length": args.max_length,
            "warmup": args.warmup,
            "weight_decay": args.weight_decay,
            "label_smoothing": args.label_smoothing,
            "act_weight": args.act_weight,
            "patience": args.patience,
            "freeze_embeddings": args.freeze_embeddings,
            "stop_reason": run["stop_reason"],
            "train_seconds": round(run["train_s"]),
            "examples_per_second": round(run["seen"] / run["train_s"], 1),
            "threads": args.threads,
            "dev_macro_f1": run["best"]["f1"],
            "selection_score": round(run["best"]["score"], 4),
            "calibration_rows": calibration.rows,
            "dev_ece_calibrated": calibration.dev_ece,
            "dev_ece_uncalibrated": calibration.dev_ece_uncalibrated,
        },
        "data": data,
        "metrics": {},
    }


def train(args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    build_dir = Path(args.build)
    rows = load_build(build_dir, args.limit)
    model, tokenizer = Classifier.fresh(args.seed, args.init_from)
    pad_id = tokenizer.pad_token_id
    data = {name: Encoded.of(tokenizer, r, args.max_length) if r else None for name, r in rows.items()}
    run = fit(model, data, pad_id, args, t_start)
    dev = data["dev"]
    assert dev is not None
    calibration = calibrate(model, tokenizer, rows, dev, pad_id, args.max_length)
    out = Path(args.out)
    meta = artifact_meta(
        args, run, calibration, data_summary(build_dir, len(rows["train"]), len(rows["dev"]))
    )
    save_artifact(model, tokenizer, out, meta)
    meta["training"]["roundtrip"] = check_roundtrip(out, rows["dev"], calibration.dev_probs)
    (out / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    run_dir = RUNS_DIR / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "history.json").write_text(json.dumps({"history": run["history"], "meta": meta}, indent=1))
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
    size_mb = (out / WEIGHTS_FILE).stat().st_size / 2**20
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
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from this trained artifact instead of the base encoder (a further round of training)",
    )
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument(
        "--label-smoothing",
        type=float,
        default=0.0,
        help="share of each target spread over both labels: a brake on the overconfidence of further rounds",
    )
    parser.add_argument(
        "--act-weight",
        type=float,
        default=0.0,
        help="weight of the auxiliary loss on the annotated act (0: no act head)",
    )
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
