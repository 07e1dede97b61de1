"""Example posts for a report, only when its reader asks for them: per account, the posts that show its
figures best. Posts carry personal data, so nothing else in the summary or the report holds any text.

Per account and label, the `per_label` posts the model is most sure of; among broadcasts, pitches
(replies labelled broadcast) come first, since they are what the pitch share counts. Only posts with an
author are ever picked, so every example belongs to an account of the job. `ExamplePicker` is fed the
job's chunks in any order and keeps no more than `per_label` posts per account and label.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from msgspec import Struct

from service.jobs.rows import InputRow, JobResult
from service.jobs.summary import BROADCAST, CONVERSATION, iso, posts_of


class Example(Struct):
    id: str | int
    text: str
    label: str
    score: float  # the model's probability of its label
    created_at: str | None
    reply: bool  # opens with a handle; a reply labelled broadcast is a pitch


class AccountExamples(Struct):
    author: str
    broadcast: list[Example]  # pitches first, then by score, highest first
    conversation: list[Example]  # by score, highest first


# (pitch, score, -line): the larger, the better an example; the line breaks ties, earlier first.
_Rank = tuple[bool, float, int]


class ExamplePicker:
    def __init__(self, per_label: int) -> None:
        self.per_label = per_label
        self._kept: dict[tuple[str, str], list[tuple[_Rank, Example]]] = {}

    def add(self, rows: Sequence[InputRow], results: Sequence[JobResult]) -> None:
        """Consider one scored chunk's rows."""
        if self.per_label <= 0:
            return
        for row, result, post in zip(rows, results, posts_of(rows, results), strict=True):
            if not row.author:
                continue
            score = getattr(result.scores, result.label)
            created = iso(row.ts) if row.ts is not None else None
            example = Example(row.id, row.text, result.label, score, created, post.reply)
            rank = (post.reply and result.label == BROADCAST, score, -row.line)
            kept = self._kept.setdefault((row.author, result.label), [])
            if len(kept) < self.per_label:
                heapq.heappush(kept, (rank, example))
            elif rank > kept[0][0]:
                heapq.heapreplace(kept, (rank, example))

    def examples(self, authors: Sequence[str]) -> list[AccountExamples]:
        """The examples of `authors`, in that order (the summary's)."""

        def best(author: str, label: str) -> list[Example]:
            return [example for _, example in sorted(self._kept.get((author, label), []), reverse=True)]

        return [AccountExamples(a, best(a, BROADCAST), best(a, CONVERSATION)) for a in authors]
