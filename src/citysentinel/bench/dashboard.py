"""`citysentinel bench dashboard`: first render and event-to-browser latency in headless Chromium.

A live server runs in this process; Debian's Chromium (driven by Playwright) opens
the dashboard signed in. Latency is measured from just before an event is posted
to the API until its incident row is added to the browser's DOM, as stamped by a
MutationObserver in the page (both clocks are this machine's wall clock). Password
sign-in is timed as round trips of POST /api/v1/auth/login (scrypt dominates).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from citysentinel.app import build
from citysentinel.bench.pipeline import _percentile, _Server
from citysentinel.config import Settings, SiteConfig
from citysentinel.storage.admin import Role
from citysentinel.storage.users import UserStore

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BENCH_SITE: dict[str, Any] = {
    "site": {"name": "dashboard bench", "timezone": "UTC"},
    "rules": [
        {
            "id": "report",
            "match": {"kind": "manual.report"},
            "incident": {
                "category": "security",
                "sub_category": "suspiciousAction",
                "severity": "high",
            },
        }
    ],
}
# Stamps the first time each incident row appears, keyed by the incident's source, and
# the time since navigation start when the incident list first rendered with rows.
OBSERVER = """
window.__seen = {};
window.__firstRender = null;
new MutationObserver((records) => {
  const now = Date.now();
  if (window.__firstRender === null
      && document.querySelector('#incident-body[data-state=ready] tbody tr')) {
    window.__firstRender = performance.now();
  }
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType !== 1 || n.tagName !== 'TR' || !n.dataset.key) continue;
    const source = n.dataset.key.split('|')[1];
    if (!(source in window.__seen)) window.__seen[source] = now;
  }
}).observe(document, {childList: true, subtree: true, attributes: true});
"""
SIGN_IN = "sessionStorage.setItem('citysentinel.key', %r);"


def _say(progress: bool, msg: str) -> None:
    if progress:
        log.info("%s", msg)


def _event(source: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "kind": "manual.report", "source": source, "labels": ["x"]}


def _time_logins(engine: Engine, base: str, n: int) -> list[float]:
    """Round trips of POST /api/v1/auth/login with the right password (scrypt dominates)."""
    users = UserStore(engine)
    password = uuid.uuid4().hex
    users.create_user("bench", password, Role.OPERATOR)
    times = []
    with httpx.Client(base_url=base) as anonymous:
        for _ in range(n):
            started = time.perf_counter()
            r = anonymous.post(
                "/api/v1/auth/login", json={"username": "bench", "password": password}
            )
            r.raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def run_dashboard_bench(events: int = 50, progress: bool = True, loads: int = 5) -> dict[str, Any]:
    """Measure and return first render and SSE latency figures; nothing here asserts a timing.

    Example:
        >>> # run_dashboard_bench(events=20)["sse_latency_ms_p99"]
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise RuntimeError("bench dashboard needs the playwright package (dev extra)") from exc
    if not CHROMIUM.exists():
        raise RuntimeError(f"bench dashboard needs Debian's Chromium at {CHROMIUM}")
    with tempfile.TemporaryDirectory() as tmp:
        site = SiteConfig.model_validate(BENCH_SITE)
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.sqlite", data_dir=Path(tmp))
        runtime = build(site, settings, sinks=[])
        key = runtime.ensure_admin_key(None) or ""
        with _Server(runtime) as server, sync_playwright() as pw:
            base = f"http://127.0.0.1:{server.port}"
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
            for i in range(50):  # a list worth rendering
                client.post("/api/v1/events", json=_event(f"seed-{i}")).raise_for_status()
            server.wait_processed()
            logins = _time_logins(runtime.admin.engine, base, loads)
            _say(progress, f"bench: password sign-in median {statistics.median(logins):.0f} ms")
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                renders = []
                for _ in range(loads):
                    context = browser.new_context()
                    page = context.new_page()
                    page.add_init_script(SIGN_IN % key)
                    page.add_init_script(OBSERVER)
                    page.goto(f"{base}/ui/#/incidents")
                    page.wait_for_function("window.__firstRender !== null")
                    renders.append(float(page.evaluate("window.__firstRender")))
                    context.close()
                _say(progress, f"bench: first render median {statistics.median(renders):.0f} ms")
                context = browser.new_context()
                page = context.new_page()
                page.add_init_script(SIGN_IN % key)
                page.add_init_script(OBSERVER)
                page.goto(f"{base}/ui/#/incidents")
                page.wait_for_selector("#incident-body[data-state=ready]")
                page.wait_for_selector("#live-state[data-state=live]")
                latencies = []
                for i in range(events):
                    source = f"bench-{i}"
                    posted = time.time() * 1000
                    client.post("/api/v1/events", json=_event(source)).raise_for_status()
                    page.wait_for_function("s => s in window.__seen", arg=source, timeout=10_000)
                    seen: float = page.evaluate("s => window.__seen[s]", source)
                    latencies.append(seen - posted)
                _say(progress, f"bench: {events} events seen in the browser")
                context.close()
            finally:
                browser.close()
                client.close()
    return {
        "first_render_ms": round(statistics.median(renders), 1),
        "sse_latency_ms_p50": round(statistics.median(latencies), 1),
        "sse_latency_ms_p99": round(_percentile(latencies, 99), 1),
        "login_ms_median": round(statistics.median(logins), 1),
        "events": events,
        "page_loads": loads,
        "browser": "Debian Chromium, headless",
    }
