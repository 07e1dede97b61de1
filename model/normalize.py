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
_SPACE = re.compile(r"\s+")
_MAX_PASSES = 8


def _strip_controls(text: str) -> str:
    # isprintable() (in C) is True when no character is a control, format, surrogate or unassigned one,
    # which is nearly always: only then is the per-character scan needed.
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C")


def _mask(text: str) -> str:
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", text))
    text = _URL.sub("http", _EMAIL.sub("email", text))
    return _HANDLE.sub("@user", text).strip()


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
