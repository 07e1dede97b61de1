"""Weight averaging: an artifact whose weights are (1 - w) x a previous model + w x a further round.

A further round from the shipped weights gains on what it was trained on and loses calibration off that
distribution; a point on the line between the two models keeps part of the gain and most of the
calibration (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022: WiSE-FT). Both
artifacts must share the architecture, labels and normalisation. The result takes the further round's
metadata, with `averaged` naming both parents and w; run `python -m model.calibrate` on it next, since
its temperature is the round's. CLI: `python -m model.average PREVIOUS ROUND --weight W --out DIR`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from model.runtime.classifier import META_FILE, WEIGHTS_FILE, artifact_version

SHARED_META = ("name", "labels", "normalize_version", "base_model")


def average(previous: Path, round_: Path, weight: float, out: Path) -> dict[str, object]:
    """Write the averaged artifact to `out` (replaced) and return its metadata."""
    from safetensors.torch import load_file, save_file

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be within [0, 1], not {weight}")
    metas = [json.loads((d / META_FILE).read_text()) for d in (previous, round_)]
    differ = [k for k in SHARED_META if metas[0].get(k) != metas[1].get(k)]
    if differ:
        raise ValueError(f"the artifacts differ in {', '.join(differ)}: their weights cannot be averaged")
    a, b = load_file(previous / WEIGHTS_FILE), load_file(round_ / WEIGHTS_FILE)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError("the artifacts' tensors differ in names or shapes")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(round_, out, ignore=shutil.ignore_patterns("onnx"))
    mixed = {k: ((1 - weight) * a[k].float() + weight * b[k].float()).to(a[k].dtype).contiguous() for k in a}
    save_file(mixed, out / WEIGHTS_FILE, metadata={"format": "pt"})
    meta = metas[1] | {
        "averaged": {
            "previous": artifact_version(previous),
            "round": artifact_version(round_),
            "round_trained_at": metas[1].get("trained_at"),
            "weight_of_round": weight,
        }
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return meta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("previous", type=Path, help="the artifact the round started from")
    parser.add_argument("round", type=Path, help="the further round (dialogic train --init-from)")
    parser.add_argument("--weight", type=float, required=True, help="w, the round's share of the weights")
    parser.add_argument("--out", type=Path, required=True, help="artifact directory to write")


def run(args: argparse.Namespace) -> int:
    meta = average(args.previous, args.round, args.weight, args.out)
    print(f"wrote {args.out}: {json.dumps(meta['averaged'])}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m model.average", description=__doc__)
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
