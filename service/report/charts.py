"""The report's charts as inline SVG, drawn here from the summary's figures: no script, no font or file
from anywhere, so a saved report works offline and prints as it shows.

Every mark carries its figure in a `data-*` attribute and a `<title>` (a tooltip, and what a screen
reader says), so what a chart shows can be checked against the JSON summary. Colours and text sizes
come from the page's stylesheet (classes `b` and `c` for the two labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from service.jobs.summary import BROADCAST, CONVERSATION, Point

TREND_W, TREND_H = 640, 200
PAD_L, PAD_R, PAD_T, PAD_B = 40, 12, 10, 22
VOLUME_SHARE = 0.3  # the post-count bars take up to this part of the plot's height
X_LABELS = 8  # at most this many dates along the time axis


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def label_mix(labels: dict[str, int], width: int = 240, height: int = 16) -> Markup:
    """A bar split into the account's conversation and broadcast posts (conversation first)."""
    total = sum(labels.values()) or 1
    x, marks = 0.0, []
    for label, css in ((CONVERSATION, "c"), (BROADCAST, "b")):
        count = labels.get(label, 0)
        w = width * count / total
        marks.append(
            f'<rect class="{css}" x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
            f'data-label="{label}" data-count="{count}"><title>{label}: {count}</title></rect>'
        )
        x += w
    return Markup(
        f'<svg class="mix" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="label mix">{"".join(marks)}</svg>'
    )


def ratio_bar(ratio: float, width: int = 160, height: int = 12) -> Markup:
    """The overview's bar: the conversation ratio against the whole width."""
    return Markup(
        f'<svg class="ratio" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="conversation ratio {percent(ratio)}" data-ratio="{ratio}">'
        f'<rect class="b" width="{width}" height="{height}"/>'
        f'<rect class="c" width="{width * ratio:.1f}" height="{height}"/></svg>'
    )


@dataclass(frozen=True)
class TimeAxis:
    """The job's whole time axis, every bucket from the first timed post's to the last's (empty ones
    too), made once per page: where each bucket goes, and which ones carry a date label."""

    place: dict[str, int]  # a bucket's start (YYYY-MM-DD) -> its slot
    labels: list[tuple[int, str]]  # (slot, text), at most X_LABELS

    @classmethod
    def of(cls, starts: Sequence[date], bucket: str) -> TimeAxis:
        every = max(1, -(-len(starts) // X_LABELS))
        shown = 10 if bucket == "week" else 7  # YYYY-MM-DD or YYYY-MM (isoformat pads year 1 as 0001)
        return cls(
            {start.isoformat(): i for i, start in enumerate(starts)},
            [(i, starts[i].isoformat()[:shown]) for i in range(0, len(starts), every)],
        )


def trend(series: Sequence[Point], axis: TimeAxis, overall: float, bucket: str) -> Markup:
    """The conversation ratio per bucket on the job's time axis, as a line broken where a bucket has no
    post, over grey bars of the posts per bucket; the dashed line is the account's ratio over all its
    posts."""
    plot_w, plot_h = TREND_W - PAD_L - PAD_R, TREND_H - PAD_T - PAD_B
    place = axis.place
    slot = plot_w / max(1, len(place))
    most = max((p.posts for p in series), default=1)

    def x(i: int) -> float:
        return PAD_L + slot * (i + 0.5)

    def y(ratio: float) -> float:
        return PAD_T + plot_h * (1 - ratio)

    parts = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        at = y(tick)
        parts.append(
            f'<line class="grid" x1="{PAD_L}" x2="{TREND_W - PAD_R}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="axis" x="{PAD_L - 4}" y="{at + 3:.1f}" text-anchor="end">{percent(tick)}</text>'
        )
    for i, text in axis.labels:
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{TREND_H - PAD_B + 14}" text-anchor="middle">{text}</text>'
        )
    for p in series:
        h = plot_h * VOLUME_SHARE * p.posts / most
        parts.append(
            f'<rect class="volume" x="{x(place[p.start]) - slot * 0.35:.1f}" y="{PAD_T + plot_h - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}"/>'
        )
    parts.append(
        f'<line class="overall" x1="{PAD_L}" x2="{TREND_W - PAD_R}" y1="{y(overall):.1f}" '
        f'y2="{y(overall):.1f}"><title>all posts: {percent(overall)} conversation</title></line>'
    )
    runs: list[list[Point]] = []  # consecutive buckets with posts: one polyline each
    for p in series:
        if runs and place[p.start] == place[runs[-1][-1].start] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    for run in runs:
        points = " ".join(f"{x(place[p.start]):.1f},{y(p.conversation_ratio):.1f}" for p in run)
        parts.append(f'<polyline class="line" points="{points}"/>')
    for p in series:
        parts.append(
            f'<circle class="point" cx="{x(place[p.start]):.1f}" cy="{y(p.conversation_ratio):.1f}" r="3.5" '
            f'data-start="{p.start}" data-ratio="{p.conversation_ratio}" data-posts="{p.posts}">'
            f"<title>{bucket} of {p.start}: {percent(p.conversation_ratio)} conversation, "
            f"{p.conversations} of {p.posts} posts</title></circle>"
        )
    return Markup(
        f'<svg class="trend" viewBox="0 0 {TREND_W} {TREND_H}" role="img" '
        f'aria-label="conversation ratio by {escape(bucket)}">{"".join(parts)}</svg>'
    )
