"""Password sign-in in a real browser: session token, wrong password, viewer, sign-out, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import update

from citysentinel.api.deps import ApiContext, get_context
from citysentinel.events.model import utcnow
from citysentinel.storage.admin import Role, hash_key
from citysentinel.storage.tables import api_keys
from citysentinel.storage.users import UserStore
from tests.conftest import LiveServer
from tests.web.conftest import Pages, axe_violations, post_event, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "walk the river path"


@pytest.fixture(scope="module")
def accounts(site_server: LiveServer) -> dict[str, str]:
    users = UserStore(site_server.runtime.admin.engine)
    for name, role in (("ana", Role.OPERATOR), ("vic", Role.VIEWER)):
        if users.get(name) is None:
            users.create_user(name, PASSWORD, role)
    return {"operator": "ana", "viewer": "vic"}


def password_sign_in(page: Page, server: LiveServer, username: str, password: str) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#username")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")


def context_of(server: LiveServer) -> ApiContext:
    ctx: ApiContext = server.runtime.api.dependency_overrides[get_context]()
    return ctx


def test_password_sign_in_and_sign_out(
    pages: Pages, site_server: LiveServer, accounts: dict[str, str]
) -> None:
    page = pages.new()
    page.goto(f"{site_server.url}/")
    # Username and password is the default way in; the form passes axe in both modes.
    assert page.is_checked("#signin-mode-password") and page.is_visible("#username")
    page.fill("#username", accounts["operator"])
    screenshot(page, "signin-password")
    assert axe_violations(page) == []
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_selector("#incident-body[data-state=ready]")
    assert "ana (operator)" in page.inner_text("#who")
    token = page.evaluate("sessionStorage.getItem('citysentinel.key')")
    assert token.startswith("cs_s_")
    with httpx.Client(base_url=site_server.url, timeout=10) as c:
        who = c.get("/ui/session", headers={"Authorization": f"Bearer {token}"}).json()
    assert who["actor"] == "user:ana"
    page.click("#sign-out")
    page.wait_for_selector("#signin-status >> text=signed out")
    # Signing out ended the session on the server, not just in this tab.
    context_of(site_server).key_cache.clear()
    with httpx.Client(base_url=site_server.url, timeout=10) as c:
        after = c.get("/ui/session", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401


def test_a_wrong_password_says_so(
    pages: Pages, site_server: LiveServer, accounts: dict[str, str]
) -> None:
    page = pages.new()
    password_sign_in(page, site_server, accounts["operator"], "not the password")
    page.wait_for_selector("#signin-status.error-box")
    assert "username or password is wrong" in page.inner_text("#signin-status")
    assert page.input_value("#password") == ""
    page.check("#signin-mode-key")
    assert page.is_visible("#api-key") and not page.is_visible("#username")
    screenshot(page, "signin-key")
    assert axe_violations(page) == []


def test_a_viewer_user_sees_but_cannot_act(
    pages: Pages, site_server: LiveServer, accounts: dict[str, str]
) -> None:
    post_event(site_server, kind="manual.report", source="hotline", labels=["viewer-user"])
    site_server.drain()
    page = pages.new()
    password_sign_in(page, site_server, accounts["viewer"], PASSWORD)
    page.wait_for_selector("#incident-body[data-state=ready]")
    assert "signed in as a viewer" in page.inner_text("#viewer-note")
    buttons = page.locator("#incident-table button[data-action]")
    assert buttons.count() > 0
    for i in range(buttons.count()):
        assert buttons.nth(i).is_disabled()
        assert "operator role" in (buttons.nth(i).get_attribute("title") or "")


def test_an_expired_session_returns_to_sign_in(
    pages: Pages, site_server: LiveServer, accounts: dict[str, str]
) -> None:
    page = pages.new()
    password_sign_in(page, site_server, accounts["operator"], PASSWORD)
    page.wait_for_selector("#incident-body[data-state=ready]")
    token = page.evaluate("sessionStorage.getItem('citysentinel.key')")
    with site_server.runtime.admin.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.hash == hash_key(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    context_of(site_server).key_cache.clear()
    page.click('nav a[data-route="cameras"]')
    page.wait_for_selector("#signin-status.error-box", timeout=10_000)
    assert "no longer valid" in page.inner_text("#signin-status")


def test_the_sign_in_form_in_chinese(
    pages: Pages, site_server: LiveServer, accounts: dict[str, str]
) -> None:
    page = pages.new()
    page.goto(f"{site_server.url}/")
    page.select_option("#signin-lang", "zh-CN")
    page.wait_for_selector("label[for=username] >> text=用户名")
    assert page.inner_text("legend") == "登录方式"
    password_sign_in(page, site_server, accounts["operator"], "wrong-password")
    page.wait_for_selector("#signin-status.error-box")
    assert "用户名或密码错误" in page.inner_text("#signin-status")
    screenshot(page, "signin-zh")
    assert axe_violations(page) == []
