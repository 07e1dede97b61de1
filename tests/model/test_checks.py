"""The behavioural suite's files and its tally (with stand-in predictors, no model)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from model import checks


@pytest.fixture(scope="module")
def suite() -> list[checks.Capability]:
    return checks.load_suite()


def test_every_capability_file_is_complete(suite: list[checks.Capability]) -> None:
    assert len(suite) >= 15
    for cap in suite:
        assert not checks.problems(cap), (cap.name, checks.problems(cap))
    names = [cap.name for cap in suite]
    assert len(names) == len(set(names))
    assert {cap.label for cap in suite} == set(checks.LABELS)


def test_spanish_and_russian_cover_care_announcements_and_promotions(suite: list[checks.Capability]) -> None:
    langs = {cap.name: set(cap.languages) for cap in suite}
    for name in ("care_reply", "announcement", "promotion", "mention_first_announcement"):
        assert {"es", "ru"} <= langs[name], name


def test_no_case_appears_in_two_capabilities(suite: list[checks.Capability]) -> None:
    seen = Counter(c["text"] for cap in suite for c in cap.cases)
    assert [t for t, n in seen.items() if n > 1] == []


def test_invariance_tests_exist_for_every_listed_change(suite: list[checks.Capability]) -> None:
    for cap in suite:
        applied = {t.perturbation for t in cap.tests() if t.kind == "inv"}
        assert applied == set(cap.invariances), cap.name


def test_a_predictor_that_reads_the_form_fails_the_suite(suite: list[checks.Capability]) -> None:
    """The shortcut the suite exists to catch: 'a leading handle means conversation'."""
    from model.perturb import starts_with_handle

    report = checks.run(
        suite, lambda texts: ["conversation" if starts_with_handle(t) else "broadcast" for t in texts]
    )
    assert report.overall.rate < checks.MIN_OVERALL
    for name in ("mention_first_announcement", "pitch_reply", "care_reply", "comment_to_author"):
        assert name in report.below, name


def test_tally_counts_each_test_type_and_language() -> None:
    cap = checks.Capability(
        name="demo",
        label="conversation",
        guide="",
        description="",
        invariances=("strip_handle",),
        languages=("en",),
        cases=(
            {"text": "@user thanks, that fixed it!", "lang": "en"},
            {"text": "Gracias por avisarnos", "lang": "es"},
        ),
        flips=({"text": "@user thank you!", "flipped": "Thank you all!", "lang": "en"},),
    )
    everything_conversation = checks.run([cap], lambda texts: ["conversation"] * len(texts))
    tallies = everything_conversation.capabilities["demo"]
    assert (tallies["mft"].passed, tallies["mft"].total) == (2, 2)
    assert (tallies["inv"].passed, tallies["inv"].total) == (1, 1)  # only the first case has a handle
    assert (tallies["dir"].passed, tallies["dir"].total) == (0, 1)  # the flip must be broadcast
    assert everything_conversation.languages["es"].total == 1
    assert everything_conversation.below == ["demo", "overall"]
    assert everything_conversation.failures[0]["kind"] == "dir"


def test_a_shortfall_floor_lets_its_rate_through_but_nothing_under(monkeypatch: pytest.MonkeyPatch) -> None:
    cap = checks.Capability(
        name="demo",
        label="conversation",
        guide="",
        description="",
        invariances=(),
        languages=("en",),
        cases=tuple({"text": f"@user thanks {i}!", "lang": "en"} for i in range(4)),
        flips=(),
    )
    three_of_four = checks.run([cap], lambda texts: ["broadcast"] + ["conversation"] * (len(texts) - 1))
    assert three_of_four.under_floor() == {"demo": 0.75, "overall": 0.75}
    monkeypatch.setattr(checks, "SHORTFALLS", {"demo": 0.73, "overall": 0.73})
    assert three_of_four.under_floor() == {}
    monkeypatch.setattr(checks, "SHORTFALLS", {"demo": 0.8})
    assert three_of_four.under_floor() == {"demo": 0.75, "overall": 0.75}


def test_validator_reports_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text('name = "tiny"\nlabel = "broadcast"\ninvariances = ["nope"]\n[[case]]\ntext = "Sale!"\n')
    found = checks.problems(checks.load(path))
    assert any("unknown invariances" in p for p in found)
    assert any("cases, at least" in p for p in found)
    assert any("flips, at least" in p for p in found)
