"""The brand report and the summary's series, with a real worker process and the real model on the real
Redis: exact figures for a crafted job of three accounts, the HTML drawing exactly those figures, posts
shown only on request and only from the job's accounts, the job's owner alone seeing it, and, in
Chromium, a report of thousands of posts whose charts match the JSON summary (its screenshot goes to
test-artifacts/report.png; docs/report.png, shown in the README, is a copy of one)."""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient, TestClient
from markupsafe import escape
from playwright.sync_api import Browser, Route

from model.runtime.classifier import Classifier
from service import cli, runtime
from service.jobs.rows import NDJSON
from service.jobs.summary import Post, summarize
from service.report import MAX_EXAMPLES
from service.report.page import render
from service.security import hash_key
from service.settings import PREFIX, Settings
from tests.jobs.conftest import Client, jobs_app, make_settings, ndjson, purge
from tests.jobs.test_workers import Workers
from tests.live import live_app
from tests.service.test_api import assert_problem

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
KEYS = ("report-tenant-a-5be9af53", "report-tenant-b-0c41d2e7")
MINE, THEIRS = ({"X-API-Key": key} for key in KEYS)
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "test-artifacts" / "report.png"  # git-ignored: a test run leaves the tree clean

# Texts written for this test, each labelled with a margin by the shipped model (checked first).
CONVERSATION = {
    "C1": "@sam thanks, DM us your order number",
    "C2": "@lee so sorry about the delay, we're looking into it now",
    "C3": "@ann what size did you order? we'll swap it for free",
    "C4": "@bo glad you liked it! thanks for the kind words",
    "C5": "@kim sorry to hear that, can you send us a DM with your email?",
    "C6": "@ravi happy to help, which store did you visit?",
    "U2": "@pat thanks so much, see you there!",
}
BROADCAST = {
    "B1": "Big sale this weekend! Shop now http://x.co",
    "B2": "New blog post: 10 tips for spring gardening http://x.co",
    "B3": "Doors open at 9am for the community fair on Saturday!",
    "B4": "Registration for the summer coding camp is now open http://x.co",
    "B5": "Our summer collection is here. Shop now!",
    "P1": ".@ravi New blog post: 10 tips for spring gardening http://x.co",  # a pitch: a reply, broadcast
    "P2": ".@ann Registration for the summer coding camp is now open http://x.co",
    "U1": "Unsigned: the flea market is back on Sunday http://x.co",
}
TEXTS = CONVERSATION | BROADCAST
# (author, text, created_at), in input order: not time order, so the streaks must sort by time.
CRAFTED = [
    ("megastore", "B5", "2024-06-19T09:00:00"),
    ("helpdesk", "C1", "2024-06-03T10:00:00"),
    ("oldfeed", "B2", "2024-06-10T12:00:00"),
    ("megastore", "P2", "2024-06-18T09:00:00"),
    ("helpdesk", "C2", "2024-06-04T10:00:00"),
    ("oldfeed", "B3", None),
    (None, "U1", "2024-06-01T08:00:00"),  # no author: in the label counts only, never an example
    ("megastore", "B4", "2024-06-17T09:00:00"),
    ("helpdesk", "B1", "2024-06-05T10:00:00"),
    ("megastore", "C1", "2024-06-10T09:00:00"),
    ("oldfeed", "B4", None),
    ("helpdesk", "C3", "2024-06-11T10:00:00"),
    ("megastore", "B3", "2024-06-06T09:00:00"),
    ("helpdesk", "C4", "2024-06-12T10:00:00"),
    ("megastore", "P1", "2024-06-05T09:00:00"),
    ("oldfeed", "C2", None),
    ("helpdesk", "C5", "2024-06-18T10:00:00"),
    ("megastore", "B2", "2024-06-04T09:00:00"),
    (None, "U2", None),
    ("helpdesk", "C6", "2024-06-19T10:00:00"),
    ("megastore", "B1", "2024-06-03T09:00:00"),
]


def crafted_rows() -> list[dict[str, Any]]:
    rows = []
    for i, (author, text, created) in enumerate(CRAFTED):
        row: dict[str, Any] = {"id": f"{text}-{i}", "text": TEXTS[text]}
        row |= {"author": author} if author else {}
        row |= {"created_at": created} if created else {}
        rows.append(row)
    return rows


def utc(moment: str) -> str:
    return f"{moment}+00:00"


EXPECTED_AUTHORS = [  # most broadcast-heavy first, as the JSON summary ranks them
    {
        "author": "megastore",
        "posts": 8,
        "conversation_ratio": 0.125,
        "longest_broadcast_streak": 4,
        "labels": {"broadcast": 7, "conversation": 1},
        "replies": 3,
        "pitches": 2,
        "pitch_share": 0.6667,
        "streaks": [
            {"posts": 4, "start": utc("2024-06-03T09:00:00"), "end": utc("2024-06-06T09:00:00")},
            {"posts": 3, "start": utc("2024-06-17T09:00:00"), "end": utc("2024-06-19T09:00:00")},
        ],
        "series": [
            {"start": "2024-06-03", "posts": 4, "conversations": 0, "conversation_ratio": 0.0},
            {"start": "2024-06-10", "posts": 1, "conversations": 1, "conversation_ratio": 1.0},
            {"start": "2024-06-17", "posts": 3, "conversations": 0, "conversation_ratio": 0.0},
        ],
    },
    {
        "author": "oldfeed",  # three untimed posts: the streak is in input order, undated
        "posts": 4,
        "conversation_ratio": 0.25,
        "longest_broadcast_streak": 3,
        "labels": {"broadcast": 3, "conversation": 1},
        "replies": 1,
        "pitches": 0,
        "pitch_share": 0.0,
        "streaks": [],
        "series": [{"start": "2024-06-10", "posts": 1, "conversations": 0, "conversation_ratio": 0.0}],
    },
    {
        "author": "helpdesk",
        "posts": 7,
        "conversation_ratio": 0.8571,
        "longest_broadcast_streak": 1,
        "labels": {"broadcast": 1, "conversation": 6},
        "replies": 6,
        "pitches": 0,
        "pitch_share": 0.0,
        "streaks": [{"posts": 1, "start": utc("2024-06-05T10:00:00"), "end": utc("2024-06-05T10:00:00")}],
        "series": [
            {"start": "2024-06-03", "posts": 3, "conversations": 2, "conversation_ratio": 0.6667},
            {"start": "2024-06-10", "posts": 2, "conversations": 2, "conversation_ratio": 1.0},
            {"start": "2024-06-17", "posts": 2, "conversations": 2, "conversation_ratio": 1.0},
        ],
    },
]


@pytest.fixture(scope="module")
def report_settings() -> Iterator[Settings]:
    """Small chunks (the crafted job spans six), and two tenants' keys."""
    settings = make_settings(job_chunk_size=4, api_keys=",".join(map(hash_key, KEYS)))
    yield settings
    purge(settings.cache_prefix)


@pytest.fixture(scope="module")
def workers(report_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    workers = Workers(report_settings, tmp_path_factory.mktemp("workers"))
    workers.shared()
    yield workers
    for worker in workers.started:
        worker.stop()


@pytest.fixture
async def api(report_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(jobs_app(report_settings)) as client:
        client.headers.update(MINE)
        yield client


@pytest.fixture(scope="module")
def crafted(report_settings: Settings, workers: Workers) -> str:
    """The crafted job, scored by the module's worker: its id, once the model's labels are checked to be
    the ones the expected figures assume."""
    with TestClient(jobs_app(report_settings)) as client:
        client.headers.update(MINE)
        response = client.post("/v1/jobs", content=ndjson(crafted_rows()), headers={"content-type": NDJSON})
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        succeeded(client, response.headers["location"])
        labels = [json.loads(line)["label"] for line in client.get(f"/v1/jobs/{job_id}/results").iter_lines()]
    meant = ["conversation" if text in CONVERSATION else "broadcast" for _, text, _ in CRAFTED]
    wrong = [TEXTS[t] for (_, t, _), got, want in zip(CRAFTED, labels, meant, strict=True) if got != want]
    assert not wrong, f"the model labels these otherwise than the crafted job assumes: {wrong}"
    return job_id


def succeeded(client: httpx.Client | TestClient[Any], job: str, timeout_s: float = 300) -> None:
    """Wait for the job at path `job` to succeed (the worker loads the model first: a while)."""
    deadline = time.monotonic() + timeout_s
    while (state := client.get(job).json()["state"]) != "succeeded":
        assert state in ("queued", "running") and time.monotonic() < deadline, state
        time.sleep(0.25)


async def test_the_summary_of_a_crafted_job_has_exact_series_streaks_and_pitches(
    api: Client, crafted: str
) -> None:
    summary = (await api.get(f"/v1/jobs/{crafted}/summary")).json()
    assert summary == {
        "rows": 21,
        "labels": {"broadcast": 12, "conversation": 9},
        "authors": EXPECTED_AUTHORS,
        "bucket": "week",
        "first": utc("2024-06-03T09:00:00"),  # the unauthored post of 1 June is no account's
        "last": utc("2024-06-19T10:00:00"),
    }
    status = (await api.get(f"/v1/jobs/{crafted}")).json()
    assert status["links"]["report"] == f"/v1/jobs/{crafted}/report"


def sections(page: str) -> dict[str, str]:
    """Each account's section of a report, by author."""
    found = re.findall(
        r'<section class="account" id="account-\d+" data-author="([^"]+)">(.*?)</section>', page, re.S
    )
    return dict(found)


async def test_the_report_draws_the_summarys_figures_and_shows_no_post(api: Client, crafted: str) -> None:
    response = await api.get(f"/v1/jobs/{crafted}/report")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "private, no-store"
    page = response.text
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)  # loads nothing
    for text in TEXTS.values():  # no post at all, without examples
        assert text not in page and str(escape(text)) not in page
    ranked = re.findall(r'<tr data-author="([^"]+)" data-posts="(\d+)" data-ratio="([\d.]+)"', page)
    assert ranked == [("helpdesk", "7", "0.8571"), ("oldfeed", "4", "0.25"), ("megastore", "8", "0.125")]
    assert "21 posts, 3 accounts, 2024-06-03 to 2024-06-19, charted by week" in page
    mine = sections(page)
    assert list(mine) == ["helpdesk", "oldfeed", "megastore"]  # most conversational first
    for expected in EXPECTED_AUTHORS:
        section = mine[expected["author"]]
        points = re.findall(
            r'<circle class="point"[^>]* data-start="([^"]+)" data-ratio="([^"]+)" data-posts="(\d+)"',
            section,
        )
        assert points == [
            (p["start"], str(p["conversation_ratio"]), str(p["posts"])) for p in expected["series"]
        ]
        assert section.count('<svg class="trend"') == 1
        mix = dict(re.findall(r'data-label="(\w+)" data-count="(\d+)"', section))
        assert mix == {label: str(n) for label, n in expected["labels"].items()}
        streaks = re.findall(r'<tr data-posts="(\d+)"><td class="n">\d+</td><td>([^<]+)</td>', section)
        assert streaks == [
            (str(s["posts"]), s["start"][:16].replace("T", " ") + " UTC") for s in expected["streaks"]
        ]
    assert '<dd data-figure="pitch-share">67 %</dd>' in mine["megastore"]
    assert '<dd data-figure="ratio">86 %</dd>' in mine["helpdesk"]
    assert "counted in input order, without dates" in mine["oldfeed"]


async def test_examples_only_on_request_and_only_from_the_jobs_accounts(api: Client, crafted: str) -> None:
    rows = {row["id"]: row for row in crafted_rows()}
    page = (await api.get(f"/v1/jobs/{crafted}/report", params={"examples": 2})).text
    for author, section in sections(page).items():
        shown = re.findall(r'<li class="example" data-id="([^"]+)" data-label="(\w+)">([^<]*)<', section)
        assert shown and all(rows[i].get("author") == author for i, _, _ in shown)
        assert all(text.strip() == str(escape(rows[i]["text"])) for i, _, text in shown)
        for label in ("broadcast", "conversation"):
            assert len([i for i, got, _ in shown if got == label]) <= 2
    megastore = re.findall(
        r'<li class="example" data-id="([^"]+)" data-label="broadcast">', sections(page)["megastore"]
    )
    results = (await api.get(f"/v1/jobs/{crafted}/results")).text.splitlines()
    broadcast = {r["id"]: r["scores"]["broadcast"] for r in map(json.loads, results)}
    pitches = sorted((i for i in broadcast if i.startswith("P")), key=broadcast.__getitem__, reverse=True)
    assert megastore == pitches  # pitches first, the surer one first
    assert sections(page)["megastore"].count('<span class="tag">pitch</span>') == 2
    for unsigned in ("U1", "U2"):  # posts without an author belong to no account: never shown
        assert TEXTS[unsigned] not in page and str(escape(TEXTS[unsigned])) not in page
    everything = (await api.get(f"/v1/jobs/{crafted}/report", params={"examples": MAX_EXAMPLES})).text
    shown_ids = set(re.findall(r'<li class="example" data-id="([^"]+)"', everything))
    assert shown_ids == {i for i, row in rows.items() if "author" in row}  # every authored post, no other


def test_an_author_name_is_text_in_the_page_never_markup() -> None:
    name = '<img src="x" onerror="alert(1)">'
    page = render(
        summarize([Post(1, name, 0.0, "broadcast", reply=True), Post(2, name, 9.0, "conversation")])
    )
    assert name not in page and page.count(str(escape(name))) >= 3  # overview, heading, section


def test_the_widest_time_axis_iso_8601_allows_still_renders() -> None:
    """Years 1 and 9999 (the ends of what created_at may say): monthly, with a handful of date labels."""
    ends = [datetime(1, 1, 1, tzinfo=UTC).timestamp(), datetime(9999, 12, 31, tzinfo=UTC).timestamp()]
    summary = summarize([Post(1, "a", ends[0], "broadcast"), Post(2, "a", ends[1], "conversation")])
    page = render(summary)
    assert summary.bucket == "month" and [p.start for p in summary.authors[0].series] == [
        "0001-01-01",
        "9999-12-01",
    ]
    assert re.findall(r'<text class="axis"[^>]*text-anchor="middle">([^<]+)<', page)[0] == "0001-01"
    assert len(re.findall(r'text-anchor="middle"', page)) <= 8


@pytest.mark.parametrize("value", ["abc", "-1", str(MAX_EXAMPLES + 1), "1.5", ""])
async def test_a_bad_examples_parameter_is_a_400_problem(api: Client, crafted: str, value: str) -> None:
    response = await api.get(f"/v1/jobs/{crafted}/report?examples={value}")
    assert_problem(response, 400, "/problems/invalid-request")
    assert response.json()["detail"] == "The query parameters do not match the schema."
    assert [e["key"] for e in response.json()["errors"]] == ["examples"]


async def test_another_key_gets_404_and_an_unfinished_job_a_409(
    api: Client, crafted: str, report_settings: Settings
) -> None:
    for query in ("", "?examples=3"):
        for path in ("report", "summary"):
            theirs = await api.get(f"/v1/jobs/{crafted}/{path}{query}", headers=THEIRS)
            assert_problem(theirs, 404, "/problems/job-not-found")
    assert_problem(await api.get("/v1/jobs/not-a-job/report"), 404, "/problems/job-not-found")
    idle = replace(report_settings, cache_prefix=f"{report_settings.cache_prefix}-idle")  # no worker here
    try:
        async with AsyncTestClient(jobs_app(idle)) as client:
            client.headers.update(MINE)
            response = await client.post(
                "/v1/jobs", content=ndjson(crafted_rows()), headers={"content-type": NDJSON}
            )
            waiting = await client.get(f"{response.headers['location']}/report")
            assert_problem(waiting, 409, "/problems/job-not-finished")
            assert waiting.json()["detail"] == "The job is queued; this is ready once it succeeds."
    finally:
        purge(idle.cache_prefix)


def test_score_report_writes_the_page_here(
    tmp_path: Path,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`dialogic score --report` on this machine: the same figures as the job (same texts, same model);
    `--examples` without a report, or too many, is refused before anything is loaded."""
    source = tmp_path / "posts.jsonl"
    source.write_bytes(ndjson(crafted_rows()))
    for name in [name for name in os.environ if name.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DIALOGIC_JOB_CHUNK_SIZE", "4")
    monkeypatch.setattr(runtime, "load_classifier", lambda _, threads=None: classifier)
    page = tmp_path / "report.html"
    out = tmp_path / "scored.jsonl"
    assert cli.main(["score", str(source), "-o", str(out), "--report", str(page), "--examples", "1"]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"; report: {page}")
    html = page.read_text()
    ranked = re.findall(r'<tr data-author="([^"]+)" data-posts="(\d+)" data-ratio="([\d.]+)"', html)
    assert ranked == [("helpdesk", "7", "0.8571"), ("oldfeed", "4", "0.25"), ("megastore", "8", "0.125")]
    assert json.loads((tmp_path / "scored.jsonl.summary.json").read_text())["authors"] == EXPECTED_AUTHORS
    assert len(re.findall(r'<li class="example"', html)) == 6  # one per account and label
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "posts.jsonl",
        "report.html",
        "scored.jsonl",
        "scored.jsonl.errors.jsonl",
        "scored.jsonl.summary.json",
    ]
    again = ["score", str(source), "-o", str(tmp_path / "again.jsonl")]
    for argv, says in (
        (["--examples", "2"], "give --report FILE too"),
        (["--report", str(tmp_path / "nowhere" / "r.html")], "its folder does not exist"),
    ):
        assert cli.main([*again, *argv]) == 2
        assert says in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal: usage, then the reason
        cli.main([*again, "--report", str(page), "--examples", "11"])
    assert refused.value.code == 2 and "a whole number from 0 to 10, not '11'" in capsys.readouterr().err
    assert not (tmp_path / "again.jsonl").exists()


# -- in Chromium ------------------------------------------------------------------------------------------

ACCOUNTS = {  # account -> conversation share in its first and last week (a straight line between)
    "Northwind Help": (0.45, 0.9),
    "Fjord Outfitters": (0.6, 0.6),
    "Bright Bank": (0.3, 0.55),
    "Lumen Coffee": (0.7, 0.35),
    "MegaMart Deals": (0.1, 0.05),
    "City Transit": (0.5, 0.75),
}
WHO = ["sam", "lee", "ann", "bo", "kim", "ravi", "pat", "noor", "jo", "mia"]
REPLIES = [
    "@{who} thanks, DM us your order number",
    "@{who} so sorry about the delay, we're looking into it now",
    "@{who} what size did you order? we'll swap it for free",
    "@{who} glad you liked it! thanks for the kind words",
    "@{who} sorry to hear that, can you send us a DM with your email?",
    "@{who} happy to help, which store did you visit?",
]
ANNOUNCEMENTS = [
    "Big sale this weekend! Shop the {thing} range now http://x.co",
    "New blog post: 10 tips for your {thing} http://x.co",
    "Doors open at 9am on Saturday for the {thing} fair!",
    "Registration for the {thing} workshop is now open http://x.co",
    ".@{who} New blog post: 10 tips for your {thing} http://x.co",
    ".@{who} Registration for the {thing} workshop is now open http://x.co",
]
THINGS = ["garden", "kitchen", "winter", "cycling", "coffee", "savings"]
GENERATED_WEEKS = 16


def generated_rows(per_account: int = 500) -> list[dict[str, Any]]:
    """A few thousand posts across ACCOUNTS over GENERATED_WEEKS weeks, written here from templates."""
    rng = random.Random(24)
    start = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday: GENERATED_WEEKS weekly buckets exactly
    rows: list[dict[str, Any]] = []
    for name, (first, last) in ACCOUNTS.items():
        for n in range(per_account):
            when = rng.random()
            template = rng.choice(REPLIES if rng.random() < first + (last - first) * when else ANNOUNCEMENTS)
            text = template.format(who=rng.choice(WHO), thing=rng.choice(THINGS))
            moment = start + timedelta(seconds=int(when * GENERATED_WEEKS * 7 * 86400))
            rows.append(
                {"id": f"{name[:3]}-{n}", "text": text, "author": name, "created_at": moment.isoformat()}
            )
    rng.shuffle(rows)
    return rows


@pytest.mark.browser
def test_a_report_of_thousands_of_posts_in_chromium_matches_the_summary(
    browser: Browser, classifier: Classifier, settings: Settings, report_settings: Settings, workers: Workers
) -> None:
    changes = {
        "redis_url": report_settings.redis_url,
        "cache_prefix": report_settings.cache_prefix,
        "api_keys": report_settings.api_keys,
        "job_chunk_size": 500,
    }
    rows = generated_rows()
    with (
        live_app(classifier, settings, **changes) as url,
        httpx.Client(base_url=url, headers=MINE, timeout=60) as http,
    ):
        submitted = http.post("/v1/jobs", content=ndjson(rows), headers={"content-type": NDJSON})
        assert submitted.status_code == 202, submitted.text
        job = submitted.headers["location"]
        succeeded(http, job)
        summary = http.get(f"{job}/summary").json()
        assert summary["rows"] == len(rows) == 3000 and summary["bucket"] == "week"

        foreign: list[str] = []
        context = browser.new_context(
            base_url=url, viewport={"width": 1100, "height": 1500}, extra_http_headers=MINE
        )

        def gate(route: Route) -> None:
            if urlsplit(route.request.url).netloc == urlsplit(url).netloc:
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        context.route("**/*", gate)
        page = context.new_page()
        page.goto(f"{job}/report")
        ranked = page.locator("table.ranking tbody tr")
        assert ranked.count() == len(ACCOUNTS)
        by_author = {a["author"]: a for a in summary["authors"]}
        order = [ranked.nth(i).get_attribute("data-author") for i in range(ranked.count())]
        assert order == [
            a["author"]
            for a in sorted(
                summary["authors"], key=lambda a: (-a["conversation_ratio"], -a["posts"], a["author"])
            )
        ]
        for i, author in enumerate(order):
            row, expected = ranked.nth(i), by_author[author]
            assert float(row.get_attribute("data-ratio") or -1) == expected["conversation_ratio"]
            assert row.locator("svg.ratio").get_attribute("data-ratio") == str(expected["conversation_ratio"])
            assert row.locator("td").nth(4).inner_text() == f"{expected['conversation_ratio'] * 100:.0f} %"
            section = page.locator(f"section.account#account-{i + 1}")
            assert section.get_attribute("data-author") == author
            points = section.locator("svg.trend circle.point")
            got = [
                (
                    points.nth(k).get_attribute("data-start"),
                    float(points.nth(k).get_attribute("data-ratio") or -1),
                    int(points.nth(k).get_attribute("data-posts") or -1),
                )
                for k in range(points.count())
            ]
            assert got == [(p["start"], p["conversation_ratio"], p["posts"]) for p in expected["series"]]
            assert len(got) == GENERATED_WEEKS  # every week has posts of every account
            box = section.locator("svg.trend").bounding_box()
            assert box is not None and box["width"] > 500 and box["height"] > 120  # drawn, at a readable size
            mix = section.locator("svg.mix rect")
            assert {
                mix.nth(k).get_attribute("data-label"): int(mix.nth(k).get_attribute("data-count") or -1)
                for k in range(2)
            } == expected["labels"]
            assert section.locator('[data-figure="posts"]').inner_text() == f"{expected['posts']:,}"
            assert section.locator("table.streaks tbody tr").count() == len(expected["streaks"]) > 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 1100
        assert page.locator("li.example").count() == 0
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1100, "height": 1500})
        assert SCREENSHOT.stat().st_size < 300_000
        page.emulate_media(media="print")
        assert page.locator(".screen-only").first.is_hidden()
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= len(ACCOUNTS) // 2
        assert foreign == []
        context.close()
