"""Texts for load tests and benchmarks: real posts from ../shared/data, never copied into the repo.

`load_posts` mixes every source file (languages, lengths, styles) in a seeded order; without
../shared it falls back to a few sentences written here. `TextSampler` turns that pool into traffic:
`fresh()` makes every text unique (a short nonce token) so that nothing is served from the result
cache, `hot()` repeats a small fixed set, and `mixed()` sends a configurable share of hot texts.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"

FALLBACK_POSTS: tuple[str, ...] = (
    "New on the blog: five ways to cut your energy bill this winter. Read more at the link.",
    "@user thanks for reaching out, could you DM us your order number so we can take a look?",
    "Our stores open at 8am tomorrow for the holiday sale. See you there!",
    "lol same, I was literally about to text you about that",
    "Join our webinar on Thursday: how small teams ship faster with less stress. Register now.",
    "@user did you ever get a reply from them? mine has been stuck for a week",
    "Breaking: heavy rain expected across the region tonight, avoid low-lying roads.",
    "Happy birthday!! hope you have the best day, miss you",
    "We are proud to announce our partnership with local schools to fund 500 new laptops.",
    "@user that's so weird, have you tried restarting it? worked for me",
    "Service update: trains between the two central stations are delayed by about 20 minutes.",
    "honestly who decided mondays should exist",
    "Introducing the new app: faster search, dark mode and offline maps. Update today.",
    "@user we're sorry to hear that. Please send us a private message with the details.",
    "Watch the full interview with our CEO on the future of clean energy.",
    "are you coming tonight or not? need to know how much food to get",
)


def load_posts(n: int, seed: int = 0, data_dir: Path = DATA_DIR) -> list[str]:
    """Up to `n` distinct non-empty posts, sources interleaved so any prefix is a mix of them."""
    files = sorted(data_dir.glob("*.jsonl")) if data_dir.is_dir() else []
    if not files:
        return list(itertools.islice(itertools.cycle(FALLBACK_POSTS), n))
    rng = random.Random(seed)
    per_source: list[list[str]] = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            texts = [t for line in fh if (t := json.loads(line).get("text", "").strip())]
        rng.shuffle(texts)
        per_source.append(texts)
    seen: set[str] = set()
    posts: list[str] = []
    for text in itertools.chain.from_iterable(itertools.zip_longest(*per_source)):
        if text is not None and text not in seen:
            seen.add(text)
            posts.append(text)
            if len(posts) == n:
                break
    return posts


class TextSampler:
    """Draws request texts from a pool: unique ones (cache misses) or a repeated hot set (hits)."""

    def __init__(
        self, posts: list[str], repeat_share: float = 0.0, hot_size: int = 64, seed: int = 0
    ) -> None:
        if not posts:
            raise ValueError("TextSampler needs at least one post")
        if not 0.0 <= repeat_share <= 1.0:
            raise ValueError(f"repeat_share must be within [0, 1], got {repeat_share}")
        self.posts, self.repeat_share = posts, repeat_share
        self.hot_set = posts[:hot_size]
        self._rng = random.Random(seed)
        self._cycle = itertools.cycle(posts)
        self._counter = itertools.count()
        # Differs per process and run, so a persistent (Redis) cache never holds a "fresh" text.
        self._run = secrets.token_hex(3)

    def fresh(self) -> str:
        """A post made unique by a short trailing token that survives normalisation."""
        return f"{next(self._cycle)} #{self._run}{next(self._counter):x}"

    def hot(self) -> str:
        return self._rng.choice(self.hot_set)

    def mixed(self) -> str:
        return self.hot() if self._rng.random() < self.repeat_share else self.fresh()

    def batch(self, size: int) -> list[str]:
        return [self.mixed() for _ in range(size)]
