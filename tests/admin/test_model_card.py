"""The dashboard's model panel reads whatever an artifact's `metrics` hold: the shipped model's, the next
model's (with `organisations_gold` and `behaviour`), or none, rendered by the dashboard's own template."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from model.runtime.classifier import ARTIFACT_DIR, META_FILE
from service.api.admin import dashboard_data, model_card
from service.api.view_helpers import TEMPLATE_HELPERS
from service.runtime import Runtime
from service.settings import Settings

TEMPLATES = Path(__file__).resolve().parents[2] / "service" / "templates"
SHIPPED: dict[str, Any] = json.loads((ARTIFACT_DIR / META_FILE).read_text()).get("metrics", {})
NEXT = copy.deepcopy(SHIPPED) | {
    "organisations_gold": {"n": 212, "accuracy": 0.9481, "macro_f1": 0.9302, "ece": 0.0291, "brier": 0.04},
    "behaviour": {
        "overall": 0.9412,
        "tests": 510,
        "thresholds": {"capability": 0.9, "overall": 0.93},
        "capabilities": {
            "replies_to_a_person": {"label": "conversation", "all": [98, 100], "rate": 0.98},
            "promotion_with_a_mention": {"label": "broadcast", "all": [43, 50], "rate": 0.86},
            "auto_dm": {"label": "broadcast", "all": [0, 10], "rate": 0.0},
        },
        "below": ["promotion_with_a_mention", "auto_dm"],
    },
}


def panel(metrics: dict[str, Any]) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    environment.globals.update(TEMPLATE_HELPERS)
    runtime = Runtime(Settings(), phase="ready")
    runtime.classifier = SimpleNamespace(  # type: ignore[assignment]
        name="dialogic-minilm", version="0123456789ab", backend="int8", metrics=metrics
    )
    jobs = {"state": "up", "queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    data = dashboard_data(runtime, jobs | {"chunks_per_minute": [0] * 10, "workers": []})
    return environment.get_template("admin_panel.html").render(d=data)


def rows(html: str) -> list[str]:
    table = html.split('data-metric="model-metrics"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in table.split("<tr>")[2:]]


def test_the_shipped_metrics_are_a_small_table() -> None:
    html = panel(SHIPPED)
    gold, test = SHIPPED["gold"], SHIPPED["test"]
    assert rows(html)[:2] == [  # and organisations, once an artifact has them
        f"Gold, read labels {gold['n']} {gold['macro_f1']:.3f} {gold['accuracy']:.3f} {gold['ece']:.3f}",
        f"Test split {test['n']} {test['macro_f1']:.3f} {test['accuracy']:.3f} {test['ece']:.3f}",
    ]
    evaluated = datetime.fromisoformat(SHIPPED["evaluated_at"].replace("Z", "+00:00"))
    assert f"{evaluated:%Y-%m-%d %H:%M} UTC" in html and "per_class" not in html


def test_the_next_models_organisations_and_behaviour_are_shown() -> None:
    html = panel(NEXT)
    assert rows(html)[2] == "Gold, organisations 212 0.930 0.948 0.029"
    assert "Behavioural suite: <strong>94.1 %</strong> of 510 tests pass (each capability ≥ 90.0 %)" in html
    capabilities = re.findall(r'<li class="([^"]*)"><span>(\w+)</span> <span>([^<]+)</span>', html)
    assert capabilities == [  # weakest first; those under the threshold marked
        ("bad-text", "auto_dm", "0.0 %"),
        ("bad-text", "promotion_with_a_mention", "86.0 %"),
        ("", "replies_to_a_person", "98.0 %"),
    ]


@pytest.mark.parametrize(
    "metrics",
    [
        {},
        {"gold": "not a table"},
        {"organisations_gold": None, "behaviour": {"overall": "n/a"}},
        {"test": {}},
    ],
)
def test_missing_or_odd_metrics_never_break_the_panel(metrics: dict[str, Any]) -> None:
    card = model_card(metrics)
    assert card["behaviour"] is None and card["baseline_f1"] is None
    html = panel(metrics)
    assert 'data-metric="model-line"' in html
    assert ("No evaluation metrics" in html) == (not card["rows"])
