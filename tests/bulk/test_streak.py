"""The bulk summary's streak aggregation, without Ray: however Ray cuts an author's posts into blocks
and in whatever order it merges the partial results, the streak is the jobs' own (the oracle of
tests/jobs/test_rows.py: time order, ties and untimed authors in input order)."""

from __future__ import annotations

import math
import random

import pyarrow as pa
import pytest

from service.bulk.summary import POST_FIELDS, BroadcastStreak, Timeline
from service.jobs.summary import Post
from tests.jobs.test_rows import random_posts, reference_summary


def block_of(posts: list[Post]) -> pa.Table:
    """The rows the aggregation receives: one `post` struct column of place, ts (NaN: none), label."""
    columns = {
        "place": [p.line for p in posts],
        "ts": [math.nan if p.ts is None else p.ts for p in posts],
        "label": [p.label for p in posts],
    }
    return pa.table(
        {"post": pa.StructArray.from_arrays([pa.array(columns[f]) for f in POST_FIELDS], POST_FIELDS)}
    )


@pytest.mark.parametrize("seed", range(100))
def test_the_streak_is_the_jobs_streak_whatever_the_blocks_and_merge_order(seed: int) -> None:
    rng = random.Random(seed)
    posts = random_posts(rng, rng.randrange(1, 60))
    expected = {a.author: a.longest_broadcast_streak for a in reference_summary(posts).authors}
    streak = BroadcastStreak()
    for author, want in expected.items():
        own = [p for p in posts if p.author == author]
        rng.shuffle(own)  # blocks arrive in any order, their rows in any order
        cuts = sorted(rng.sample(range(1, len(own)), min(len(own) - 1, rng.randrange(4))))
        partials: list[Timeline] = [
            streak.aggregate_block(block_of(own[a:b]))
            for a, b in zip([0, *cuts], [*cuts, len(own)], strict=True)
        ]
        while len(partials) > 1:  # merged pairwise in a random order, as Ray's reducers may
            i = rng.randrange(len(partials) - 1)
            partials[i : i + 2] = [streak.combine(partials[i], partials[i + 1])]
        assert streak.finalize(partials[0]) == want, author
