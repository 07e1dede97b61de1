"""Changes of form that the labelling guide says do not decide the label.

A leading handle, a `.@` before it, a link, a hashtag, an emoji, an agent's signature or the text of a
retweet after a comment are evidence about a post, not the post's act. The behavioural suite
(`model/checks`) applies these to its cases and expects the label to hold; the data build applies
them to posts labelled by reading (counterfactual augmentation), so that training does not reward the
form. Every function returns None where it does not apply, so a caller never gets an unchanged copy.
Texts are normalised (`@user`, `http`) before and after, as the model sees them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from model.runtime.normalize import LEADING_HANDLES, normalize, starts_with_handle

_LINK = re.compile(r"\s*\bhttp\b")
_RT_TAIL = re.compile(r"\b(?:RT|MT)[:\s]\s*@user\b:?\s*")
_QUOTE = re.compile(r'["“]@user:')
_RETWEET = re.compile(r"^(?:rt|mt)\s+@user\b", re.IGNORECASE)

HASHTAGS = ("#community", "#news", "#update", "#thankyou", "#2024", "#local", "#help", "#today")
EMOJI = ("🙂", "🙌", "👍", "🎉", "💙", "✨", "🙏", "👇")
SIGNATURES = ("^JS", "*AK", "-Maria", "^TL", "- Sam", "*RB")
# Retweeted posts put after a comment by `swap_rt_tail` (written for this module).
RT_TAILS = (
    "Our volunteers planted 300 trees along the river this weekend http",
    "New study: most small businesses plan to hire this spring http",
    "Doors open at 9am for the community fair on Saturday!",
    "We just crossed 10,000 members. Thank you all!",
    "Registration for the summer coding camp is now open http",
)

Perturbation = Callable[[str], str | None]


def _pick(options: Sequence[str], text: str) -> str:
    """A deterministic choice per text, so a suite run or a build is repeatable."""
    return options[int(hashlib.sha256(text.encode()).hexdigest(), 16) % len(options)]


def _changed(before: str, after: str) -> str | None:
    after = normalize(after)
    return after if after and after != normalize(before) else None


FORMS = ("leading handle", "no handle", "comment + retweet", "retweet")


def form(text: str) -> str:
    """The shape a post has in a feed, for reporting results by form (one of FORMS)."""
    t = normalize(text)
    if _RETWEET.match(t):
        return "retweet"
    if _RT_TAIL.search(t) or _QUOTE.search(t):
        return "comment + retweet"
    return "leading handle" if starts_with_handle(t) else "no handle"


def strip_handle(text: str) -> str | None:
    t = normalize(text)
    rest = LEADING_HANDLES.sub("", t)
    return _changed(t, rest) if rest and rest != t else None


def add_handle(text: str) -> str | None:
    t = normalize(text)
    return None if starts_with_handle(t) else _changed(t, "@user " + t)


def dot_handle(text: str) -> str | None:
    t = normalize(text)
    if t.startswith(".@user"):
        return _changed(t, t[1:])
    if t.startswith("@user"):
        return _changed(t, "." + t)
    return None


def add_link(text: str) -> str | None:
    t = normalize(text)
    return None if "http" in t.split() else _changed(t, t + " http")


def drop_link(text: str) -> str | None:
    t = normalize(text)
    if "http" not in t.split():
        return None
    rest = _LINK.sub("", t).strip()
    return _changed(t, rest) if len(rest.split()) >= 2 else None


def add_hashtag(text: str, hashtags: Sequence[str] = HASHTAGS) -> str | None:
    t = normalize(text)
    return _changed(t, f"{t} {_pick(hashtags, t)}")


def add_emoji(text: str, emoji: Sequence[str] = EMOJI) -> str | None:
    t = normalize(text)
    return _changed(t, f"{t} {_pick(emoji, t)}")


def add_signature(text: str) -> str | None:
    t = normalize(text)
    return _changed(t, f"{t} {_pick(SIGNATURES, t)}")


def swap_rt_tail(text: str, tails: Sequence[str] = RT_TAILS) -> str | None:
    """Keep the comment in front of `RT @user:` and replace what was retweeted."""
    t = normalize(text)
    m = _RT_TAIL.search(t)
    if not m or m.start() == 0:
        return None
    tail = _pick([x for x in tails if x not in t[m.end() :]] or tails, t)
    return _changed(t, t[: m.end()] + normalize(tail))


def add_rt_tail(text: str, tail: str) -> str | None:
    """A comment in front of a retweet: `comment RT @user: tail` (the comment keeps its label)."""
    t = normalize(text)
    return None if _RT_TAIL.search(t) else _changed(t, f"{t} RT @user: {normalize(tail)}")


PERTURBATIONS: dict[str, Perturbation] = {
    "strip_handle": strip_handle,
    "add_handle": add_handle,
    "dot_handle": dot_handle,
    "add_link": add_link,
    "drop_link": drop_link,
    "add_hashtag": add_hashtag,
    "add_emoji": add_emoji,
    "add_signature": add_signature,
    "swap_rt_tail": swap_rt_tail,
}
