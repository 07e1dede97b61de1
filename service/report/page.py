"""A job's summary as one HTML page: the same figures as the JSON summary, drawn, for a person to read.

One renderer for `GET /v1/jobs/{id}/report` and `dialogic score --report`, so a report looks the same
whoever made it. It is built from the summary alone (plus examples, when asked for), never from the
job's id or the time: the same posts give the same page, here or on a deployment. Styles are inline and
the charts are SVG (charts.py): the page loads nothing, so it works saved, offline, and in print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.jobs.examples import AccountExamples
from service.jobs.summary import AuthorSummary, JobSummary, bucket_start
from service.report import charts

TEMPLATE = "report.html"
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(label_mix=charts.label_mix, ratio_bar=charts.ratio_bar, trend=charts.trend)
_env.filters["percent"] = charts.percent


def buckets(summary: JobSummary) -> list[date]:
    """Every bucket from the one of the job's first timed post to the one of its last, empty ones too."""
    if summary.bucket is None or summary.first is None or summary.last is None:
        return []
    first, last = (
        bucket_start(datetime.fromisoformat(moment).timestamp(), summary.bucket)
        for moment in (summary.first, summary.last)
    )
    starts = [first]
    while starts[-1] < last:
        day = starts[-1]
        step = (
            day + timedelta(days=7) if summary.bucket == "week" else (day + timedelta(days=32)).replace(day=1)
        )
        starts.append(step)
    return starts


def ranking(summary: JobSummary) -> list[AuthorSummary]:
    """The accounts from the most conversational to the most broadcast-heavy (more posts first on a tie):
    the summary's own order, turned round for a reader looking for good examples first."""
    return sorted(summary.authors, key=lambda a: (-a.conversation_ratio, -a.posts, a.author))


def render(summary: JobSummary, examples: Sequence[AccountExamples] | None = None) -> str:
    """The report page; `examples` (None: not asked for) are shown under their accounts."""
    return _env.get_template(TEMPLATE).render(
        summary=summary,
        ranking=ranking(summary),
        axis=charts.TimeAxis.of(buckets(summary), summary.bucket or "week"),
        examples=None if examples is None else {e.author: e for e in examples},
    )
