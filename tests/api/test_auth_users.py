"""Users and password sign-in: storage, the login/logout API, lockout, audit and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from citysentinel.api.routers.auth import LoginLimiter
from citysentinel.cli import app
from citysentinel.events.model import utcnow
from citysentinel.storage import db
from citysentinel.storage import users as users_module
from citysentinel.storage.admin import AdminStore, Role
from citysentinel.storage.tables import api_keys
from citysentinel.storage.users import (
    SCRYPT_N,
    LoginOutcome,
    UserError,
    UserStore,
    hash_password,
    verify_password,
)
from tests.conftest import LiveServer

FAST = 2**4  # scrypt cost for logic tests; the API uses the real one
PASSWORD = "correct horse battery"


@pytest.fixture
def user_store() -> Iterator[Callable[..., UserStore]]:
    """Builds a UserStore on a migrated database (cheap scrypt cost) and disposes it after."""
    engines: list[Engine] = []

    def make(url: str, **kw: Any) -> UserStore:
        db.upgrade(url)
        engines.append(db.make_engine(url))
        return UserStore(engines[-1], scrypt_n=FAST, **kw)

    yield make
    for engine in engines:
        engine.dispose()


@pytest.mark.parametrize(
    ("stored", "password", "ok"),
    [
        (hash_password("s3cret-pass", n=FAST), "s3cret-pass", True),
        (hash_password("s3cret-pass", n=FAST), "s3cret-pasS", False),
        ("scrypt$16$8$1$bm90IGJhc2U2NA==$aGFzaA==", "anything", False),
        ("bcrypt$whatever", "anything", False),
        ("", "anything", False),
    ],
)
def test_verify_password(stored: str, password: str, ok: bool) -> None:
    assert verify_password(password, stored) is ok


def test_hashes_are_salted_and_carry_their_cost() -> None:
    a, b = hash_password("same password"), hash_password("same password")
    assert a != b
    assert a.startswith("scrypt$16384$8$1$")


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("", PASSWORD, "username must be"),
        ("has space", PASSWORD, "username must be"),
        ("-dash-first", PASSWORD, "username must be"),
        ("x" * 101, PASSWORD, "username must be"),
        ("ana", "short", "at least 8"),
        ("ana", "x" * 1025, "at most 1024"),
    ],
)
def test_bad_users_are_refused(
    user_store: Callable[..., UserStore], tmp_path: Path, username: str, password: str, message: str
) -> None:
    store = user_store(f"sqlite:///{tmp_path / 'u.sqlite'}")
    with pytest.raises(UserError, match=message):
        store.create_user(username, password, Role.VIEWER)


def test_login_outcomes_and_lockout(
    user_store: Callable[..., UserStore], database_url: str
) -> None:
    store = user_store(database_url, lock_after=3)
    store.create_user("ana", PASSWORD, Role.OPERATOR)
    with pytest.raises(UserError, match="exists already"):
        store.create_user("ana", PASSWORD, Role.VIEWER)
    assert store.login("bob", PASSWORD).outcome is LoginOutcome.UNKNOWN_USER
    ok = store.login("ana", PASSWORD)
    assert ok.outcome is LoginOutcome.OK and ok.token and ok.token.startswith("cs_s_")
    assert ok.session is not None and ok.session.role is Role.OPERATOR
    assert ok.session.expires_at is not None and ok.session.expires_at > utcnow()
    info = store.get("ana")
    assert info is not None and info.last_login is not None
    outcomes = [store.login("ana", "wrong password").outcome for _ in range(3)]
    assert outcomes == [LoginOutcome.BAD_PASSWORD, LoginOutcome.BAD_PASSWORD, LoginOutcome.LOCKED]
    # Locked: even the right password is refused until the lock ends or a new password is set.
    assert store.login("ana", PASSWORD).outcome is LoginOutcome.LOCKED
    store.set_password("ana", "a new password")
    assert store.login("ana", "a new password").outcome is LoginOutcome.OK


def test_sessions_are_keys_that_disable_and_passwd_end(
    user_store: Callable[..., UserStore], database_url: str
) -> None:
    store = user_store(database_url)
    admin = AdminStore(store.engine)
    store.create_user("ana", PASSWORD, Role.VIEWER)
    first = store.login("ana", PASSWORD)
    assert first.token is not None
    seen = admin.authenticate(first.token)
    assert seen is not None and seen.user_id is not None and not seen.expired(utcnow())
    assert admin.list_keys() == [] and len(admin.list_keys(sessions=True)) == 1
    store.set_password("ana", "another password")
    assert admin.authenticate(first.token) is None
    second = store.login("ana", "another password")
    assert second.token is not None
    store.set_disabled("ana")
    assert admin.authenticate(second.token) is None
    assert store.login("ana", "another password").outcome is LoginOutcome.DISABLED
    assert store.set_disabled("ana", False).disabled is False
    assert store.login("ana", "another password").outcome is LoginOutcome.OK
    with pytest.raises(UserError, match="no user"):
        store.set_disabled("nobody")


def login(live: LiveServer, username: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=live.url, timeout=10) as c:
        return c.post("/api/v1/auth/login", json={"username": username, "password": password})


def add_user(live: LiveServer, username: str, role: Role) -> None:
    UserStore(live.runtime.admin.engine).create_user(username, PASSWORD, role)


def test_login_gives_a_session_that_acts_as_the_user(live: LiveServer) -> None:
    add_user(live, "ana", Role.OPERATOR)
    r = login(live, "ana", PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "operator" and body["token_type"] == "bearer"
    with live.client(body["token"]) as c:
        assert c.get("/ui/session").json() == {
            "name": "ana",
            "role": "operator",
            "actor": "user:ana",
        }
        assert c.get("/api/v1/incidents").status_code == 200
        assert (
            c.post("/api/v1/events", json={"kind": "video.fall", "source": "cam-1"}).status_code
            == 202
        )
        assert c.get("/api/v1/keys").status_code == 403
        assert c.post("/api/v1/auth/logout").status_code == 204
        after = c.get("/api/v1/incidents")
    assert after.status_code == 401
    with live.client() as c:
        # An API key is not a session: it is revoked by an admin, not signed out.
        assert c.post("/api/v1/auth/logout").status_code == 400
        assert all(k["user_id"] is None for k in c.get("/api/v1/keys").json())
        audit = c.get("/api/v1/audit", params={"limit": 20}).json()
    logins = [a for a in audit if a["path"] == "/api/v1/auth/login"]
    assert logins[0]["actor"] == "user:ana" and logins[0]["detail"]["outcome"] == "ok"
    assert any(a["path"] == "/api/v1/auth/logout" and a["status"] == 204 for a in audit)


def test_viewer_session_reads_but_cannot_act(live: LiveServer) -> None:
    add_user(live, "vic", Role.VIEWER)
    token = login(live, "vic", PASSWORD).json()["token"]
    with live.client(token) as c:
        assert c.get("/api/v1/incidents").status_code == 200
        denied = c.post("/api/v1/events", json={"kind": "video.fall", "source": "cam-1"})
    assert denied.status_code == 403 and "operator" in denied.json()["detail"]


def test_expired_session_says_so(live: LiveServer) -> None:
    add_user(live, "ana", Role.OPERATOR)
    token = login(live, "ana", PASSWORD).json()["token"]
    with live.runtime.admin.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.user_id.is_not(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    # The token was never used, so no cached check hides the new expiry.
    with live.client(token) as c:
        r = c.get("/api/v1/incidents")
    assert r.status_code == 401
    assert "session expired" in r.json()["detail"] and "sign in again" in r.json()["detail"]


@pytest.mark.parametrize(
    ("username", "password", "status", "detail"),
    [
        ("ana", "wrong password", 401, "username or password is wrong"),
        ("nobody", PASSWORD, 401, "username or password is wrong"),
        ("dis", PASSWORD, 403, "disabled"),
    ],
)
def test_refused_sign_ins(
    live_sqlite: LiveServer, username: str, password: str, status: int, detail: str
) -> None:
    add_user(live_sqlite, "ana", Role.OPERATOR)
    add_user(live_sqlite, "dis", Role.OPERATOR)
    UserStore(live_sqlite.runtime.admin.engine).set_disabled("dis")
    r = login(live_sqlite, username, password)
    assert r.status_code == status and detail in r.json()["detail"]
    with live_sqlite.client() as c:
        entry = c.get("/api/v1/audit", params={"limit": 1}).json()[0]
    assert entry["actor"] == "anonymous" and entry["detail"]["username"] == username
    assert "password" not in entry["detail"]


def test_repeated_failures_lock_the_user(live: LiveServer) -> None:
    add_user(live, "ana", Role.OPERATOR)
    codes = [login(live, "ana", "wrong password").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = login(live, "ana", PASSWORD)
    assert locked.status_code == 429 and "locked until" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) > 0


def test_many_failures_from_one_address_are_throttled(live_sqlite: LiveServer) -> None:
    # Spread over many usernames, so no single user locks: the address limit (20 / 5 min) acts.
    codes = [login(live_sqlite, f"guess{i}", "wrong password").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_parallel_failures_from_one_address_cannot_pass_the_throttle(
    live_sqlite: LiveServer,
) -> None:
    # Each attempt is counted before the password check, so a burst gets 20 checks, not 30.
    with ThreadPoolExecutor(10) as pool:
        codes = list(
            pool.map(lambda i: login(live_sqlite, f"burst{i}", "wrong").status_code, range(30))
        )
    assert sorted(codes) == [401] * 20 + [429] * 10


def test_login_rejects_bad_bodies(live_sqlite: LiveServer) -> None:
    with httpx.Client(base_url=live_sqlite.url, timeout=10) as c:
        r = c.post("/api/v1/auth/login", json={"username": "ana"})
        extra = c.post("/api/v1/auth/login", json={"username": "a", "password": "b", "x": 1})
    assert r.status_code == 422 and extra.status_code == 422


runner = CliRunner()


def test_users_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYSENTINEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CITYSENTINEL_DATABASE_URL", raising=False)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(app, ["users", *args], input=stdin)
        return result.exit_code, result.output

    assert run("list") == (
        0,
        "no users; add one with `citysentinel users create NAME --role operator`\n",
    )
    assert run(
        "create", "ana", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n"
    ) == (
        0,
        "created ana (operator)\n",
    )
    # The password is never an argument: there is no option to pass it on the command line.
    assert run("create", "bob", "--password", PASSWORD)[0] == 2
    code, out = run("create", "bob", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0 and "created bob (viewer)" in out
    assert run("create", "ana", "--password-stdin", stdin=PASSWORD + "\n")[1].endswith(
        "error: user 'ana' exists already\n"
    )
    assert run("create", "cy", "--role", "root", "--password-stdin", stdin=PASSWORD)[0] == 1
    assert run("passwd", "ana", "--password-stdin", stdin="short\n")[0] == 1
    assert run("passwd", "ana", "--password-stdin", stdin="a long new one\n")[0] == 0
    assert run("disable", "bob") == (0, "disabled bob\n")
    assert run("disable", "nobody")[0] == 1
    code, listed = run("list")
    lines = listed.splitlines()
    assert lines[0].split()[:3] == ["ana", "operator", "active"]
    assert lines[1].split()[:3] == ["bob", "viewer", "disabled"]
    url = f"sqlite:///{tmp_path / 'citysentinel.sqlite'}"
    store = UserStore(db.make_engine(url))
    try:
        assert store.login("ana", "a long new one").outcome is LoginOutcome.OK
        audit = AdminStore(store.engine).audit_entries(10)
    finally:
        store.engine.dispose()
    assert {a.path for a in audit} >= {"users create ana", "users passwd ana", "users disable bob"}


def test_parallel_wrong_passwords_cannot_pass_the_lock(
    user_store: Callable[..., UserStore], database_url: str
) -> None:
    # The real scrypt cost, so the guesses overlap the way a burst against the API would.
    store = user_store(database_url, lock_after=3)
    store.scrypt_n = SCRYPT_N
    store.create_user("ana", PASSWORD, Role.OPERATOR)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: store.login("ana", "wrong password").outcome, range(8)))
    # Each attempt is counted before its password is checked: only `lock_after` are checked.
    assert outcomes.count(LoginOutcome.BAD_PASSWORD) == 2
    assert outcomes.count(LoginOutcome.LOCKED) == 6
    assert store.login("ana", PASSWORD).outcome is LoginOutcome.LOCKED


@pytest.mark.parametrize(
    ("setup", "username", "outcome"),
    [
        ("none", "nobody", LoginOutcome.UNKNOWN_USER),
        ("none", "ana", LoginOutcome.BAD_PASSWORD),
        ("locked", "ana", LoginOutcome.LOCKED),
    ],
)
def test_every_refusal_costs_one_password_check(
    user_store: Callable[..., UserStore],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    setup: str,
    username: str,
    outcome: LoginOutcome,
) -> None:
    """So the answer's timing does not tell a locked or unknown user from a wrong password."""
    store = user_store(f"sqlite:///{tmp_path / 'u.sqlite'}", lock_after=2)
    store.create_user("ana", PASSWORD, Role.OPERATOR)
    if setup == "locked":
        tries = [store.login("ana", "wrong password").outcome for _ in range(2)]
        assert tries[-1] is LoginOutcome.LOCKED
    checks: list[str] = []

    def counting(password: str, stored: str) -> bool:
        checks.append(stored)
        return verify_password(password, stored)

    monkeypatch.setattr(users_module, "verify_password", counting)
    assert store.login(username, "wrong password").outcome is outcome
    assert len(checks) == 1


@pytest.mark.parametrize(
    ("flood", "max_clients", "tracked_at_most"),
    [(50, 10, 10), (500, 100, 100)],
)
def test_login_limiter_is_bounded_and_keeps_throttling(
    flood: int, max_clients: int, tracked_at_most: int
) -> None:
    limiter = LoginLimiter(max_failures=3, window_s=300, max_clients=max_clients)
    for _ in range(3):
        limiter.fail("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") > 0
    # Asking about new addresses (as every sign-in does) stores nothing.
    for i in range(flood):
        assert limiter.retry_after(f"10.1.{i // 250}.{i % 250}") == 0.0
    assert limiter.tracked() == 1
    # A flood of failures from fresh addresses stays bounded; the oldest entries go first,
    # not all of them at once, so the busiest recent guesser is still throttled.
    for i in range(flood):
        limiter.fail(f"10.2.{i // 250}.{i % 250}")
        limiter.fail("10.0.0.1")
    assert limiter.tracked() <= tracked_at_most
    assert limiter.retry_after("10.0.0.1") > 0
    limiter.forgive("10.3.0.1")  # unknown: nothing to take back
    assert limiter.tracked() <= tracked_at_most


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/events", {"kind": "video.fall", "source": "cam-1"}),
        ("POST", "/api/v1/events/batch", {"events": []}),
        ("POST", "/api/v1/incidents/x/acknowledge", {}),
        ("POST", "/api/v1/incidents/x/assign", {"assignee": "bo"}),
        ("POST", "/api/v1/incidents/x/resolve", {"resolution": "done"}),
        ("POST", "/api/v1/incidents/x/notes", {"text": "hi"}),
        ("POST", "/api/v1/silences", {"match": {}, "minutes": 5, "reason": "test"}),
        ("DELETE", "/api/v1/silences/x", None),
        ("POST", "/api/v1/keys", {"name": "k", "role": "admin"}),
        ("DELETE", "/api/v1/keys/x", None),
    ],
)
def test_a_viewer_session_is_refused_on_write_routes(
    live_sqlite: LiveServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """The server refuses, whatever the page's disabled buttons do."""
    add_user(live_sqlite, "vic", Role.VIEWER)
    token = login(live_sqlite, "vic", PASSWORD).json()["token"]
    with live_sqlite.client(token) as c:
        r = c.request(method, path, json=body)
    assert r.status_code == 403, r.text
    assert "role" in r.json()["detail"]


def test_the_stream_refuses_an_expired_session_in_the_query(live_sqlite: LiveServer) -> None:
    add_user(live_sqlite, "ana", Role.OPERATOR)
    token = login(live_sqlite, "ana", PASSWORD).json()["token"]
    with live_sqlite.runtime.admin.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.user_id.is_not(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with httpx.Client(base_url=live_sqlite.url, timeout=10) as c:
        r = c.get("/api/v1/stream/incidents", params={"api_key": token})
        # ?api_key= is only for the stream (EventSource cannot set headers).
        elsewhere = c.get("/api/v1/incidents", params={"api_key": token})
    assert r.status_code == 401 and "session expired" in r.json()["detail"]
    assert elsewhere.status_code == 401 and "missing API key" in elsewhere.json()["detail"]


def test_a_session_stops_being_active_when_it_ends(
    user_store: Callable[..., UserStore], database_url: str
) -> None:
    """What a long response (the live stream) re-checks while it runs."""
    store = user_store(database_url)
    admin = AdminStore(store.engine)
    store.create_user("ana", PASSWORD, Role.OPERATOR)
    ids: list[str] = []
    for _ in range(3):
        session = store.login("ana", PASSWORD).session
        assert session is not None and admin.is_active(session.id)
        ids.append(session.id)
    admin.revoke_key(ids[0])  # signed out
    with store.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == ids[1])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert [admin.is_active(i) for i in ids] == [False, False, True]
    store.set_disabled("ana")
    assert not admin.is_active(ids[2]) and not admin.is_active("no-such-key")
    key, _ = admin.create_key("ops", Role.OPERATOR, created_by="test")
    assert admin.is_active(key.id)  # API keys do not expire


def test_ended_sessions_are_deleted_but_api_keys_are_kept(
    user_store: Callable[..., UserStore], database_url: str
) -> None:
    store = user_store(database_url)
    admin = AdminStore(store.engine)
    store.create_user("ana", PASSWORD, Role.OPERATOR)
    sessions = []
    for _ in range(3):
        session = store.login("ana", PASSWORD).session
        assert session is not None
        sessions.append(session.id)
    admin.revoke_key(sessions[0])  # signed out now
    with store.engine.begin() as conn:  # expired two days ago
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == sessions[1])
            .values(expires_at=utcnow() - timedelta(days=2))
        )
    key, _ = admin.create_key("ops", Role.OPERATOR, created_by="test")
    admin.revoke_key(key.id)
    assert admin.delete_sessions_ended_before(utcnow() - timedelta(days=1)) == 1
    left = {k.id for k in admin.list_keys(sessions=True)}
    assert left == {sessions[0], sessions[2], key.id}  # signed out today: kept until tomorrow
    assert admin.delete_sessions_ended_before(utcnow() + timedelta(seconds=1)) == 1
    assert {k.id for k in admin.list_keys(sessions=True)} == {sessions[2], key.id}
