"""Counterfactual training copies: the same act in another form.

Most labelled posts carry their label in a typical form (care replies start with a handle, press lines
do not, comments in front of a retweet are rare), so a model can learn the form instead of the act. For
each training post whose act is known, one copy changes the form where the labelling guide says the
form does not decide: a care reply loses its leading handle, a press line gains one, a thank-you to one
account becomes a comment in front of a retweet, a link is dropped or added, an emoji or a hashtag is
added. The copy keeps the label. A post gets up to `COPIES` copies, each by another change.

The act comes from the annotator (`act` in the label files), else from the annotator's note (older
labels), else from the weak rule that labelled the post.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from model import perturb

Row = dict[str, Any]

# Changes of form that keep each act's label (LABELING.md: the form is evidence, never the label).
# `decorate` (an emoji or a hashtag) keeps every label, so every act gets it after its own changes.
KEEPS: dict[str, tuple[str, ...]] = {
    "care_reply": ("strip_handle", "add_link"),
    "answer": ("strip_addressed",),
    "question_to_person": ("strip_handle",),
    "reply": ("strip_addressed",),
    "winner_notice": ("strip_handle",),
    "invitation": ("strip_handle",),
    "thanks_to_person": ("rt_tail", "strip_handle"),
    "congrats_to_person": ("rt_tail", "strip_handle"),
    "comment_to_author": ("swap_rt_tail",),
    "pitch_reply": ("strip_handle", "drop_link"),
    "auto_dm": ("strip_handle", "drop_link"),
    "announcement": ("add_handle", "dot_handle", "drop_link"),
    "promotion": ("add_handle", "drop_link"),
    "headline": ("add_handle", "drop_link"),
    "link_share": ("add_handle",),
    "contest": ("add_handle",),
    "appeal": ("add_handle",),
    "statement": ("rt_tail",),
}
COPIES = 2
# Decorations for training copies, kept apart from the behavioural suite's (`perturb.EMOJI`, `HASHTAGS`)
# so that the suite's invariance cases stay unseen.
TRAIN_EMOJI = ("😊", "❤️", "🔥", "👏", "💯", "🌟", "😍", "🤝", "📣", "💪", "🌈", "☀️", "😀", "👀", "🥳", "📌")
TRAIN_HASHTAGS = (
    "#tbt",
    "#weekend",
    "#family",
    "#support",
    "#love",
    "#proud",
    "#summer",
    "#team",
    "#mondaymotivation",
    "#breaking",
    "#health",
    "#travel",
    "#food",
    "#sports",
    "#music",
    "#city",
)
RULE_ACTS = {
    "agent_reply": "care_reply",
    "addressed_care_language": "care_reply",
    "addressed_thanks": "thanks_to_person",
    "addressed_question": "question_to_person",
    "pitch_or_contest": "promotion",
    "auto_dm": "auto_dm",
    "corporate_post": "announcement",
    "news_outlet_post": "headline",
    "headline_link": "link_share",
}
# Older labels have a note and no act; these notes name one plainly (first match wins).
NOTE_ACTS: tuple[tuple[re.Pattern[str], str | None], ...] = tuple(
    (re.compile(p), act)
    for p, act in (
        (r"retweet", None),
        (r"care reply|apolog|support reply", "care_reply"),
        (r"customer", None),
        (r"headline|news", "headline"),
        (r"announcement", "announcement"),
        (r"promo|offer", "promotion"),
        (r"reply in (thread|argument)|reply to (a |named )?(user|account)", "reply"),
        (r"question (put )?to (a |one |named )", "question_to_person"),
        (r"thank.*(named|specific|addressed|one)", "thanks_to_person"),
    )
)
# Second person or a greeting: what keeps a reply a reply once its leading handle is gone. Without it, a
# politician's "@user drug testing can prevent…" would become a statement to the timeline.
_ADDRESS = re.compile(
    r"\b(you|your|you'?re|u|ur|thanks?|thank you|hi|hello|hey|tu|tú|te|ti|usted|ustedes|vos|gracias|hola)\b"
    r"|(?<![а-яё])(ты|тебя|тебе|вы|вас|вам|ваш\w*|твой|твоя|спасибо|здравствуйте)(?![а-яё])",
    re.IGNORECASE,
)
WEAK_SHARE = 0.5  # of weak rows with a known act that get a copy (every read row does)
_TAIL_WORDS = 20


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def act_of(label: dict[str, Any]) -> str | None:
    """The act of a labelled post: the annotator's, else the one its note names plainly."""
    if label.get("act"):
        return str(label["act"])
    note = (label.get("note") or "").lower()
    return next((act for pattern, act in NOTE_ACTS if pattern.search(note)), None)


def _tail(text: str) -> str:
    return " ".join(re.sub(r"^(?:rt\s+@user\s*:?\s*)+", "", text, flags=re.I).split()[:_TAIL_WORDS])


def _decorate(text: str) -> str | None:
    if _hash(text) % 2:
        return perturb.add_emoji(text, TRAIN_EMOJI)
    return perturb.add_hashtag(text, TRAIN_HASHTAGS)


def variants(
    row: Row, act: str, tails: Sequence[str], copies: int = COPIES, decorate: bool = True
) -> list[tuple[str, str]]:
    """(operation, new text) for the first `copies` operations that apply: the act's own changes of form
    (starting at one chosen by the id), then, with `decorate`, an emoji or a hashtag."""
    ops = KEEPS.get(act, ())
    start = _hash(row["id"]) % len(ops) if ops else 0
    made: list[tuple[str, str]] = []
    for op in (*ops[start:], *ops[:start], *(("decorate",) if decorate else ())):
        if len(made) == copies:
            break
        if op == "decorate":
            text = _decorate(row["text"])
        elif op == "strip_addressed":
            stripped = perturb.strip_handle(row["text"])
            text = stripped if stripped and _ADDRESS.search(stripped) else None
            op = "strip_handle"
        elif op == "rt_tail":
            comment = perturb.strip_handle(row["text"]) or row["text"]
            text = perturb.add_rt_tail(comment, _tail(tails[_hash(row["id"] + op) % len(tails)]))
        elif op == "swap_rt_tail":
            text = perturb.swap_rt_tail(row["text"], [_tail(t) for t in tails[:50]])
        else:
            text = perturb.PERTURBATIONS[op](row["text"])
        if text:
            made.append((op, text))
    return made


def counterfactuals(
    rows: Sequence[Row], tails: Sequence[str], copies: int = COPIES, decorate: bool = True
) -> list[Row]:
    """Up to `copies` copies per eligible row (all read rows, WEAK_SHARE of weak rows), label and group
    kept (`variants` says which).

    `tails` are broadcast posts of the same split, put after a comment as the retweeted text."""
    out: list[Row] = []
    for row in rows:
        act = row.get("act")
        if act is None or (row["origin"] == "weak" and _hash(row["id"]) % 100 >= 100 * WEAK_SHARE):
            continue
        out.extend(
            {
                **row,
                "id": f"{row['id']}~{op}",
                "text": text,
                "origin": "augmented",
                "rule": op,
                "weight": row["weight"] / 2,
                "parent": row["id"],
            }
            for op, text in variants(row, act, tails, copies, decorate)
        )
    return out
