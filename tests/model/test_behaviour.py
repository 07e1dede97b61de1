"""The shipped model against the behavioural suite, as served (int8): the gate on labelling by the act.

The thresholds (`model.checks.MIN_RATE` per capability, `MIN_OVERALL` overall) were fixed before the
suite first met a model. Where the shipped model misses one, `model.checks.SHORTFALLS` holds it to the
rate it reached, so a later model can close a shortfall but never widen it; the card shows both."""

from __future__ import annotations

import json

import pytest

from model import checks
from model.runtime.classifier import ARTIFACT_DIR, Classifier


@pytest.fixture(scope="module")
def report() -> checks.SuiteReport:
    clf = Classifier.load(ARTIFACT_DIR, backend="int8", threads=1)
    return checks.run(checks.load_suite(), lambda texts: [p.label for p in clf.predict(texts)])


def test_no_capability_and_not_the_whole_suite_falls_under_its_threshold_or_floor(
    report: checks.SuiteReport,
) -> None:
    assert not report.under_floor(), report.under_floor()


def test_a_shortfall_floor_is_under_its_threshold_and_names_a_capability() -> None:
    names = {cap.name for cap in checks.load_suite()} | {"overall"}
    assert set(checks.SHORTFALLS) <= names
    for name, floor in checks.SHORTFALLS.items():
        assert floor < (checks.MIN_OVERALL if name == "overall" else checks.MIN_RATE), name


def test_the_model_card_reports_this_suite_and_its_shortfalls() -> None:
    stored = json.loads((ARTIFACT_DIR / "dialogic.json").read_text())["metrics"]["behaviour"]
    assert set(stored["capabilities"]) == {cap.name for cap in checks.load_suite()}
    assert stored["shortfall_floors"] == checks.SHORTFALLS
