"""A batch job's state in Redis, and the SAQ queue its chunks travel on.

Keys, under `{prefix}:job:{id}` (all expire after `job_ttl`; while the upload streams in, after
UPLOAD_LEASE_S unless the upload is still alive, so that one cut off leaves nothing for long):
  (hash)     state, created, owner (the API key's id), total/done rows, chunks/done chunks, errors,
             failure reason
  :in:{n}    chunk n's valid rows (msgpack), written while the upload streams in
  :out:{n}   chunk n's results (msgpack), written with the done marker in one script
  :done      set of finished chunk numbers: the checkpoint that makes a re-run chunk count once
  :tallies   chunk n -> its Tally (msgpack), and
  :timeline  one entry per timed, authored row (sorted set, by bytes), both written with the results:
             what the summary is built from without holding the rows (see summary.py)
  :errors    per-line errors (msgpack), in line order
  :ids       while the upload streams in only: each scored row's id (JSON) -> its line, to spot repeats
  :summary   the summary (JSON), written once every chunk is done
Beside the jobs, for the operators' view (`overview`, the admin dashboard and /health/ready):
  {prefix}:jobs:index:{state}   per state, the jobs in it (sorted set, by the time they entered it),
                                moved by the same scripts that change a job's state
  {prefix}:jobs:chunks:{minute} chunks committed in that minute (a counter, kept an hour)
  {prefix}:workers              each live worker's last heartbeat (sorted set, by time), and
  {prefix}:workers:info         its host, pid, start, model and chunks done (JSON per worker)

Every state change is a compare-and-set script, so a cancel racing the last chunk, or two workers
finishing the same chunk after a lease expired, leave one consistent answer. A chunk SAQ gives up on
(CHUNK_ATTEMPTS tries) fails its job, whose `failure` names the chunk and its input lines: at once when
a worker gave up on it (SAQ's `after_process` hook), at the job's next status read when SAQ's sweep did
(its worker died; no code of ours runs there). A job only
succeeds with every accepted row scored: a chunk whose rows or results are gone from Redis (evicted,
expired) raises ChunkMissing, and its job fails saying so rather than answer with rows missing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

import msgspec
from msgspec import Struct
from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq.job import Job, Status
from saq.queue.redis import RedisQueue

from service.jobs.rows import ERRORS_PAGE, InputRow, JobResult, LineError, Parser, chunks
from service.jobs.summary import JobSummary, Tally, summarize
from service.redis.handle import RedisHandle
from service.settings import Settings

CHUNK_FUNCTION = "process_chunk"
CHUNK_ATTEMPTS = 3  # a chunk whose worker died or raised is tried this often before the job fails
TIMELINE_PAGE = 1000
LAST_ERROR = "last_error"  # SAQ job meta: the exception type of an attempt that raised (never the message)
UPLOAD_LEASE_S = 60  # an upload's keys outlive its last renewal by this much (renewed every third of it)
JOB_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex: anything else names no job, and no key is built from it
log = logging.getLogger("dialogic.jobs")


class State(StrEnum):
    UPLOADING = "uploading"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN = (State.QUEUED, State.RUNNING)
INDEXED = (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED)  # _INDEX's order
WORKER_BEAT_S = 5  # how often a worker says it is alive
WORKER_GONE_S = 15  # a worker silent for this long (three beats missed) counts as gone
RECENT_S = 24 * 3600  # the overview counts the jobs that ended within this window
CHUNK_MINUTES = 10  # the overview's chunks-per-minute series, this many minutes back


class Progress(Struct):
    rows_done: int
    rows_total: int
    chunks_done: int
    chunks_total: int


class ChunkMissing(Exception):
    """A chunk's rows or results are gone from Redis (evicted, expired or deleted): its job cannot be
    completed or served, only failed with this reason."""

    def __init__(self, part: str, chunk: int) -> None:
        super().__init__(f"the {part} of chunk {chunk} are gone from Redis (evicted or expired)")


class WorkerInfo(Struct):
    """What a worker says of itself with each heartbeat."""

    host: str
    pid: int
    started_at: str
    model: str
    chunks: int  # chunks this worker has committed since it started


class WorkerStatus(Struct):
    id: str
    last_heartbeat: str
    info: WorkerInfo | None


class JobsOverview(Struct):
    """Every job of this deployment, as the operators' dashboard shows them."""

    queued: int
    running: int
    succeeded: int  # this and the two below: jobs that ended within RECENT_S
    failed: int
    cancelled: int
    chunks_per_minute: list[int]  # chunks committed per minute, oldest first, the current minute last
    workers: list[WorkerStatus]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class JobStatus(Struct, omit_defaults=True):
    id: str
    state: State
    created_at: str
    progress: Progress
    errors: int
    failure: str | None = None


# The state index (see the module docstring): KEYS[2..6] are its sets in INDEXED order; `move` takes a
# job from the set of its old state to that of its new one, stamped `now`.
_INDEX = """
local INDEX = {queued = KEYS[2], running = KEYS[3], succeeded = KEYS[4], failed = KEYS[5],
  cancelled = KEYS[6]}
local function move(id, from, to, now)
  if INDEX[from] then redis.call('ZREM', INDEX[from], id) end
  redis.call('ZADD', INDEX[to], now, id)
end
"""

# KEYS[1] job hash, KEYS[2..6] the index; ARGV[1] new state, ARGV[2] failure reason ('' for none),
# ARGV[3] job id, ARGV[4] now, ARGV[5..] states it may replace. Returns the state before.
_TRANSITION = (
    _INDEX
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
for i = 5, #ARGV do
  if state == ARGV[i] then
    redis.call('HSET', KEYS[1], 'state', ARGV[1])
    if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'failure', ARGV[2]) end
    move(ARGV[3], state, ARGV[1], ARGV[4])
    return state
  end
end
return state
"""
)

# KEYS: job hash, the index (5), summary; ARGV: summary, ttl, job id, now. An open job succeeds only when
# every chunk is done and every accepted row has a result; otherwise it fails, with the counts as its
# reason. A succeeded job's summary is rewritten (finalizing is idempotent). Returns 1 when the summary
# was stored, -1 when the job failed for missing rows, 0 when it is neither open nor succeeded.
_FINISH = (
    _INDEX
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' or state == 'running' then
  local c = redis.call('HMGET', KEYS[1], 'rows_done', 'rows_total', 'chunks_done', 'chunks_total')
  for i = 1, 4 do c[i] = tonumber(c[i]) or 0 end
  if c[1] ~= c[2] or c[3] ~= c[4] then
    local reason = 'only ' .. c[1] .. ' of ' .. c[2] .. ' rows were scored (' .. c[3] .. ' of ' .. c[4]
      .. ' chunks)'
    redis.call('HSET', KEYS[1], 'state', 'failed', 'failure', reason)
    move(ARGV[3], state, 'failed', ARGV[4])
    return -1
  end
  redis.call('HSET', KEYS[1], 'state', 'succeeded')
  move(ARGV[3], state, 'succeeded', ARGV[4])
elseif state ~= 'succeeded' then
  return 0
end
redis.call('SET', KEYS[7], ARGV[1], 'EX', ARGV[2])
return 1
"""
)

# KEYS: job hash, done set, out key, tallies hash, timeline, this minute's chunk counter; ARGV: chunk,
# results, rows, ttl, tally, then the chunk's timeline entries. The first commit of a chunk stores and
# counts it; a later one (a re-run after a lease expired) changes nothing, so results, tally and
# timeline always come from one run.
# Returns -1 when the job is no longer open (nothing stored), 1 when every chunk is done, else 0.
_COMMIT = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[4])
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
  local entries = {}
  for i = 6, #ARGV do  -- ZADD in slices: Lua's unpack has a stack limit
    entries[#entries + 1] = 0
    entries[#entries + 1] = ARGV[i]
    if #entries == 1000 or i == #ARGV then
      redis.call('ZADD', KEYS[5], unpack(entries))
      entries = {}
    end
  end
  for _, key in ipairs({KEYS[2], KEYS[4], KEYS[5]}) do redis.call('EXPIRE', key, ARGV[4]) end
  redis.call('HINCRBY', KEYS[1], 'rows_done', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
  redis.call('INCR', KEYS[6])
  redis.call('EXPIRE', KEYS[6], 3600)
end
local counts = redis.call('HMGET', KEYS[1], 'chunks_done', 'chunks_total')
if counts[1] == counts[2] then return 1 end
return 0
"""


def given_up(job: Job) -> bool:
    """Whether SAQ has ended this chunk for good. ABORTED with an attempt left is a hung worker's own
    abort: the sweep retries the chunk."""
    return (
        job.function == CHUNK_FUNCTION and job.status in (Status.FAILED, Status.ABORTED) and not job.retryable
    )


# KEYS[1] the upload's id hash; ARGV[1] ttl, then (id, line) pairs. Per pair: 0 when the id is new
# (it is now that line's), else the line that has it.
_CLAIM_IDS = """
local out = {}
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    out[#out + 1] = 0
  else
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return out
"""


@dataclass
class _Upload:
    """An upload streaming in: the keys it has written so far, which its lease keeps alive."""

    job_id: str
    chunks: int = 0


class JobStore:
    """Everything the API and the workers do to a job; the one place that knows the key layout."""

    def __init__(self, redis: Redis, prefix: str, ttl: int, lease_s: int, chunk_timeout_s: int) -> None:
        self.redis, self.prefix, self.ttl = redis, prefix, ttl
        self.lease_s, self.chunk_timeout_s = lease_s, chunk_timeout_s
        self.queue = RedisQueue(redis, name=f"{prefix}:jobs")
        self._transition = redis.register_script(_TRANSITION)
        self._commit = redis.register_script(_COMMIT)
        self._finish = redis.register_script(_FINISH)
        self._claim_ids = redis.register_script(_CLAIM_IDS)
        self._rows = msgspec.msgpack.Decoder(list[InputRow])
        self._results = msgspec.msgpack.Decoder(list[JobResult])
        self._error = msgspec.msgpack.Decoder(LineError)
        self._tally = msgspec.msgpack.Decoder(Tally)
        self._index = [f"{prefix}:jobs:index:{state}" for state in INDEXED]
        self._workers, self._worker_info = f"{prefix}:workers", f"{prefix}:workers:info"
        self._worker_decoder = msgspec.json.Decoder(WorkerInfo)

    @classmethod
    def from_settings(cls, settings: Settings, redis: RedisHandle | None = None) -> JobStore:
        """The store on the process's Redis handle `redis` (None: a handle of its own), whose redis-py
        client bounds every command by `job_redis_timeout_s` (a frozen Redis fails it rather than stall
        it) and retries one that finds its connection dead on a fresh one, so the first request after
        Redis comes back succeeds."""
        redis = redis or RedisHandle.from_settings(settings)
        if redis is None:
            raise ValueError("batch jobs need Redis: set DIALOGIC_REDIS_URL")
        return cls(
            redis.client,
            settings.cache_prefix,
            settings.job_ttl,
            settings.job_lease_s,
            settings.job_chunk_timeout_s,
        )

    @property
    def queued_key(self) -> str:
        """The Redis list of chunks waiting for a worker: the queue depth autoscaling watches."""
        return self.queue.namespace("queued")

    def key(self, job_id: str, *parts: object) -> str:
        return ":".join([f"{self.prefix}:job:{job_id}", *map(str, parts)])

    async def close(self) -> None:
        await self.queue.disconnect()

    async def health(self, timeout_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """For /health/ready, each within `timeout_s`: the job store's state (whether a PING is answered),
        and the live workers (how many, and the latest heartbeat; `alive` is null when unknown)."""
        where = self.redis.connection_pool.connection_kwargs
        place = where.get("path") or f"{where.get('host')}:{where.get('port')}"
        store = {"backend": "redis", "state": "down", "where": f"{place}/{where.get('db', 0)}"}
        workers: dict[str, Any] = {"alive": None, "last_heartbeat": None}
        try:
            async with asyncio.timeout(timeout_s):
                store["state"] = "up" if await self.redis.ping() else "down"
            async with asyncio.timeout(timeout_s):
                alive = await self.workers()
            workers = {
                "alive": len(alive),
                "last_heartbeat": max((w.last_heartbeat for w in alive), default=None),
            }
        except (RedisError, TimeoutError, OSError):
            pass
        return store, workers

    # -- upload -------------------------------------------------------------------------------------

    async def ingest(self, pieces: AsyncIterator[bytes], parser: Parser, chunk_size: int, owner: str) -> str:
        """Stream an upload into chunks and queue them as a job of `owner`'s; returns the job id.

        A failed upload deletes what it wrote; if Redis cannot be reached to do so, what it wrote still
        has only its lease to live (UPLOAD_LEASE_S), as until the upload completes."""
        upload = _Upload(uuid.uuid4().hex)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            async with self._leased(upload):
                pipe = self.redis.pipeline(transaction=False)
                pipe.hset(
                    self.key(upload.job_id),
                    mapping={"state": State.UPLOADING, "created": created, "owner": owner},
                )
                pipe.expire(self.key(upload.job_id), UPLOAD_LEASE_S)
                await pipe.execute()
                await self._write_chunks(upload, pieces, parser, chunk_size)
                await self.redis.unlink(self.key(upload.job_id, "ids"))  # only the upload needs it
                await self._queue_chunks(upload.job_id, upload.chunks)
            await self._expire(upload, self.ttl)  # complete: the job's keys live for the job's TTL
        except BaseException:
            try:
                await self.delete(upload.job_id)
            except RedisError:
                log.warning(
                    "upload not cleaned up; its keys expire with its lease",
                    extra={"event": "upload_abandoned", "job": upload.job_id, "lease_s": UPLOAD_LEASE_S},
                )
            raise
        return upload.job_id

    def _upload_keys(self, upload: _Upload) -> list[str]:
        job_id = upload.job_id
        written = [self.key(job_id), self.key(job_id, "errors"), self.key(job_id, "ids")]
        return written + [self.key(job_id, "in", n) for n in range(upload.chunks)]

    async def _expire(self, upload: _Upload, ttl: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key in self._upload_keys(upload):
            pipe.expire(key, ttl)
        await pipe.execute()

    @asynccontextmanager
    async def _leased(self, upload: _Upload) -> AsyncIterator[None]:
        """Renew the upload's keys' lease three times per lease while the body runs, as the chunks'
        heartbeat does theirs: an upload that dies (its process, or Redis) stops renewing."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(UPLOAD_LEASE_S / 3)
                with suppress(RedisError):  # the upload itself will fail on the same outage
                    await self._expire(upload, UPLOAD_LEASE_S)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _write_chunks(
        self, upload: _Upload, pieces: AsyncIterator[bytes], parser: Parser, chunk_size: int
    ) -> None:
        job_id = upload.job_id

        async def claim(rows: Sequence[InputRow]) -> list[int]:
            """The upload's ids live in Redis, one round trip per chunk, so the API holds no more than a
            chunk; only rows that will be scored claim one (see `chunks`)."""
            args: list[bytes | int] = [UPLOAD_LEASE_S]
            for row in rows:
                args += [msgspec.json.encode(row.id), row.line]
            return [int(first) for first in await self._claim_ids(keys=[self.key(job_id, "ids")], args=args)]

        async for chunk in chunks(pieces, parser, chunk_size, claim):
            pipe = self.redis.pipeline(transaction=False)
            if chunk.rows:
                key = self.key(job_id, "in", upload.chunks)
                pipe.set(key, msgspec.msgpack.encode(chunk.rows), ex=UPLOAD_LEASE_S)
                pipe.hincrby(self.key(job_id), "rows_total", len(chunk.rows))
            if chunk.errors:
                pipe.rpush(self.key(job_id, "errors"), *map(msgspec.msgpack.encode, chunk.errors))
                pipe.expire(self.key(job_id, "errors"), UPLOAD_LEASE_S)
                pipe.hincrby(self.key(job_id), "errors", len(chunk.errors))
            await pipe.execute()
            upload.chunks += bool(chunk.rows)

    async def _queue_chunks(self, job_id: str, chunks: int) -> None:
        await self.redis.hset(self.key(job_id), "chunks_total", chunks)
        await self.transition(job_id, State.QUEUED, State.UPLOADING)
        if chunks == 0:  # nothing valid to score: done already, with an empty summary
            await self.finish(job_id, msgspec.json.encode(summarize(())))
            return
        for n in range(chunks):
            await self.queue.enqueue(
                CHUNK_FUNCTION,
                key=f"{job_id}:{n}",
                job_id=job_id,
                chunk=n,
                heartbeat=self.lease_s,
                timeout=self.chunk_timeout_s,  # the heartbeat keeps a hung chunk's lease: this ends it
                retries=CHUNK_ATTEMPTS,
                ttl=self.ttl,  # SAQ's record of a chunk it gave up on outlives the sweep (see `_swept`)
            )

    async def delete(self, job_id: str) -> None:
        keys = [k async for k in self.redis.scan_iter(match=self.key(job_id) + "*", count=1000)]
        pipe = self.redis.pipeline(transaction=False)
        if keys:
            pipe.unlink(*keys)
        for index in self._index:
            pipe.zrem(index, job_id)
        await pipe.execute()

    # -- workers ------------------------------------------------------------------------------------

    async def transition(
        self, job_id: str, to: State, *sources: State, failure: str | None = None
    ) -> State | None:
        """Move the job to `to` if it is in one of `sources` (with `failure` as its reason, if given);
        returns the state it was in."""
        keys = [self.key(job_id), *self._index]
        before = await self._transition(keys=keys, args=[to, failure or "", job_id, time.time(), *sources])
        return State(_text(before)) if before else None

    async def _get(self, key: str) -> bytes | None:
        blob = await self.redis.get(key)
        return blob if isinstance(blob, bytes) else None

    async def rows(self, job_id: str, chunk: int) -> list[InputRow]:
        """Chunk `chunk`'s rows; raises ChunkMissing when they are gone (a stored chunk is never empty)."""
        blob = await self._get(self.key(job_id, "in", chunk))
        if blob is None:
            raise ChunkMissing("rows", chunk)
        return self._rows.decode(blob)

    async def commit(
        self, job_id: str, chunk: int, results: Sequence[JobResult], tally: Tally, timeline: Sequence[bytes]
    ) -> int:
        """Store a chunk's results, tally and timeline entries with its done marker, atomically (see
        _COMMIT for the answer)."""
        keys = [self.key(job_id), self.key(job_id, "done"), self.key(job_id, "out", chunk)]
        keys += [self.key(job_id, "tallies"), self.key(job_id, "timeline"), self._minute(time.time())]
        args: list[bytes | int] = [chunk, msgspec.msgpack.encode(results), len(results), self.ttl]
        args += [msgspec.msgpack.encode(tally), *timeline]
        return int(await self._commit(keys=keys, args=args))

    async def add_timeline(self, job_id: str, entries: Sequence[bytes]) -> None:
        """Add timeline entries outside a commit (a chunk committed without them); adding twice is
        harmless, as the entries of a row are always the same bytes."""
        if entries:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(self.key(job_id, "timeline"), dict.fromkeys(entries, 0))
            pipe.expire(self.key(job_id, "timeline"), self.ttl)
            await pipe.execute()

    async def finish(self, job_id: str, summary: bytes) -> bool:
        """Store the summary and mark the job succeeded, unless a row has no result (the job fails, see
        _FINISH); returns whether the summary was stored."""
        keys = [self.key(job_id), *self._index, self.key(job_id, "summary")]
        stored = int(await self._finish(keys=keys, args=[summary, self.ttl, job_id, time.time()]))
        if stored == -1:
            log.warning("job failed", extra={"event": "job_failed", "job": job_id, "cause": "rows missing"})
        return stored == 1

    async def fail(self, job_id: str, reason: str, *sources: State) -> None:
        """Fail the job with `reason` if it is in one of `sources` (default: still open)."""
        await self.transition(job_id, State.FAILED, *(sources or OPEN), failure=reason)

    async def chunk_ended(self, job: Job) -> None:
        """A worker's SAQ `after_process` hook: fails the job of a chunk that SAQ gave up on there (it
        raised, or ran past its time limit, on the last attempt)."""
        if given_up(job):
            await self._chunk_given_up(job)

    async def _swept(self, job_id: str, chunks: int) -> bool:
        """Fails an open job one of whose chunks SAQ's sweep gave up on (its worker died or hung on the
        last attempt): no hook of ours runs there, so the job's status read finds it. Returns whether
        one was found. The chunks' SAQ records last as long as the job (see `_queue_chunks`)."""
        done = {int(n) for n in await self.redis.smembers(self.key(job_id, "done"))}
        todo = [f"{job_id}:{n}" for n in range(chunks) if n not in done]
        ended = next((job for job in await self.queue.jobs(todo) if job is not None and given_up(job)), None)
        if ended is not None:
            await self._chunk_given_up(ended)
        return ended is not None

    async def _chunk_given_up(self, job: Job) -> None:
        """No attempt is left for this chunk, so its job can never complete: fail it, naming the rows."""
        kwargs = job.kwargs or {}
        job_id, chunk = str(kwargs["job_id"]), int(kwargs["chunk"])
        try:
            rows = await self.rows(job_id, chunk)
            where = f"input lines {rows[0].line}-{rows[-1].line}"
        except ChunkMissing:
            where = "rows expired"
        if job.status == Status.ABORTED:
            cause = "its worker stopped renewing the lease (it died or hung)"
        elif error := job.meta.get(LAST_ERROR):
            cause = f"scoring raised {error}"
        else:  # nothing raised in the task: SAQ cancelled it at its time limit
            cause = f"it ran past the {job.timeout} s limit"
        reason = f"chunk {chunk} ({where}) failed {job.attempts} times; the last time {cause}"
        if await self.transition(job_id, State.FAILED, *OPEN, failure=reason) not in OPEN:
            return  # failed already (the worker's hook and a status read may both find the chunk)
        log.warning(
            "job failed",
            extra={"event": "job_failed", "job": job_id, "chunk": chunk, "attempts": job.attempts},
        )

    async def beat(self, worker_id: str, info: WorkerInfo) -> None:
        """A worker's heartbeat (every WORKER_BEAT_S); it also forgets the workers gone silent."""
        now = time.time()
        gone = await self.redis.zrangebyscore(self._workers, "-inf", now - WORKER_GONE_S)
        pipe = self.redis.pipeline(transaction=False)
        if gone:
            pipe.zrem(self._workers, *gone)
            pipe.hdel(self._worker_info, *gone)
        pipe.zadd(self._workers, {worker_id: now})
        pipe.hset(self._worker_info, worker_id, msgspec.json.encode(info))
        for key in (self._workers, self._worker_info):  # a deployment that stops leaves nothing for long
            pipe.expire(key, 3600)
        await pipe.execute()

    async def leave(self, worker_id: str) -> None:
        """A worker that stops cleanly is gone at once, not WORKER_GONE_S later."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(self._workers, worker_id)
        pipe.hdel(self._worker_info, worker_id)
        await pipe.execute()

    async def workers_alive(self) -> int:
        return int(await self.redis.zcount(self._workers, time.time() - WORKER_GONE_S, "+inf"))

    async def workers(self) -> list[WorkerStatus]:
        """The live workers, by id, with their last heartbeat and what they said of themselves."""
        alive = cast(
            list[tuple[bytes, float]],
            await self.redis.zrangebyscore(
                self._workers, time.time() - WORKER_GONE_S, "+inf", withscores=True
            ),
        )
        if not alive:
            return []
        infos = await self.redis.hmget(self._worker_info, [worker for worker, _ in alive])
        statuses = [
            WorkerStatus(_text(worker), _iso(beat), self._worker_decoder.decode(info) if info else None)
            for (worker, beat), info in zip(alive, infos, strict=True)
        ]
        return sorted(statuses, key=lambda w: w.id)

    def _minute(self, epoch: float) -> str:
        return f"{self.prefix}:jobs:chunks:{int(epoch // 60)}"

    async def overview(self) -> JobsOverview:
        """Jobs per state, chunks per minute and the live workers, in two round trips (and the index's
        entries for jobs past their TTL dropped)."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for index in self._index:
            pipe.zremrangebyscore(index, "-inf", now - self.ttl)
        for index in self._index:
            pipe.zcount(index, now - RECENT_S, "+inf")
        pipe.zcard(self._index[0])
        pipe.zcard(self._index[1])
        pipe.mget([self._minute(now - 60 * back) for back in range(CHUNK_MINUTES - 1, -1, -1)])
        answers = await pipe.execute()
        recent, (queued, running, minutes) = answers[5:10], answers[10:]
        return JobsOverview(
            queued=int(queued),
            running=int(running),
            succeeded=int(recent[2]),
            failed=int(recent[3]),
            cancelled=int(recent[4]),
            chunks_per_minute=[int(n or 0) for n in minutes],
            workers=await self.workers(),
        )

    # -- readers ------------------------------------------------------------------------------------

    async def status(self, job_id: str, owner: str | None = None) -> JobStatus | None:
        """The job's status; None when there is no such job (an id not of JOB_ID's form included), it is
        still uploading, or `owner` is given and is not the job's owner."""
        if not JOB_ID.fullmatch(job_id):
            return None
        raw = {_text(k): _text(v) for k, v in (await self.redis.hgetall(self.key(job_id))).items()}
        if not raw or raw["state"] == State.UPLOADING:
            return None
        if owner is not None and raw.get("owner") != owner:
            return None
        if raw["state"] in OPEN and await self._swept(job_id, int(raw.get("chunks_total", 0))):
            return await self.status(job_id, owner)

        def count(name: str) -> int:
            return int(raw.get(name, 0))

        progress = Progress(
            count("rows_done"), count("rows_total"), count("chunks_done"), count("chunks_total")
        )
        return JobStatus(
            job_id, State(raw["state"]), raw["created"], progress, count("errors"), raw.get("failure")
        )

    async def chunk_results(self, job_id: str, chunk: int) -> list[JobResult]:
        """Chunk `chunk`'s results; raises ChunkMissing when they are gone."""
        blob = await self._get(self.key(job_id, "out", chunk))
        if blob is None:
            raise ChunkMissing("results", chunk)
        return self._results.decode(blob)

    async def missing_results(self, job_id: str, chunks: int) -> ChunkMissing | None:
        """Whether the results of a done job's `chunks` are all there (one round trip): None, or the
        error naming the first chunk whose results are gone."""
        pipe = self.redis.pipeline(transaction=False)
        for n in range(chunks):
            pipe.exists(self.key(job_id, "out", n))
        for n, found in enumerate(await pipe.execute()):
            if not found:
                return ChunkMissing("results", n)
        return None

    async def tally(self, job_id: str, chunk: int) -> Tally | None:
        blob = await self.redis.hget(self.key(job_id, "tallies"), str(chunk))
        return self._tally.decode(blob) if isinstance(blob, bytes) else None

    async def timeline(self, job_id: str) -> AsyncIterator[list[bytes]]:
        """The job's timeline in byte order, a page at a time (each page resumes after the last entry)."""
        key, after = self.key(job_id, "timeline"), b"-"
        while page := [
            entry
            for entry in await self.redis.zrangebylex(key, after, b"+", start=0, num=TIMELINE_PAGE)
            if isinstance(entry, bytes)
        ]:
            yield page
            after = b"(" + page[-1]

    async def errors(self, job_id: str) -> AsyncIterator[list[LineError]]:
        start = 0
        while page := await self.redis.lrange(self.key(job_id, "errors"), start, start + ERRORS_PAGE - 1):
            yield [self._error.decode(item) for item in page if isinstance(item, bytes)]
            start += len(page)

    async def summary(self, job_id: str) -> JobSummary | None:
        blob = await self._get(self.key(job_id, "summary"))
        return msgspec.json.decode(blob, type=JobSummary) if blob else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
