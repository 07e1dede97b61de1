"""A finished job's summary: label counts, and per author how much of their output is broadcast.

Authors are ranked most broadcast-heavy first (lowest conversation ratio, then most posts), the
order in which someone reviewing accounts wants to read them. A streak is the longest run of
consecutive broadcast posts in time order (`created_at`), or input order where an author's posts do
not all carry a timestamp. Per author there is also the label mix; the replies (posts that open by
addressing someone, `@handle`: conversation-shaped) and how many of them are pitches (labelled
broadcast); the longest streaks with their first and last post's time (only in time order); and the
conversation ratio of their timed posts per week, or per month when the job's timed posts span more
than WEEKLY_MAX_DAYS: one bucket size for the whole job, so accounts compare. The report
(service/report/) draws exactly these figures.

The summary is built without holding the job's rows, so memory follows the number of authors and
their weeks and months (the summary's own size), not the number of posts. Each chunk, once scored,
leaves a `Tally` (label counts; per author posts, conversations, untimed posts and broadcast runs in
input order) and a `timeline` entry per post with an author and a time, kept in a Redis sorted set
whose byte order is author, then time, then line. `Summarizer` adds the tallies in chunk order, then
reads the timeline once, in order, for the series, and for the (dated) streaks of authors whose every
post is timed.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import msgspec
from msgspec import Struct

from model.runtime.classifier import LABELS
from model.runtime.normalize import starts_with_handle
from service.jobs.rows import InputRow, JobResult

BROADCAST, CONVERSATION = LABELS
WEEKLY_MAX_DAYS = 182  # a job whose timed posts span more (about six months) is charted by month
STREAKS = 3  # dated streaks kept per author, longest first
Bucket = Literal["week", "month"]
_LENGTH = struct.Struct(">I")  # an entry: author length, author (UTF-8), then _REST
_REST = struct.Struct(">QQB")  # time (as order-preserving bits), line, label index


class Post(Struct, array_like=True):
    """What the summary needs of one scored row."""

    line: int
    author: str | None
    ts: float | None
    label: str
    reply: bool = False  # conversation-shaped: it opens by addressing someone (see `posts_of`)


class Streak(Struct):
    """A run of consecutive broadcast posts: how many, and the times of the first and last (UTC)."""

    posts: int
    start: str
    end: str


class Point(Struct):
    """One week (starting Monday) or month of an author's timed posts."""

    start: str  # the bucket's first day, YYYY-MM-DD (UTC)
    posts: int
    conversations: int
    conversation_ratio: float


class AuthorSummary(Struct):
    author: str
    posts: int
    conversation_ratio: float
    longest_broadcast_streak: int
    # Defaults: a summary stored before these figures existed still reads.
    labels: dict[str, int] = msgspec.field(default_factory=dict)
    replies: int = 0  # posts that open with a handle
    pitches: int = 0  # replies labelled broadcast
    pitch_share: float | None = None  # pitches / replies; None without replies
    streaks: list[Streak] = msgspec.field(default_factory=list)  # empty unless every post is timed
    series: list[Point] = msgspec.field(default_factory=list)  # buckets with a timed post, in order


class JobSummary(Struct):
    rows: int
    labels: dict[str, int]
    authors: list[AuthorSummary]
    bucket: Bucket | None = None  # the series' bucket; None when no authored post is timed
    first: str | None = None  # the earliest and latest authored, timed post (UTC)
    last: str | None = None


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
    replies: int = 0
    pitches: int = 0

    def add(self, later: AuthorTally) -> None:
        """Count `later`, posts that follow these in the input."""
        self.posts += later.posts
        self.conversations += later.conversations
        self.untimed += later.untimed
        self.run = self.run.then(later.run)
        self.replies += later.replies
        self.pitches += later.pitches


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
                    1,
                    int(post.label == CONVERSATION),
                    int(post.ts is None),
                    Run.of(post.label),
                    int(post.reply),
                    int(post.reply and post.label == BROADCAST),
                )
                tally.authors.setdefault(post.author, AuthorTally()).add(one)
        return tally

    def add(self, later: Tally) -> None:
        """Count `later`, a tally of posts that follow these in the input."""
        for label, count in later.labels.items():
            self.labels[label] += count
        for author, theirs in later.authors.items():
            self.authors.setdefault(author, AuthorTally()).add(theirs)


def posts_of(rows: Sequence[InputRow], results: Sequence[JobResult]) -> list[Post]:
    """What the summary needs of a scored chunk. A reply is a post that opens with a handle (or `.@`),
    as the model card's form tables read a leading handle (model/runtime/normalize.py)."""
    return [
        Post(r.line, r.author, r.ts, res.label, bool(r.author) and starts_with_handle(r.text))
        for r, res in zip(rows, results, strict=True)
    ]


_ALL_BITS = 0xFFFF_FFFF_FFFF_FFFF


def _ordered(ts: float) -> int:
    """The float's IEEE 754 bits, adjusted so that they sort as the floats do (negatives included)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", ts))
    return bits ^ _ALL_BITS if bits >> 63 else bits | 1 << 63


def _unordered(bits: int) -> float:
    """The float that `_ordered` made `bits` of."""
    (ts,) = struct.unpack(">d", struct.pack(">Q", bits ^ (1 << 63) if bits >> 63 else bits ^ _ALL_BITS))
    return float(ts)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def bucket_start(ts: float, bucket: Bucket) -> date:
    """The first day of the week (Monday) or month that holds `ts` (UTC)."""
    day = datetime.fromtimestamp(ts, UTC).date()
    return day - timedelta(days=day.weekday()) if bucket == "week" else day.replace(day=1)


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


class _TimedAuthor:
    """One author's timed posts, read in time order: the broadcast runs, the longest of them with their
    times, and posts and conversations per week and per month (which one is shown is decided once every
    author is read). Consecutive posts mostly share a day, so the buckets are looked up once a day."""

    def __init__(self) -> None:
        self.streak: tuple[int, float, float] | None = None  # the current broadcast run: posts, start, end
        self.longest: list[tuple[int, float, float]] = []  # (-posts, start, end), at most STREAKS
        self.counts: dict[Bucket, dict[date, list[int]]] = {"week": {}, "month": {}}
        self._day = math.nan  # the day (ts // 86400) of the last post, and its buckets' counts
        self._today: list[list[int]] = []

    def add(self, ts: float, label: str) -> None:
        if ts // 86400 != self._day:
            self._day = ts // 86400
            self._today = [
                counts.setdefault(bucket_start(ts, bucket), [0, 0]) for bucket, counts in self.counts.items()
            ]
        conversation = label == CONVERSATION
        for count in self._today:
            count[0] += 1
            count[1] += conversation
        if conversation:
            self.end_streak()
        else:
            posts, start, _ = self.streak or (0, ts, ts)
            self.streak = (posts + 1, start, ts)

    def end_streak(self) -> None:
        if self.streak is not None:
            posts, start, end = self.streak
            self.longest = sorted([*self.longest, (-posts, start, end)])[:STREAKS]
        self.streak = None

    def longest_run(self) -> int:
        self.end_streak()
        return -self.longest[0][0] if self.longest else 0

    def series(self, bucket: Bucket) -> list[Point]:
        return [
            Point(start.isoformat(), posts, conversations, round(conversations / posts, 4))
            for start, (posts, conversations) in sorted(self.counts[bucket].items())
        ]

    def streaks(self) -> list[Streak]:
        self.end_streak()
        return [Streak(-negative, iso(start), iso(end)) for negative, start, end in self.longest]


class Summarizer:
    """A JobSummary from the chunks' tallies (`add_tally`, in chunk order), then the job's timeline
    (`add_timeline`, all of it, in byte order, in as many pieces as convenient)."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._timed: dict[str, _TimedAuthor] = {}
        self._last_entry: tuple[str, _TimedAuthor] | None = None  # whose entries are being read
        self._first, self._last = math.inf, -math.inf  # the earliest and latest time read

    def add_tally(self, tally: Tally) -> None:
        self.tally.add(tally)

    def add_timeline(self, entries: Iterable[bytes]) -> None:
        for entry in entries:
            (size,) = _LENGTH.unpack_from(entry)
            author = entry[_LENGTH.size : _LENGTH.size + size].decode("utf-8", "surrogatepass")
            bits, _, label = _REST.unpack_from(entry, _LENGTH.size + size)
            if self._last_entry is None or self._last_entry[0] != author:
                self._last_entry = (author, self._timed.setdefault(author, _TimedAuthor()))
            ts = _unordered(bits)
            self._last_entry[1].add(ts, LABELS[label])
            self._first, self._last = min(self._first, ts), max(self._last, ts)

    def summary(self) -> JobSummary:
        bucket: Bucket | None = None
        timed = self._first <= self._last
        if timed:
            bucket = "week" if self._last - self._first <= WEEKLY_MAX_DAYS * 86400 else "month"
        authors = [self._author(author, t, bucket) for author, t in self.tally.authors.items()]
        authors.sort(key=lambda a: (a.conversation_ratio, -a.posts, a.author))
        labels = self.tally.labels
        first_post, last_post = (iso(self._first), iso(self._last)) if timed else (None, None)
        return JobSummary(
            rows=sum(labels.values()),
            labels=dict(labels),
            authors=authors,
            bucket=bucket,
            first=first_post,
            last=last_post,
        )

    def _author(self, author: str, t: AuthorTally, bucket: Bucket | None) -> AuthorSummary:
        timed = self._timed.get(author)
        ordered = timed if not t.untimed else None  # every post is timed: time order it is
        return AuthorSummary(
            author,
            t.posts,
            round(t.conversations / t.posts, 4),
            ordered.longest_run() if ordered is not None else t.run.longest,
            labels={BROADCAST: t.posts - t.conversations, CONVERSATION: t.conversations},
            replies=t.replies,
            pitches=t.pitches,
            pitch_share=round(t.pitches / t.replies, 4) if t.replies else None,
            streaks=ordered.streaks() if ordered is not None else [],
            series=timed.series(bucket) if timed is not None and bucket is not None else [],
        )


def summarize(posts: Iterable[Post]) -> JobSummary:
    """The summary of posts in memory (a job with no valid row; tests): the same steps as a job's."""
    posts = list(posts)
    summarizer = Summarizer()
    summarizer.add_tally(Tally.of(posts))
    summarizer.add_timeline(sorted(timeline(posts)))
    return summarizer.summary()
