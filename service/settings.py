"""All configuration, from `DIALOGIC_*` environment variables, in one typed object.

Each field's trailing comment is its row in the README's configuration table:
`python -m service.settings` rewrites that table, and a test fails when the README is stale.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

PREFIX = "DIALOGIC_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"  # address to bind
    port: int = 8000  # port to bind
    model_dir: Path | None = None  # model artifact directory (default: the shipped model)
    model_backend: str = "int8"  # int8 (ONNX Runtime, quantised; same gold F1) or fp32 (torch, the reference)
    model_cpus: int | None = None  # CPUs the model may use (default: the CPU quota)
    model_workers: int = 0  # forward passes the API runs side by side, one thread each (0: model CPUs + 1)
    max_batch: int = 256  # items per /v1/classify/batch request
    max_chars: int = 5000  # characters per text (longer: 422, or truncated with "truncate": true)
    max_body_bytes: int = 8 * 1024 * 1024  # request body limit (413 beyond)
    batch_max_size: int = 8  # largest micro-batch a model worker takes (fp32; int8 takes one text)
    batch_max_wait_ms: float = 4.0  # how long the batcher waits to fill a micro-batch
    queue_size: int = 512  # texts waiting for the model before a 503 (about 3 s of int8 work on 2 CPUs)
    request_timeout_s: float = 30.0  # longest a request may wait for the model
    body_timeout_s: float = 10.0  # seconds to receive a body, +1 s per BODY_MIN_RATE bytes sent; then 408
    body_min_rate: int = 8192  # bytes per second that earn a body one more second (see BODY_TIMEOUT_S)
    redis_url: str | None = None  # Redis for the result cache (unset: in-process LRU)
    cache_ttl: int = 7 * 24 * 3600  # result-cache time to live, seconds
    cache_prefix: str = "dialogic"  # namespace prefix of cache keys
    cache_size: int = 100_000  # entries of the in-process LRU (without Redis)
    cache_local_entries: int = 10_000  # hot results each replica keeps in memory in front of Redis (0: off)
    redis_timeout_ms: float = 50.0  # per Redis operation; slower counts as a failure
    log_level: str = "INFO"  # log level
    max_upload_bytes: int = 200 * 1024 * 1024  # batch-job upload limit, bytes (413 beyond)
    job_chunk_size: int = 500  # rows per batch-job chunk: the unit of work, retry and checkpoint
    job_lease_s: int = 30  # a chunk whose worker sent no heartbeat for this long is retried elsewhere
    job_chunk_timeout_s: int = 600  # seconds a chunk may take to score; past it, retried like a dead worker's
    job_ttl: int = 7 * 24 * 3600  # how long a batch job's rows, results and summary are kept, seconds
    job_redis_timeout_s: float = 2.0  # per job-store Redis command; slower: a 503 problem on /v1/jobs
    api_keys: str | None = None  # SHA-256 digests of accepted X-API-Key values, comma-separated (unset: open)
    rate_limit: int = 0  # requests per minute per API key (per client IP when open) on /v1; 0: off
    shutdown_grace_s: int = 20  # on SIGTERM, how long in-flight requests get to finish before exit
    admin_key: str | None = None  # key for the /admin dashboard (unset: a random key per start: admin is off)
    session_secret: str | None = None  # signs admin session cookies: 32+ random bytes, same on all workers
    admin_session_s: int = 8 * 3600  # an admin session ends this long after login, however active
    admin_login_limit: int = 10  # /admin login attempts per client IP per 15 minutes (429 beyond); 0: off

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.type, raw, f.name)
        return cls(**values)


def _convert(type_name: Any, raw: str, name: str) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc


def env_vars() -> list[str]:
    return [PREFIX + f.name.upper() for f in fields(Settings)]


_FIELD_DOC = re.compile(r"^    (\w+): [^#]+#\s*(.+)$", re.MULTILINE)
TABLE_START, TABLE_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def settings_table() -> str:
    """The README's configuration table, from the field comments above."""
    docs = dict(_FIELD_DOC.findall(Path(__file__).read_text()))
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        default = "unset" if f.default is None or f.default is MISSING else f"`{f.default}`"
        rows.append(f"| `{PREFIX}{f.name.upper()}` | {default} | {docs.get(f.name, '')} |")
    return "\n".join(rows)


def render_readme(readme: str) -> str:
    """`readme` with the text between the table markers replaced by the current table."""
    head, rest = readme.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{settings_table()}\n{TABLE_END}{tail}"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    target.write_text(render_readme(target.read_text()))
