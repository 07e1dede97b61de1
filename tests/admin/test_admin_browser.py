"""The admin dashboard in a real headless Chromium against a real `dialogic serve`: the login wall,
live figures that move with traffic, the cache flush with its confirmation step, CSRF on actions,
screenshots at laptop and phone widths, and the API docs rendering with no network beyond the app."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.admin.conftest import ARTIFACTS, Server

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POLL_WAIT_MS = 15_000  # the page polls every 3 s; a busy machine gets some slack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` from Python: the page's CSP (rightly) forbids the eval that wait_for_function uses."""
    for _ in range(POLL_WAIT_MS // 250):
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
