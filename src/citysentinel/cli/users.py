"""`citysentinel users`: dashboard users who sign in with a username and password."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from citysentinel.cli.common import DbUrl, app, echo, parse_role, settings_with

if TYPE_CHECKING:
    from citysentinel.storage.admin import AdminStore
    from citysentinel.storage.users import UserStore

users_app = typer.Typer(
    help="Dashboard users (scrypt password hashes; roles viewer, operator, admin).",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of a prompt.",
    ),
]


@contextmanager
def _stores(database_url: str | None) -> Iterator[tuple[UserStore, AdminStore]]:
    from citysentinel.storage import db
    from citysentinel.storage.admin import AdminStore
    from citysentinel.storage.users import UserStore

    url = settings_with(database_url).resolve_database_url(None)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        yield UserStore(engine), AdminStore(engine)
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    """Never from argv (it would show in `ps` and shell history): a prompt, or stdin."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            echo("error: --password-stdin: no password on standard input", err=True)
            raise typer.Exit(1)
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


def _audit(admin: AdminStore, command: str, username: str, detail: dict[str, str]) -> None:
    admin.audit(
        actor="cli",
        role=None,
        method="CLI",
        path=f"users {command} {username}",
        status=200,
        detail={"username": username, **detail},
    )


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Letters, digits and _ . @ -")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    password_stdin: PasswordStdin = False,
    database_url: DbUrl = None,
) -> None:
    """Create a user; the password is asked for (twice) or read from --password-stdin."""
    from citysentinel.storage.users import UserError

    parsed = parse_role(role)
    password = _read_password(password_stdin)
    with _stores(database_url) as (users, admin):
        try:
            info = users.create_user(username, password, parsed)
        except UserError as exc:
            echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        _audit(admin, "create", username, {"role": parsed.value})
    echo(f"created {info.username} ({info.role.value})")


@users_app.command("list")
def users_list(database_url: DbUrl = None) -> None:
    """List users: role, state, last sign-in (never the password hashes)."""
    from citysentinel.events.model import utcnow

    with _stores(database_url) as (users, _):
        rows = users.list_users()
    now = utcnow()
    if not rows:
        echo("no users; add one with `citysentinel users create NAME --role operator`")
    for u in rows:
        state = "disabled" if u.disabled else "active"
        if u.locked_until and u.locked_until > now:
            state = f"locked until {u.locked_until:%H:%M:%S}Z"
        last = f"{u.last_login:%Y-%m-%d %H:%M}Z" if u.last_login else "never"
        echo(f"{u.username:20}  {u.role.value:8}  {state:24}  last sign-in {last}")


@users_app.command("disable")
def users_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Disable a user (their sessions end at once) or, with --enable, enable them again."""
    from citysentinel.storage.users import UserError

    with _stores(database_url) as (users, admin):
        try:
            users.set_disabled(username, not enable)
        except UserError as exc:
            echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        _audit(admin, "enable" if enable else "disable", username, {})
    echo(f"{'enabled' if enable else 'disabled'} {username}")


@users_app.command("passwd")
def users_passwd(
    username: str, password_stdin: PasswordStdin = False, database_url: DbUrl = None
) -> None:
    """Set a user's password (clears a lockout and ends their sessions)."""
    from citysentinel.storage.users import UserError

    password = _read_password(password_stdin)
    with _stores(database_url) as (users, admin):
        try:
            users.set_password(username, password)
        except UserError as exc:
            echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        _audit(admin, "passwd", username, {})
    echo(f"password set for {username}; their sessions were ended")
