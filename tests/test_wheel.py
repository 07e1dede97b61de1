"""The wheel (what the Dockerfile installs) carries what serving needs, model.runtime, the int8 export
a first start may run and the artifact, and none of the pipeline's label files, cases or templates,
which stay in the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_the_wheel_ships_the_runtime_and_the_artifact_only(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a clean copy, as the image's build context is: no egg-info, no build/
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    skip = shutil.ignore_patterns("__pycache__", "onnx", "build", "runs")
    for name in ("service", "model"):
        shutil.copytree(ROOT / name, source / name, ignore=skip)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("dialogic-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    model = {name for name in names if name.startswith("model/")}
    for shipped in (
        "model/runtime/classifier.py",
        "model/runtime/normalize.py",
        "model/runtime/onnx_int8.py",
        "model/onnx_export.py",
        "model/artifacts/dialogic-minilm/model.safetensors",
        "model/artifacts/dialogic-minilm/tokenizer.json",
        "model/artifacts/dialogic-minilm/dialogic.json",
        "service/cli.py",
    ):
        assert shipped in names, shipped
    left_in_the_repository = sorted(
        name
        for name in model
        if name.startswith(("model/data/", "model/checks/", "model/templates/"))
        or name.endswith((".jsonl", ".toml", ".md", ".j2"))
    )
    assert left_in_the_repository == []
