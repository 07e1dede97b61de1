"""Data access for training: the shared source files, the labels produced by reading, grouping and
near-duplicate keys.

The repository never stores post texts: `gold.jsonl` and `read_labels.jsonl` hold ids, labels and notes,
and the text is joined from the shared data folder (`../shared/data`) at build time.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model.runtime.normalize import normalize

PACKAGE_DIR = Path(__file__).parent
REPO_ROOT = PACKAGE_DIR.parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_BUILD_DIR = PACKAGE_DIR / "build"
GOLD_FILE = PACKAGE_DIR / "gold.jsonl"
READ_LABELS_FILE = PACKAGE_DIR / "read_labels.jsonl"
WRITTEN_FILE = PACKAGE_DIR / "written.jsonl"  # training posts written by the team (they carry text)

SOURCE_FILES = (
    "ibm_customer_care",
    "tweet_act",
    "twitter_conv_corpus",
    "ta1c_news",
    "tweeteval_sample",
    "xlmt_sample",
    "sentirueval_ru",
    "twcs_customer_support",
    "fortune100_corporate",
    "crisislex_t26_sources",
    "political_social_media",
    "kwartler_brand_care",
    "citibanamex_es",
    "fb_news_pages",
)

Record = dict[str, Any]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_sources(data_dir: Path | None = None) -> list[Record]:
    """Every row of every source file, with `norm` (the normalised text) added."""
    data_dir = Path(data_dir or DEFAULT_DATA_DIR)
    records: list[Record] = []
    for name in SOURCE_FILES:
        for rec in read_jsonl(data_dir / f"{name}.jsonl"):
            rec["norm"] = normalize(rec.get("text") or "")
            records.append(rec)
    return records


def load_labels(path: Path) -> dict[str, dict[str, Any]]:
    """id -> {"label", "note"}; the first occurrence of an id wins. Missing file -> empty."""
    if not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in read_jsonl(path):
        out.setdefault(row["id"], row)
    return out


def group_key(rec: Record) -> str:
    """The unit that must not straddle splits: a thread, an author or an outlet; else the post itself.
    Identical to `group()` in the annotators' sampling script, which chose the gold groups."""
    s = rec["source"]
    if s == "ibm_customer_care":
        return "ibm:" + rec["thread_id"]
    if s == "twcs":
        return "twcs:" + str(rec.get("thread_root_id") or rec["tweet_id"])
    if s == "twitter_conv_corpus":
        return "conv:" + rec["thread_id"]
    if s == "fortune100_blm":
        return "f100:" + rec["author"]
    if s == "ta1c":
        return "ta1c:" + rec["media_name"]
    if s == "jbencina_facebook_news":
        return "fbnews:" + rec["author"]
    if s == "kwartler_text_mining":  # one customer's exchange with the care team
        return "kw:" + (rec.get("in_reply_to_screen_name") or _first_handle(rec["text"]) or rec["id"]).lower()
    if s == "citibanamex_twitter":
        handle = _first_handle(rec["text"])
        return "cbx:" + (handle.lower() if handle else rec["id"])
    return rec["id"]


def _first_handle(text: str) -> str | None:
    m = re.match(r"@(\w+)", text)
    return m.group(1) if m else None


_RT_PREFIX = re.compile(r"^(?:rt\s+@user\s*:?\s*)+")


def near_dup_key(norm_text: str) -> str:
    """Key under which near-duplicates collide: lowercase, no leading `rt @user:`, no links, digits,
    punctuation, symbols or emoji, single spaces. Handles survive as the word `user`."""
    t = unicodedata.normalize("NFKC", norm_text).lower()
    t = _RT_PREFIX.sub("", t)
    t = re.sub(r"\bhttp\b", " ", t)
    t = "".join(ch if (unicodedata.category(ch)[0] in "LM") else " " for ch in t)
    return " ".join(t.split())


def stable_bucket(key: str, salt: str, buckets: int = 1000) -> int:
    return int(hashlib.sha256((salt + key).encode()).hexdigest(), 16) % buckets


def utc_stamp() -> str:
    """Now, as builds, artifacts and cards record it: ISO 8601 UTC to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
