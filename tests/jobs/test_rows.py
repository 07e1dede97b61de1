"""Upload parsing and the summary, without Redis: pure functions over bytes and rows."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from service.jobs.rows import CSV, NDJSON, HeaderError, InputRow, LineError, Parsed, parser_for
from service.jobs.summary import (
    WEEKLY_MAX_DAYS,
    AuthorSummary,
    JobSummary,
    Point,
    Post,
    Streak,
    Summarizer,
    Tally,
    bucket_start,
    iso,
    summarize,
    timeline,
)


def parse(content_type: str, body: bytes, piece: int = 7, max_chars: int = 50) -> list[Parsed]:
    """Feed `body` in small pieces, as a network would, so lines straddle the pieces."""
    parser = parser_for(content_type, max_chars)
    out = [item for start in range(0, len(body), piece) for item in parser.feed(body[start : start + piece])]
    return out + list(parser.close())


def test_ndjson_rows_and_errors_keep_their_line_numbers() -> None:
    body = (
        b'{"id": 1, "text": "hi @ann", "author": "bo", "created_at": "2024-01-01T00:00:00"}\n'
        b"not json\n"
        b'{"id": "x", "text": 5}\n'
        b"\n"
        b'{"id": "", "text": "no id"}\n'
        b'{"id": "y", "text": "last line without a newline"}'
    )
    assert parse(NDJSON, body) == [
        InputRow(1, 1, "hi @ann", "bo", 1704067200.0),
        LineError(2, "malformed JSON"),
        LineError(3, "invalid row: Expected `str`, got `int` - at `$.text`"),
        LineError(5, "id is empty"),
        InputRow(6, "y", "last line without a newline", None, None),
    ]


def test_an_over_long_line_is_an_error_not_a_buffer() -> None:
    huge = b'{"id": "big", "text": "' + b"a" * 200_000 + b'"}\n'
    items = parse(NDJSON, huge + b'{"id": "ok", "text": "fine"}\n', piece=4096, max_chars=10)
    assert items == [LineError(1, "line too long"), InputRow(2, "ok", "fine", None, None)]


def test_csv_quoted_newlines_count_as_one_row_at_their_first_line() -> None:
    body = b'ID,Text,author\n1,"a ""quoted""\nsecond line",ann\n2,"unterminated\n'
    assert parse(CSV, body) == [
        InputRow(2, "1", 'a "quoted"\nsecond line', "ann", None),
        LineError(4, "bad CSV row: unterminated quoted field"),
    ]


@pytest.mark.parametrize("body", [b"", b"id,body\n1,x\n"])
def test_csv_without_id_and_text_columns_is_rejected(body: bytes) -> None:
    with pytest.raises(HeaderError):
        parse(CSV, body)


def test_summary_ranks_broadcast_heavy_authors_first_with_time_ordered_streaks() -> None:
    b, c = "broadcast", "conversation"
    posts = [
        # ann: in input order b b c b, but by time b b b c -> streak 3
        Post(1, "ann", 4.0, b),
        Post(2, "ann", 1.0, b),
        Post(3, "ann", 5.0, c),
        Post(4, "ann", 2.0, b),
        # bo: one post without a timestamp, so input order: b c b b -> streak 2
        Post(5, "bo", 1.0, b),
        Post(6, "bo", None, c),
        Post(7, "bo", 3.0, b),
        Post(8, "bo", 4.0, b),
        Post(9, "cy", None, c),
        Post(10, None, None, b),  # counted in the labels, not per author
    ]
    summary = summarize(posts)
    assert summary.rows == 10
    assert summary.labels == {b: 7, c: 3}
    assert [
        (a.author, a.posts, a.conversation_ratio, a.longest_broadcast_streak) for a in summary.authors
    ] == [
        ("ann", 4, 0.25, 3),
        ("bo", 4, 0.25, 2),
        ("cy", 1, 1.0, 0),
    ]
    ann, bo, cy = summary.authors
    assert ann.labels == {b: 3, c: 1} and cy.labels == {b: 0, c: 1}
    assert ann.streaks == [Streak(3, "1970-01-01T00:00:01+00:00", "1970-01-01T00:00:04+00:00")]
    assert bo.streaks == []  # an untimed post: the streak is in input order, which has no dates
    # 5 seconds of posts: weekly, and 1 January 1970 was a Thursday, so the week starts on 29 December.
    assert (summary.bucket, summary.first, summary.last) == (
        "week",
        "1970-01-01T00:00:01+00:00",
        "1970-01-01T00:00:05+00:00",
    )
    assert ann.series == [Point("1969-12-29", 4, 1, 0.25)]
    assert bo.series == [Point("1969-12-29", 3, 0, 0.0)] and cy.series == []  # timed posts only


def test_replies_labelled_broadcast_are_pitches_and_a_long_span_is_charted_by_month() -> None:
    day = 86400.0
    posts = [
        Post(1, "shop", 0.0, "broadcast", reply=True),
        Post(2, "shop", 40 * day, "conversation", reply=True),
        Post(3, "shop", 200 * day, "broadcast", reply=False),
        Post(4, "shop", 201 * day, "broadcast", reply=True),
        Post(5, "desk", 10 * day, "conversation"),
        Post(6, None, 11 * day, "broadcast", reply=True),  # no author: not anyone's reply
    ]
    summary = summarize(posts)
    assert summary.bucket == "month"
    shop, desk = summary.authors
    assert (shop.replies, shop.pitches, shop.pitch_share) == (3, 2, 0.6667)
    assert (desk.replies, desk.pitches, desk.pitch_share) == (0, 0, None)
    assert shop.series == [
        Point("1970-01-01", 1, 0, 0.0),
        Point("1970-02-01", 1, 1, 1.0),
        Point("1970-07-01", 2, 0, 0.0),
    ]
    assert [s.posts for s in shop.streaks] == [2, 1]  # longest first
    assert shop.streaks[0].start.startswith("1970-07-20") and shop.streaks[0].end.startswith("1970-07-21")


def reference_summary(posts: list[Post]) -> JobSummary:
    """The summary by its definition, everything in memory: the oracle for the incremental one."""
    labels = {"broadcast": 0, "conversation": 0}
    mine: defaultdict[str, list[Post]] = defaultdict(list)
    for post in posts:
        labels[post.label] += 1
        if post.author:
            mine[post.author].append(post)
    times = [p.ts for own in mine.values() for p in own if p.ts is not None]
    bucket = None
    if times:
        bucket = "week" if max(times) - min(times) <= WEEKLY_MAX_DAYS * 86400 else "month"
    authors = []
    for author, own in mine.items():
        timed = all(p.ts is not None for p in own)
        if timed:
            own = sorted(own, key=lambda p: (p.ts, p.line))
        runs: list[list[Post]] = [[]]  # the broadcast runs, in order
        for post in own:
            if post.label == "broadcast":
                runs[-1].append(post)
            elif runs[-1]:
                runs.append([])
        streaks = sorted((-len(r), r[0].ts, r[-1].ts) for r in runs if r) if timed else []
        conversations = sum(p.label == "conversation" for p in own)
        replies = sum(p.reply for p in own)
        pitches = sum(p.reply and p.label == "broadcast" for p in own)
        buckets: defaultdict[str, list[Post]] = defaultdict(list)
        for post in own:
            if post.ts is not None and bucket is not None:
                buckets[bucket_start(post.ts, bucket).isoformat()].append(post)
        series = [
            Point(start, len(b), n := sum(p.label == "conversation" for p in b), round(n / len(b), 4))
            for start, b in sorted(buckets.items())
        ]
        authors.append(
            AuthorSummary(
                author,
                len(own),
                round(conversations / len(own), 4),
                max((len(r) for r in runs), default=0),
                labels={"broadcast": len(own) - conversations, "conversation": conversations},
                replies=replies,
                pitches=pitches,
                pitch_share=round(pitches / replies, 4) if replies else None,
                streaks=[Streak(-n, iso(a), iso(b)) for n, a, b in streaks[:3]],  # type: ignore[arg-type]
                series=series,
            )
        )
    authors.sort(key=lambda a: (a.conversation_ratio, -a.posts, a.author))
    first, last = (iso(min(times)), iso(max(times))) if times else (None, None)
    return JobSummary(sum(labels.values()), labels, authors, bucket, first, last)  # type: ignore[arg-type]


def random_posts(rng: random.Random, count: int) -> list[Post]:
    """Few authors (some prefixes of others, some not ASCII), times that tie, precede 1970, or are absent."""
    authors = [None, "a", "ab", "b", "é", "émile", "x" * 300]
    untimed = set(rng.sample(authors[1:], 2))
    posts = []
    for line in range(1, count + 1):
        author = rng.choice(authors)
        ts = (
            None
            if author in untimed and rng.random() < 0.3
            else rng.choice([-86400.5, 0.0, 1.0, 1e9]) + rng.randrange(5)
        )
        label = rng.choice(["broadcast", "broadcast", "conversation"])
        posts.append(Post(line, author, ts, label, reply=rng.random() < 0.3))
    return posts


@pytest.mark.parametrize("seed", range(200))
def test_chunk_tallies_and_the_timeline_add_up_to_the_whole(seed: int) -> None:
    """However the rows are cut into chunks, and in whatever order the chunks finish, the summary is
    the one the definition gives."""
    rng = random.Random(seed)
    posts = random_posts(rng, rng.randrange(0, 120))
    cuts = sorted(rng.sample(range(1, len(posts)), min(len(posts) - 1, rng.randrange(0, 8)))) if posts else []
    chunks = [posts[a:b] for a, b in zip([0, *cuts], [*cuts, len(posts)], strict=True)]
    entries = [entry for chunk in rng.sample(chunks, len(chunks)) for entry in timeline(chunk)]
    summarizer = Summarizer()
    for chunk in chunks:  # tallies in chunk order, as the job adds them
        summarizer.add_tally(Tally.of(chunk))
    ordered = sorted(entries)  # what the Redis sorted set hands back, read here in pieces
    for start in range(0, len(ordered), 7):
        summarizer.add_timeline(ordered[start : start + 7])
    assert summarizer.summary() == reference_summary(posts)


def test_an_id_beyond_64_bits_is_a_line_error_and_64_bit_ids_work() -> None:
    body = (
        b'{"id": 18446744073709551616, "text": "one past the largest unsigned 64-bit integer"}\n'
        b'{"id": 18446744073709551615, "text": "the largest"}\n'
        b'{"id": -9223372036854775808, "text": "the smallest signed"}\n'
        b'{"id": -9223372036854775809, "text": "one below it"}\n'
        b'{"id": "18446744073709551616", "text": "as a string it is any id"}\n'
    )
    assert parse(NDJSON, body, max_chars=100) == [
        LineError(1, "id is an integer beyond 64 bits; send it as a string"),
        InputRow(2, 2**64 - 1, "the largest", None, None),
        InputRow(3, -(2**63), "the smallest signed", None, None),
        LineError(4, "id is an integer beyond 64 bits; send it as a string"),
        InputRow(5, "18446744073709551616", "as a string it is any id", None, None),
    ]


def test_an_unclosed_csv_quote_is_bounded_like_a_line_and_parsing_resumes() -> None:
    """Before, every line after the quote joined one pending record: the whole rest of the upload."""
    rows = b"".join(b"%d,post number %d\n" % (i, i) for i in range(3, 20_000))
    body = b'id,text\n1,fine\n2,"never closed\n' + rows
    parser = parser_for(CSV, 50)
    limit = parser.lines.max_line
    items = [item for start in range(0, len(body), 4096) for item in parser.feed(body[start : start + 4096])]
    assert parser.size <= limit  # never more than one record's worth pending (the file is 300 KB)
    items += list(parser.close())
    [error] = [item for item in items if isinstance(item, LineError)]
    assert error.line == 3 and error.reason.startswith("bad CSV row: a quoted field still open at line ")
    last_skipped = int(error.reason.rsplit("-", 1)[1].split()[0])
    assert limit / 30 < last_skipped < limit / 10  # lines of ~22 bytes: skipped to the limit, no further
    scored = [item.line for item in items if isinstance(item, InputRow)]
    assert scored == [2, *range(last_skipped + 1, 20_001)]  # every line after the skipped ones is read


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (CSV, b"\xef\xbb\xbfid,text\r\n1,hello from Excel\r\n"),
        (NDJSON, b'\xef\xbb\xbf{"id": 1, "text": "hello from Notepad"}\n'),
    ],
)
def test_a_utf8_byte_order_mark_starts_the_file_not_the_first_line(content_type: str, body: bytes) -> None:
    [row] = parse(content_type, body, piece=2)  # the mark itself split across pieces
    assert isinstance(row, InputRow) and row.id in ("1", 1) and row.text.startswith("hello from")
