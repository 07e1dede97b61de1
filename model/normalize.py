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


def _strip_controls(text: str) -> str:
    # isprintable() (in C) is True when no character is a control, format, surrogate or unassigned one,
    # which is nearly always: only then is the per-character scan needed.
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C")


def normalize(text: str) -> str:
    """Return the canonical form of a post: NFC, no control or invisible characters, masked
    e-mail addresses, links and handles, single spaces, trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _strip_controls(text)
    text = _EMAIL.sub("email", text)
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    return _SPACE.sub(" ", text).strip()
