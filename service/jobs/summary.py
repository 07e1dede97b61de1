"""A finished job's summary: label counts, and per author how much of their output is broadcast.

Authors are ranked most broadcast-heavy first (lowest conversation ratio, then most posts), the
order in which someone reviewing accounts wants to read them. A streak is the longest run of
consecutive broadcast posts in time order (`created_at`), or input order where an author's posts do
not all carry a timestamp.

The summary is built without holding the job's rows, so memory follows the number of authors (the
summary's own size), not the number of posts. Each chunk, once scored, leaves a `Tally` (label
counts; per author posts, conversations, untimed posts and broadcast runs in input order) and a
`timeline` entry per post with an author and a time, kept in a Redis sorted set whose byte order is
author, then time, then line. `Summarizer` adds the tallies in chunk order, then reads the timeline
once, in order, for the streaks of authors whose every post is timed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import msgspec
from msgspec import Struct

from model.runtime.classifier import LABELS

BROADCAST, CONVERSATION = LABELS
_LENGTH = struct.Struct(">I")  # an entry: author length, author (UTF-8), then _REST
_REST = struct.Struct(">QQB")  # time (as order-preserving bits), line, label index


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


class Run(Struct, array_like=True):
    """The broadcast runs of a sequence of posts, in a form that composes: the runs of a sequence
    follow from its parts', so chunks scored apart (and out of order) add up to the whole."""

    posts: int = 0
    head: int = 0  # broadcast posts before the first conversation (all of them when there is none)
    tail: int = 0  # broadcast posts after the last conversation
    longest: int = 0

    @classmethod
    def of(cls, label: str) -> Run:
        broadcast = int(label == BROADCAST)
        return cls(1, broadcast, broadcast, broadcast)

    def then(self, later: Run) -> Run:
        """This sequence followed by `later`."""
        return Run(
            self.posts + later.posts,
            self.posts + later.head if self.head == self.posts else self.head,
            later.posts + self.tail if later.tail == later.posts else later.tail,
            max(self.longest, later.longest, self.tail + later.head),
        )


class AuthorTally(Struct, array_like=True):
    posts: int = 0
    conversations: int = 0
    untimed: int = 0  # posts without created_at: any one puts the author's streak in input order
    run: Run = msgspec.field(default_factory=Run)  # in input order

    def add(self, later: AuthorTally) -> None:
        """Count `later`, posts that follow these in the input."""
        self.posts += later.posts
        self.conversations += later.conversations
        self.untimed += later.untimed
        self.run = self.run.then(later.run)


class Tally(Struct, array_like=True):
    """A chunk's (or a whole job's) counts; `add` them in input order."""

    labels: dict[str, int] = msgspec.field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    authors: dict[str, AuthorTally] = msgspec.field(default_factory=dict)

    @classmethod
    def of(cls, posts: Iterable[Post]) -> Tally:
        """The tally of `posts`, in input order."""
        tally = cls()
        for post in posts:
            tally.labels[post.label] += 1
            if post.author:
                one = AuthorTally(
                    1, int(post.label == CONVERSATION), int(post.ts is None), Run.of(post.label)
                )
                tally.authors.setdefault(post.author, AuthorTally()).add(one)
        return tally

    def add(self, later: Tally) -> None:
        """Count `later`, a tally of posts that follow these in the input."""
        for label, count in later.labels.items():
            self.labels[label] += count
        for author, theirs in later.authors.items():
            self.authors.setdefault(author, AuthorTally()).add(theirs)


def _ordered(ts: float) -> int:
    """The float's IEEE 754 bits, adjusted so that they sort as the floats do (negatives included)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", ts))
    return bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63


def timeline(posts: Iterable[Post]) -> list[bytes]:
    """The timeline entries of `posts` with an author and a time: sorted as bytes, they group by
    author and, within an author, run in time order, then line order."""
    entries = []
    for post in posts:
        if post.author and post.ts is not None:
            author = post.author.encode("utf-8", "surrogatepass")
            rest = _REST.pack(_ordered(post.ts), post.line, LABELS.index(post.label))
            entries.append(_LENGTH.pack(len(author)) + author + rest)
    return entries


class Summarizer:
    """A JobSummary from the chunks' tallies (`add_tally`, in chunk order), then the job's timeline
    (`add_timeline`, all of it, in byte order, in as many pieces as convenient)."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._author: str | None = None  # whose timeline entries are being read
        self._run = Run()

    def add_tally(self, tally: Tally) -> None:
        self.tally.add(tally)

    def add_timeline(self, entries: Iterable[bytes]) -> None:
        for entry in entries:
            (size,) = _LENGTH.unpack_from(entry)
            author = entry[_LENGTH.size : _LENGTH.size + size].decode("utf-8", "surrogatepass")
            if author != self._author:
                self._end_author()
                self._author, self._run = author, Run()
            self._run = self._run.then(Run.of(LABELS[entry[-1]]))

    def _end_author(self) -> None:
        mine = self.tally.authors.get(self._author) if self._author is not None else None
        if mine is not None and not mine.untimed:  # every post is timed: time order it is
            mine.run = self._run

    def summary(self) -> JobSummary:
        self._end_author()
        self._author = None
        authors = [
            AuthorSummary(author, t.posts, round(t.conversations / t.posts, 4), t.run.longest)
            for author, t in self.tally.authors.items()
        ]
        authors.sort(key=lambda a: (a.conversation_ratio, -a.posts, a.author))
        labels = self.tally.labels
        return JobSummary(rows=sum(labels.values()), labels=dict(labels), authors=authors)


def summarize(posts: Iterable[Post]) -> JobSummary:
    """The summary of posts in memory (a job with no valid row; tests): the same steps as a job's."""
    posts = list(posts)
    summarizer = Summarizer()
    summarizer.add_tally(Tally.of(posts))
    summarizer.add_timeline(sorted(timeline(posts)))
    return summarizer.summary()
