"""The admin dashboard in a real headless Chromium against a real `dialogic serve`: the login wall,
live figures that move with traffic, the cache flush with its confirmation step, CSRF on actions,
screenshots at laptop and phone widths, and the API docs rendering with no network beyond the app."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route

from service.jobs.rows import NDJSON
from service.settings import Settings
from tests.admin.conftest import ARTIFACTS, Server
from tests.jobs.conftest import REDIS_URL, WorkerProcess

pytestmark = pytest.mark.browser
POLL_WAIT_MS = 15_000  # the page polls every 3 s; a busy machine gets some slack
WORKER_WAIT_MS = 240_000  # a worker loads the model first: on a busy shared machine, minutes


@pytest.fixture
def foreign() -> list[str]:
    """URLs the page tried to load from anywhere but the app (a CDN, say): must stay empty."""
    return []


@pytest.fixture
def context(browser: Browser, server: Server, foreign: list[str]) -> Iterator[BrowserContext]:
    """A fresh profile whose requests may reach only the app: anything else is aborted and recorded."""
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    app_origin = urlsplit(server.url).netloc

    def gate(route: Route) -> None:
        if urlsplit(route.request.url).netloc == app_origin:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    ctx.route("**/*", gate)
    yield ctx
    ctx.close()


def log_in(page: Page, key: str) -> None:
    page.goto("/admin/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin")


def metric(page: Page, name: str) -> str:
    return page.locator(f'#panel [data-metric="{name}"]').inner_text().strip()


def wait_until(page: Page, condition: Callable[[], bool], what: str, wait_ms: int = POLL_WAIT_MS) -> None:
    """Poll `condition` from Python: the page's CSP (rightly) forbids the eval that wait_for_function uses."""
    for _ in range(wait_ms // 250):
        if condition():
            return
        page.wait_for_timeout(250)
    pytest.fail(f"timed out waiting for {what}")


def polls(page: Page) -> int:
    return int(page.locator("#panel").get_attribute("data-polls") or 0)


def wait_for_poll(page: Page) -> None:
    """Block until the panel has been re-fetched once more than now."""
    seen = polls(page)
    wait_until(page, lambda: polls(page) > seen, "the next poll")


def test_admin_needs_a_login(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    page.goto("/admin")
    assert urlsplit(page.url).path == "/admin/login"
    assert page.locator("h1").inner_text() == "Admin log in"
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/admin", follow_redirects=False).status_code == 303
        assert http.get("/admin/api/stats").status_code == 401
        assert http.get("/admin/panel").status_code == 401
        assert http.post("/admin/flush", data={"csrf": "x"}, follow_redirects=False).status_code == 303


def test_wrong_key_is_rejected(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/admin/login")
    page.fill("#key", "not-the-key")
    with page.expect_response("**/admin/login") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    assert "not valid" in page.locator(".alert").inner_text()
    page.goto("/admin")
    assert urlsplit(page.url).path == "/admin/login"


def test_dashboard_follows_traffic(
    context: BrowserContext, server: Server, http: httpx.Client, foreign: list[str]
) -> None:
    page = context.new_page()
    log_in(page, server.admin_key)
    assert metric(page, "phase") == "Ready"
    requests_before = int(metric(page, "requests-window"))
    labelled_before = int(metric(page, "count-broadcast")) + int(metric(page, "count-conversation"))

    posts = [f"@sam thanks, see you at {i} tomorrow? {uuid.uuid4().hex[:6]}" for i in range(4)]
    posts += [f"Our new release is out now! Download today {uuid.uuid4().hex[:6]}" for _ in range(2)]
    for text in posts:
        assert http.post("/v1/classify", json={"text": text}).status_code == 200
    secret = f"private-post-{uuid.uuid4().hex}"
    refused = http.post(
        "/v1/classify", json={"text": secret + "x" * 250}, headers={"X-Request-ID": "admin-test-too-long"}
    )
    assert refused.status_code == 422

    wait_for_poll(page)
    wait_until(page, lambda: int(metric(page, "requests-window")) >= requests_before + 7, "the new requests")
    labelled_after = int(metric(page, "count-broadcast")) + int(metric(page, "count-conversation"))
    assert labelled_after - labelled_before == len(posts)
    assert metric(page, "p50").endswith("p50") and metric(page, "p50")[0].isdigit()
    errors = page.locator("table.errors").inner_text()
    assert "admin-test-too-long" in errors and "422" in errors and "/v1/classify" in errors
    assert secret not in page.content()
    assert foreign == []


def test_flush_cache_from_the_dashboard(context: BrowserContext, server: Server, http: httpx.Client) -> None:
    text = f"@ana did you get my message about {uuid.uuid4().hex[:8]}?"
    assert http.post("/v1/classify", json={"text": text}).json()["cached"] is False
    assert http.post("/v1/classify", json={"text": text}).json()["cached"] is True

    page = context.new_page()
    log_in(page, server.admin_key)
    page.click("#flush")
    page.wait_for_url("**/admin/flush")
    assert "Flush the result cache?" in page.locator("h1").inner_text()
    assert http.post("/v1/classify", json={"text": text}).json()["cached"] is True  # nothing happened yet
    page.click("#confirm-flush")
    page.wait_for_url("**/admin?flushed=*")
    assert "Cache flushed" in page.locator("#flash").inner_text()
    assert http.post("/v1/classify", json={"text": text}).json()["cached"] is False


def test_actions_need_the_csrf_token(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    log_in(page, server.admin_key)
    forged = page.request.post("/admin/flush", form={"csrf": "forged"}, max_redirects=0)
    assert forged.status == 403
    assert page.request.post("/admin/logout", form={}, max_redirects=0).status == 403
    page.click("form.logout button")
    page.wait_for_url("**/admin/login")
    page.goto("/admin")
    assert urlsplit(page.url).path == "/admin/login"


def test_screenshots(context: BrowserContext, server: Server, http: httpx.Client, foreign: list[str]) -> None:
    """Laptop and phone widths: saved for a human to look at, and checked for sideways overflow."""
    ARTIFACTS.mkdir(exist_ok=True)
    for text in ("@lee see you soon!", "Sale ends tonight, shop now", "@lee see you soon!", "   "):
        http.post("/v1/classify", json={"text": text})
    page = context.new_page()
    log_in(page, server.admin_key)
    wait_for_poll(page)
    page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    wait_for_poll(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "admin-390.png"), full_page=True)
    assert foreign == []


def test_jobs_and_workers_panel_follows_a_job_and_its_worker(
    context: BrowserContext, server: Server, http: httpx.Client, tmp_path: Path
) -> None:
    """A job submitted while no worker runs is counted as queued, with the hint; a real worker then
    appears with its heartbeat (UTC), scores the job, and is gone from the panel once stopped."""
    page = context.new_page()
    log_in(page, server.admin_key)
    assert metric(page, "workers-alive") == "0"
    queued = int(metric(page, "jobs-queued"))
    body = b'{"id": 1, "text": "@ana is the shop open today?"}\n{"id": 2, "text": "New arrivals, shop now"}\n'
    submitted = http.post("/v1/jobs", content=body, headers={"content-type": NDJSON})
    assert submitted.status_code == 202 and submitted.json()["workers"] == 0
    wait_until(page, lambda: int(metric(page, "jobs-queued")) == queued + 1, "the queued job")
    assert "no worker is alive" in metric(page, "jobs-hint")
    settings = Settings(
        redis_url=REDIS_URL, cache_prefix=server.prefix, model_cpus=1, max_chars=200, log_level="WARNING"
    )
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        wait_until(
            page, lambda: metric(page, "workers-alive") == "1", "the worker's heartbeat", WORKER_WAIT_MS
        )
        wait_until(
            page, lambda: int(metric(page, "jobs-succeeded")) >= 1, "the job to succeed", WORKER_WAIT_MS
        )
        assert int(metric(page, "jobs-queued")) == queued and int(metric(page, "chunks-per-minute")) >= 1
        row = page.locator("#panel table.workers tbody tr").inner_text()
        assert f":{worker.process.pid}" in row and "UTC" in row and "ago" in row and "dialogic-minilm" in row
        assert page.locator('#panel [data-metric="jobs-hint"]').count() == 0
        assert http.get(submitted.headers["location"]).json()["state"] == "succeeded"
    finally:
        worker.stop()
    wait_until(page, lambda: metric(page, "workers-alive") == "0", "the stopped worker to leave")
    page.screenshot(path=str(ARTIFACTS / "admin-jobs.png"), full_page=True)


def test_model_panel_is_a_small_table_with_version_and_date_on_one_line(
    context: BrowserContext, server: Server, http: httpx.Client
) -> None:
    model = http.get("/v1/model").json()
    page = context.new_page()
    log_in(page, server.admin_key)
    line = page.locator('#panel [data-metric="model-line"]')
    evaluated = datetime.fromisoformat(model["metrics"]["evaluated_at"].replace("Z", "+00:00"))
    assert model["version"] in line.inner_text()
    assert line.inner_text().endswith(f" · {evaluated:%Y-%m-%d %H:%M} UTC")  # whole: not cut short
    height = float(
        page.evaluate("parseFloat(getComputedStyle(document.querySelector('.model-line')).lineHeight)")
    )
    box = line.bounding_box()
    assert box is not None and box["height"] < 1.5 * height  # one line, not four
    table = page.locator('#panel [data-metric="model-metrics"]')
    sets = table.locator("tbody th").all_inner_texts()
    assert sets[:2] == ["Gold, read labels", "Test split"]
    gold = table.locator("tbody tr").first.inner_text()
    assert f"{model['metrics']['gold']['macro_f1']:.3f}" in gold
    panel = page.locator("#panel").inner_text()
    assert "per_class" not in panel and "gold." not in panel  # no raw dotted keys
    footer = page.locator("#updated").inner_text()
    assert footer.endswith(" UTC")
    wait_for_poll(page)
    assert page.locator("#updated").inner_text().endswith(" UTC")


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_api_docs_render_offline(context: BrowserContext, path: str, foreign: list[str]) -> None:
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(path)
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Dialogic" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() >= 3  # the operations rendered, not just the shell
    assert foreign == [] and failed == []


def test_swagger_try_it_out_starts_from_a_written_example(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/schema/swagger")
    operation = page.locator("#operations-classify-V1ClassifyClassify")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    body = operation.locator("textarea.body-param__text").input_value()
    assert "@sam thanks, DM us your order number" in body and '"string"' not in body
