"""All configuration, from `DIALOGIC_*` environment variables, in one typed object.

Each field carries its own description, which is its row in the README's configuration table:
`python -m service.settings` rewrites that table, and a test fails when the README is stale. Values are
converted by msgspec from the field's type, so a new field needs no parsing code.
"""

from __future__ import annotations

import os
import sys
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import msgspec

PREFIX = "DIALOGIC_"
DOC = "doc"  # a field's metadata key: its meaning, as the README table says it


def env_name(field_name: str) -> str:
    """The environment variable of a Settings field."""
    return PREFIX + field_name.upper()


def setting(default: Any, doc: str) -> Any:
    """A field with its default and its one-line meaning."""
    return field(default=default, metadata={DOC: doc})


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", "address to bind")
    port: int = setting(8000, "port to bind")
    model_dir: Path | None = setting(None, "model artifact directory (default: the shipped model)")
    model_backend: str = setting(
        "int8", "int8 (ONNX Runtime, quantised; same gold F1) or fp32 (torch, the reference)"
    )
    model_cpus: int | None = setting(None, "CPUs the model may use (default: the CPU quota)")
    model_workers: int = setting(
        0, "forward passes the API runs side by side, one thread each (0: model CPUs + 1)"
    )
    max_batch: int = setting(256, "items per /v1/classify/batch request")
    max_chars: int = setting(5000, 'characters per text (longer: 422, or truncated with "truncate": true)')
    max_body_bytes: int = setting(8 * 1024 * 1024, "request body limit (413 beyond)")
    batch_max_size: int = setting(8, "largest micro-batch a model worker takes (fp32; int8 takes one text)")
    batch_max_wait_ms: float = setting(4.0, "how long the batcher waits to fill a micro-batch")
    queue_size: int = setting(
        512, "texts waiting for the model before a 503 (about 3 s of int8 work on 2 CPUs)"
    )
    request_timeout_s: float = setting(30.0, "longest a request may wait for the model")
    body_timeout_s: float = setting(
        10.0, "seconds to receive a body, +1 s per BODY_MIN_RATE bytes sent; then 408"
    )
    body_min_rate: int = setting(
        8192, "bytes per second that earn a body one more second (see BODY_TIMEOUT_S)"
    )
    redis_url: str | None = setting(None, "Redis for the result cache (unset: in-process LRU)")
    cache_ttl: int = setting(7 * 24 * 3600, "result-cache time to live, seconds")
    cache_prefix: str = setting("dialogic", "namespace prefix of cache keys")
    cache_size: int = setting(100_000, "entries of the in-process LRU (without Redis)")
    cache_local_entries: int = setting(
        10_000, "hot results each replica keeps in memory in front of Redis (0: off)"
    )
    redis_timeout_ms: float = setting(50.0, "per Redis operation; slower counts as a failure")
    log_level: str = setting("INFO", "log level")
    max_upload_bytes: int = setting(200 * 1024 * 1024, "batch-job upload limit, bytes (413 beyond)")
    job_chunk_size: int = setting(500, "rows per batch-job chunk: the unit of work, retry and checkpoint")
    job_lease_s: int = setting(
        30, "a chunk whose worker sent no heartbeat for this long is retried elsewhere"
    )
    job_chunk_timeout_s: int = setting(
        600, "seconds a chunk may take to score; past it, retried like a dead worker's"
    )
    job_ttl: int = setting(
        7 * 24 * 3600, "how long a batch job's rows, results and summary are kept, seconds"
    )
    job_redis_timeout_s: float = setting(
        2.0, "per job-store Redis command; slower: a 503 problem on /v1/jobs"
    )
    api_keys: str | None = setting(
        None, "SHA-256 digests of accepted X-API-Key values, comma-separated (unset: open)"
    )
    rate_limit: int = setting(0, "requests per minute per API key (per client IP when open) on /v1; 0: off")
    shutdown_grace_s: int = setting(20, "on SIGTERM, how long in-flight requests get to finish before exit")
    admin_key: str | None = setting(
        None, "key for the /admin dashboard (unset: a random key per start: admin is off)"
    )
    session_secret: str | None = setting(
        None, "signs admin session cookies: 32+ random bytes, same on all workers"
    )
    admin_session_s: int = setting(8 * 3600, "an admin session ends this long after login, however active")
    admin_login_limit: int = setting(
        10, "/admin login attempts per client IP per 15 minutes (429 beyond); 0: off"
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Raises ValueError naming the variable when a value does not convert to its field's type."""
        env = os.environ if environ is None else environ
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = env_name(f.name)
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:  # strict=False: numbers and booleans from their text, as an environment holds them
                values[f.name] = msgspec.convert(raw, types[f.name], strict=False, dec_hook=_path)
            except msgspec.ValidationError as exc:
                raise ValueError(f"{name}={raw!r} is not valid: {exc}") from None
        return cls(**values)


def _path(kind: type, value: Any) -> Any:
    """msgspec has no Path type: a Path field takes the string as is."""
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(kind)


def env_vars() -> list[str]:
    return [env_name(f.name) for f in fields(Settings)]


TABLE_START, TABLE_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def settings_table() -> str:
    """The README's configuration table, from the fields: name, default and meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        default = "unset" if f.default is None or f.default is MISSING else f"`{f.default}`"
        rows.append(f"| `{env_name(f.name)}` | {default} | {f.metadata[DOC]} |")
    return "\n".join(rows)


def render_readme(readme: str) -> str:
    """`readme` with the text between the table markers replaced by the current table."""
    head, rest = readme.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{settings_table()}\n{TABLE_END}{tail}"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    target.write_text(render_readme(target.read_text()))
