"""Locust load test for Dialogic: real posts, step or spike profile, and an SLO gate at the end.

    locust -f load/locustfile.py --headless -H http://127.0.0.1:8000      # or: make load

Tasks (select with Locust's --tags / --exclude-tags):
  single  POST /v1/classify with a unique post (always a cache miss)
  batch   POST /v1/classify/batch with 32 unique posts
  repeat  POST /v1/classify where a share of the texts (DIALOGIC_LOAD_REPEAT_SHARE) repeats a small
          hot set, i.e. cache traffic

The shape (DIALOGIC_LOAD_PROFILE, or --load-profile) is `step` (add DIALOGIC_LOAD_STEP_USERS users every
DIALOGIC_LOAD_STEP_S seconds up to DIALOGIC_LOAD_USERS) or `spike` (DIALOGIC_LOAD_STEP_USERS users,
then DIALOGIC_LOAD_USERS for the middle fifth of the run); either stops after DIALOGIC_LOAD_DURATION_S.
When Locust quits, the run fails (exit code 1) if the error rate is above DIALOGIC_LOAD_MAX_ERROR_RATE,
the p99 above DIALOGIC_LOAD_MAX_P99_MS, or the throughput below DIALOGIC_LOAD_MIN_RPS. The defaults
suit the service on 2 CPU cores.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, events, tag, task
from locust.env import Environment

from load.texts import TextSampler, load_posts

BATCH_SIZE = 32
log = logging.getLogger("dialogic.load")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DIALOGIC_LOAD_{name}") or default


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("Dialogic")
    group.add_argument("--load-profile", choices=("step", "spike"), default=_env("PROFILE", "step"))
    group.add_argument("--load-duration-s", type=float, default=float(_env("DURATION_S", "60")))
    group.add_argument("--load-users", type=int, default=int(_env("USERS", "24")))
    group.add_argument("--load-step-users", type=int, default=int(_env("STEP_USERS", "4")))
    group.add_argument("--load-step-s", type=float, default=float(_env("STEP_S", "10")))
    group.add_argument("--repeat-share", type=float, default=float(_env("REPEAT_SHARE", "0.5")))
    group.add_argument("--max-error-rate", type=float, default=float(_env("MAX_ERROR_RATE", "0")))
    group.add_argument("--max-p99-ms", type=float, default=float(_env("MAX_P99_MS", "2000")))
    group.add_argument("--min-rps", type=float, default=float(_env("MIN_RPS", "5")))


sampler = TextSampler(load_posts(int(_env("POSTS", "2000"))))


@events.init.add_listener
def _configure(environment: Environment, **_: Any) -> None:
    if environment.parsed_options is not None:
        sampler.repeat_share = environment.parsed_options.repeat_share


class Client(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @tag("single")
    @task(4)
    def single(self) -> None:
        self.client.post("/v1/classify", json={"text": sampler.fresh()}, name="classify")

    @tag("batch")
    @task(1)
    def batch(self) -> None:
        items = [{"text": sampler.fresh()} for _ in range(BATCH_SIZE)]
        with self.client.post(
            "/v1/classify/batch", json={"items": items}, name=f"batch[{BATCH_SIZE}]", catch_response=True
        ) as response:
            results = response.json().get("results", []) if response.status_code == 200 else []
            if response.status_code == 200 and sum("label" in r for r in results) != BATCH_SIZE:
                response.failure("batch: not every item got a label")

    @tag("repeat")
    @task(4)
    def repeat(self) -> None:
        self.client.post("/v1/classify", json={"text": sampler.mixed()}, name="classify (repeat)")


class Profile(LoadTestShape):
    """`step`: ramp in steps and hold; `spike`: a base load with a burst in the middle fifth."""

    def tick(self) -> tuple[int, float] | None:
        opts = self.runner.environment.parsed_options if self.runner else None
        if opts is None:
            return None
        t = self.get_run_time()
        if t >= opts.load_duration_s:
            return None
        if opts.load_profile == "spike":
            burst = 0.4 * opts.load_duration_s <= t < 0.6 * opts.load_duration_s
            return (opts.load_users, float(opts.load_users)) if burst else (opts.load_step_users, 100.0)
        users = min(opts.load_users, opts.load_step_users * (1 + int(t // opts.load_step_s)))
        return users, float(opts.load_step_users)


@events.quitting.add_listener
def _slo_gate(environment: Environment, **_: Any) -> None:
    """Exit code 1 when the run missed a bound (Locust's own failures already set it non-zero)."""
    opts, total = environment.parsed_options, environment.stats.total
    if opts is None:
        return
    p99 = total.get_response_time_percentile(0.99) or 0.0
    missed = [
        f"{what}: {value:.3g} (bound {bound:g})"
        for what, value, bound, bad in (
            ("error rate", total.fail_ratio, opts.max_error_rate, total.fail_ratio > opts.max_error_rate),
            ("p99 ms", p99, opts.max_p99_ms, p99 > opts.max_p99_ms),
            ("requests/s", total.total_rps, opts.min_rps, total.total_rps < opts.min_rps),
        )
        if bad
    ]
    if total.num_requests == 0:
        missed.append("no requests were made")
    for line in missed:
        log.error("SLO missed: %s", line)
    if missed:
        environment.process_exit_code = 1
    else:
        log.info(
            "SLO met: error rate %.3g, p99 %.0f ms, %.1f requests/s", total.fail_ratio, p99, total.total_rps
        )
