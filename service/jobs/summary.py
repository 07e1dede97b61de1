"""A finished job's summary: label counts, and per author how much of their output is broadcast.

Authors are ranked most broadcast-heavy first (lowest conversation ratio, then most posts), the
order in which someone reviewing accounts wants to read them. A streak is the longest run of
consecutive broadcast posts in time order (`created_at`), or input order where an author's posts do
not all carry a timestamp.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from msgspec import Struct

from model.classifier import LABELS

BROADCAST, CONVERSATION = LABELS


class Post(Struct, array_like=True):
    """What the summary needs of one scored row."""

    line: int
    author: str | None
    ts: float | None
    label: str


class AuthorSummary(Struct):
    author: str
    posts: int
    conversation_ratio: float
    longest_broadcast_streak: int


class JobSummary(Struct):
    rows: int
    labels: dict[str, int]
    authors: list[AuthorSummary]


def _streak(posts: list[Post]) -> int:
    timed = all(p.ts is not None for p in posts)
    ordered = sorted(posts, key=lambda p: (p.ts if timed and p.ts is not None else 0.0, p.line))
    longest = run = 0
    for post in ordered:
        run = run + 1 if post.label == BROADCAST else 0
        longest = max(longest, run)
    return longest


def summarize(posts: Iterable[Post]) -> JobSummary:
    labels: Counter[str] = Counter(dict.fromkeys(LABELS, 0))
    by_author: defaultdict[str, list[Post]] = defaultdict(list)
    for post in posts:
        labels[post.label] += 1
        if post.author:
            by_author[post.author].append(post)
    authors = [
        AuthorSummary(
            author=author,
            posts=len(mine),
            conversation_ratio=round(sum(p.label == CONVERSATION for p in mine) / len(mine), 4),
            longest_broadcast_streak=_streak(mine),
        )
        for author, mine in by_author.items()
    ]
    authors.sort(key=lambda a: (a.conversation_ratio, -a.posts, a.author))
    return JobSummary(rows=labels.total(), labels=dict(labels), authors=authors)
