"""Serving int8 is model.runtime alone: a fresh process that builds the app, loads the int8 model in its
lifespan and answers a classify request never imports torch (nor transformers, which would import it)."""

from __future__ import annotations

import json
import subprocess
import sys

from model.runtime.classifier import ARTIFACT_DIR, Classifier

PROBE = """
import json, sys
from litestar.testing import TestClient
from service.app import create_app
from service.settings import Settings

with TestClient(create_app(Settings(model_backend="int8", model_cpus=1))) as client:
    answer = client.post("/v1/classify", json={"text": "@sam thanks, DM us your order number"})
heavy = sorted(name for name in ("torch", "transformers") if name in sys.modules)
print(json.dumps({"status": answer.status_code, "label": answer.json().get("label"), "heavy": heavy}))
"""


def test_serving_int8_imports_no_torch() -> None:
    Classifier.load(ARTIFACT_DIR, backend="int8", threads=1)  # the int8 file, built here if it is missing
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"status": 200, "label": "conversation", "heavy": []}
