"""Text normalisation shared by training, the cache key and serving, so the three never drift.

Handles and links are masked (`@user`, `http`) so the model learns the *form* of a post (addressed,
pointing at content) rather than which brand or site it names. Bump NORMALIZE_VERSION whenever the
output of `normalize` changes for any input: it is part of every cache key and of the model artifact.
"""

from __future__ import annotations

import re
import unicodedata

NORMALIZE_VERSION = "1"

_URL = re.compile(r"(?:https?\s?:\s?//|www\.)\S+|\bpic\.twitter\.com/\S+|\bt\.co/\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
# Zero-width and bidi controls carry no meaning for the label but change the cache key.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_KEPT_CONTROLS = str.maketrans("\t\n\r", "   ")
_MAX_PASSES = 8


def _strip_controls(text: str) -> str:
    # isprintable() (in C) is False for any control, format, surrogate or unassigned character, and also
    # for separators other than " ", so a post with line breaks or tabs (kept here) is checked again with
    # them as spaces before the per-character scan.
    if text.isprintable() or text.translate(_KEPT_CONTROLS).isprintable():
        return text
    return "".join(ch for ch in text if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C")


def _mask(text: str) -> str:
    # split/join collapses whitespace runs and trims (str.split and regex \s agree on what is whitespace);
    # no substitution below puts whitespace at either end.
    # Each pattern runs only when a character that every match needs is present: "@" for e-mails and
    # handles; "/" or "www." for links (under IGNORECASE only W and w match w).
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if "@" in text:
        text = _EMAIL.sub("email", text)
    if "/" in text or "www." in text.lower():
        text = _URL.sub("http", text)
    if "@" in text:
        text = _HANDLE.sub("@user", text)
    return text


def normalize(text: str) -> str:
    """Return the canonical form of a post: no control or invisible characters, NFC, masked e-mail
    addresses, links and handles, single spaces, trimmed.

    Idempotent, so a normalised text keys the cache exactly like its original. One masking pass is not:
    a mask can complete a new match ("www.x ://y" -> "http ://y"; "@x" + a combining accent -> "@user"
    + accent, which NFC then composes into the handle), so the pass repeats until nothing changes
    (two passes for ordinary posts; the bound only guards against a pathological input).
    """
    text = _strip_controls(_INVISIBLE.sub("", text))
    for _ in range(_MAX_PASSES):
        masked = _mask(text)
        if masked == text:
            break
        text = masked
    return text


# One or more leading handles (a `.@` one too), as `normalize` leaves them.
LEADING_HANDLES = re.compile(r"^(?:\.?@user[\s,:;.]*)+")


def starts_with_handle(text: str) -> bool:
    """Whether the post opens by addressing someone: the reply shape that the report's pitch share and
    the model card's form tables both read."""
    return bool(LEADING_HANDLES.match(normalize(text)))
