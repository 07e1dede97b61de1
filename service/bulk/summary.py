"""The jobs' summary of bulk results, computed with Ray Data's aggregations across the cluster.

Label counts, and per author: posts, conversation ratio and the longest broadcast streak, as
service/jobs/summary.py defines them (time order by `created_at`, ties and authors with an untimed
post in input order; ranked most broadcast-heavy first). Posts and conversations are Ray's Count and
Sum. The streak is an aggregation of its own, `BroadcastStreak`: Ray merges partial results in no
set order, so it collects each post's place, time and label and hands them, ordered, to the jobs' own
`summarize` when it finalises. Its memory for an author grows with that author's posts (about 25
bytes a post), like Ray's Quantile. Input order across files is the order of their paths.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray.data
from ray.data.aggregate import AggregateFnV2, Count, Sum
from ray.data.block import Block, BlockAccessor
from ray.data.expressions import col

from service.jobs.summary import BROADCAST, CONVERSATION, Post, summarize

LINE_BITS = 40  # a post's place in the input: file rank << LINE_BITS | line
AUTHORS = pa.schema(
    [
        ("author", pa.string()),
        ("posts", pa.int64()),
        ("conversation_ratio", pa.float64()),
        ("longest_broadcast_streak", pa.int64()),
    ]
)
RANKING = (["conversation_ratio", "posts", "author"], [False, True, False])  # AuthorSummary's order
ONE_AUTHOR = "author"  # the name under which one author's posts are summarised: any will do
POST_FIELDS = ("place", "ts", "label")  # what the streak needs of a post; ts NaN: untimed
Timeline = dict[str, list[Any]]  # POST_FIELDS, one entry a post


def label_counts(results: ray.data.Dataset) -> dict[str, int]:
    """Posts per label: one global aggregation, no shuffle."""
    conversation = results.with_column("conversation", col("label") == CONVERSATION)
    totals = conversation.aggregate(
        Count(alias_name="posts"), Sum("conversation", alias_name="conversations")
    )
    posts, conversations = totals["posts"], totals["conversations"] or 0
    return {BROADCAST: posts - conversations, CONVERSATION: conversations}


def author_summaries(results: ray.data.Dataset, files: list[str], partitions: int) -> ray.data.Dataset:
    """AUTHORS rows, most broadcast-heavy first, in one block, of the RESULTS rows of posts read from
    `files`."""
    rank = {path: i for i, path in enumerate(sorted(files))}

    def timeline(batch: pa.Table) -> pa.Table:
        places = [
            rank[f] << LINE_BITS | n
            for f, n in zip(batch["file"].to_pylist(), batch["line"].to_pylist(), strict=True)
        ]
        label = batch["label"].combine_chunks()
        seconds = pc.divide(pc.cast(batch["created_at"].combine_chunks(), pa.int64()), 1e6)
        post = pa.StructArray.from_arrays(
            [pa.array(places, pa.int64()), pc.fill_null(seconds, math.nan), label], names=list(POST_FIELDS)
        )
        conversation = pc.cast(pc.equal(label, CONVERSATION), pa.int64())
        return pa.table({"author": batch["author"], "conversation": conversation, "post": post})

    return (
        results.filter(expr=col("author").is_not_null())
        .map_batches(timeline, batch_format="pyarrow")
        .groupby("author", num_partitions=partitions)
        .aggregate(
            Count(alias_name="posts"), Sum("conversation", alias_name="conversations"), BroadcastStreak()
        )
        .map_batches(_ratio, batch_format="pyarrow")
        .repartition(1)  # ranked in one block: Ray keeps no order between a sort's blocks downstream
        .sort(*RANKING)
    )


def _ratio(batch: pa.Table) -> pa.Table:
    """The jobs' conversation ratio (Python's rounding to 4 places, not Arrow's)."""
    posts, conversations = batch["posts"].to_pylist(), batch["conversations"].to_pylist()
    ratios = [round(c / p, 4) for c, p in zip(conversations, posts, strict=True)]
    columns = {name: batch[name] for name in ("author", "posts", "longest_broadcast_streak")}
    columns["conversation_ratio"] = pa.array(ratios, pa.float64())
    return pa.table({name: columns[name] for name in AUTHORS.names}, schema=AUTHORS)


class BroadcastStreak(AggregateFnV2[Timeline, int]):
    """An author's longest run of consecutive broadcast posts, by the jobs' definition."""

    def __init__(self) -> None:
        super().__init__("longest_broadcast_streak", zero_factory=_no_posts, on="post", ignore_nulls=True)

    def aggregate_block(self, block: Block) -> Timeline:
        posts = BlockAccessor.for_block(block).to_arrow()["post"].combine_chunks()
        return {name: posts.field(name).to_pylist() for name in POST_FIELDS}

    def combine(self, current_accumulator: Timeline, new: Timeline) -> Timeline:
        return {name: current_accumulator[name] + new[name] for name in current_accumulator}

    def finalize(self, accumulator: Timeline) -> int:  # type: ignore[override]  # an attribute in AggregateFn
        entries = sorted(zip(*(accumulator[name] for name in POST_FIELDS), strict=True))  # input order
        posts = [
            Post(place, ONE_AUTHOR, None if math.isnan(ts) else ts, label) for place, ts, label in entries
        ]
        [author] = summarize(posts).authors
        return author.longest_broadcast_streak


def _no_posts() -> Timeline:
    return {name: [] for name in POST_FIELDS}
