"""Hypothesis properties of normalisation, cache keys and batch ordering."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from model.runtime.classifier import Prediction, to_prediction
from model.runtime.normalize import normalize
from service.cache import MemoryCache, cache_key
from service.scoring import Scorer

pytestmark = pytest.mark.timeout(120)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"])
SPACE = st.sampled_from([" ", "  ", "\t", "\n", " \r\n "])
WORD = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8)


@FAST
@given(st.text(max_size=200))
@example("e\u0000\u0301")  # a control between a letter and its accent
@example("www.x ://y")  # a masked link that completes a new one
@example("@x\u0301")  # a handle followed by a combining accent
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@st.composite
def post_variants(draw: st.DrawFn) -> tuple[str, str]:
    """Two renderings of one post: different handles, links, whitespace and zero-width characters."""
    words = draw(st.lists(WORD, min_size=1, max_size=8))
    kinds = [draw(st.sampled_from(["word", "handle", "url"])) for _ in words]

    def render() -> str:
        parts = [draw(SPACE)]
        for word, kind in zip(words, kinds, strict=True):
            if kind == "handle":
                token = "@" + draw(st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True))
            elif kind == "url":
                token = draw(st.sampled_from(["https://", "http://", "www."])) + draw(
                    st.from_regex(r"[a-z0-9]{1,10}\.[a-z]{2,3}(/[A-Za-z0-9]{0,8})?", fullmatch=True)
                )
            else:
                token = draw(INVISIBLE).join(word) if draw(st.booleans()) else word
            parts += [token, draw(SPACE)]
        return "".join(parts)

    return render(), render()


@FAST
@given(post_variants())
def test_cache_key_ignores_handles_links_whitespace_and_invisibles(pair: tuple[str, str]) -> None:
    first, second = pair
    assert cache_key("p", "v1", normalize(first)) == cache_key("p", "v1", normalize(second))


async def _fake_predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
    return [to_prediction([0.25, 0.75]) if "b" in t else to_prediction([0.75, 0.25]) for t in texts]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["", "   ", "\u200b", "ab", "ba"])), max_size=40)
)
def test_batch_results_follow_input_order(texts: list[str]) -> None:
    """Scorer results line up with their inputs, whatever mix of duplicates and repeats."""

    async def run() -> list[str]:
        scorer = Scorer(MemoryCache(100, 60), _fake_predict, "v1", "p")
        await scorer.score(texts[: len(texts) // 2])  # warm part of the cache: hits and misses mix
        return [s.label for s in await scorer.score(texts)]

    expected = [p.label for p in asyncio.run(_fake_predict(texts))]
    assert asyncio.run(run()) == expected
