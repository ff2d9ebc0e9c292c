"""Commands that run and administer a site: run, validate-config, playback, db, keys, docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citysentinel import __version__
from citysentinel.cli.common import (
    ConfigArg,
    DbUrl,
    app,
    db_app,
    docs_app,
    echo,
    keys_app,
    load_site,
    parse_role,
    safe_url,
    settings_with,
    write_or_check,
)

if TYPE_CHECKING:
    from citysentinel.storage.admin import AdminStore


@app.command("validate-config")
def validate_config(path: Annotated[Path, typer.Argument(help="Site config YAML file.")]) -> None:
    """Check a site config; print each problem with its key path and YAML line (exit 1)."""
    site = load_site(path)
    echo(
        f"{path}: ok ({len(site.cameras)} cameras, {len(site.text_feeds)} text feeds,"
        f" {len(site.sensors)} sensors, {len(site.rules)} rules)"
    )


@app.command()
def run(
    config: ConfigArg,
    host: Annotated[str | None, typer.Option(help="Listen address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: api.port).")] = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database schema first.")] = True,
    database_url: DbUrl = None,
) -> None:
    """Run the pipeline and the API for a site until interrupted (Ctrl-C)."""
    from citysentinel.app import NotMigrated, build, serve
    from citysentinel.text.analyzer import TextModelError
    from citysentinel.traffic.live import TrafficSetupError

    site = load_site(config)
    settings = settings_with(database_url)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        runtime = build(site, settings, migrate=migrate)
    except (NotMigrated, TextModelError, TrafficSetupError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    key_file = settings.data_dir / "first-admin-key.txt"
    first_key = runtime.ensure_admin_key(key_file)
    h, p = host or site.api.host, port if port is not None else site.api.port
    echo(f"citysentinel {__version__}: site {site.site.name!r}, database {runtime.store.dialect}")
    echo(f"Dashboard: http://{h}:{p}/  (sign in as a user, or choose 'API key')")
    echo(f"API:       http://{h}:{p}/docs  (health: /healthz, metrics: /metrics)")
    if first_key:
        echo(f"API key (admin, shown once, also in {key_file}): {first_key}")
    elif key_file.exists():
        echo(f"API key: the first admin key is in {key_file}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(runtime, h, p))


@app.command()
def playback(
    config: ConfigArg,
    camera: Annotated[str, typer.Option(help="Camera id in the site config.")],
    out: Annotated[Path, typer.Option(help="Output video: .mp4 (mp4v) or .avi (MJPG).")],
    seconds: Annotated[
        float | None, typer.Option(help="Render only the first N seconds (needed for streams).")
    ] = None,
    no_blur: Annotated[
        bool, typer.Option("--no-blur", help="Do not blur faces (for private review only).")
    ] = False,
) -> None:
    """Render a camera's processed video with boxes, ids, zones, lines, counts and events."""
    from citysentinel.models import ModelNotInstalled
    from citysentinel.vision.playback import PlaybackError, render_playback

    site = load_site(config)
    try:
        result = render_playback(site, camera, out, seconds=seconds, blur_faces=not no_blur)
    except (PlaybackError, ModelNotInstalled) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    echo(
        f"wrote {result.path}: {result.frames} frames at {result.fps:g} fps, {result.events} events"
    )


@db_app.command("upgrade")
def db_upgrade(
    database_url: DbUrl = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Site config (for storage.database_url).")
    ] = None,
) -> None:
    """Create or upgrade the schema to the latest revision."""
    from citysentinel.storage import db

    site = load_site(config) if config else None
    url = settings_with(database_url).resolve_database_url(site)
    db.upgrade(url)
    echo(f"database at revision {db.head_revision()}: {safe_url(url)}")


@db_app.command("current")
def db_current(database_url: DbUrl = None) -> None:
    """Print the schema revision of the database."""
    from citysentinel.storage import db

    url = settings_with(database_url).resolve_database_url(None)
    engine = db.make_engine(url)
    echo(f"{db.current_revision(engine) or 'not migrated'} (latest {db.head_revision()})")
    engine.dispose()


def admin_store(database_url: str | None) -> AdminStore:
    from citysentinel.storage import db
    from citysentinel.storage.admin import AdminStore

    url = settings_with(database_url).resolve_database_url(None)
    db.upgrade(url)
    return AdminStore(db.make_engine(url))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    database_url: DbUrl = None,
) -> None:
    """Create an API key and print it (only once)."""

    parsed = parse_role(role)
    store = admin_store(database_url)
    info, plain = store.create_key(name, parsed, created_by="cli")
    echo(f"{info.id} {info.role.value} {info.name}")
    echo(plain)


@keys_app.command("list")
def keys_list(database_url: DbUrl = None) -> None:
    """List keys (never the keys themselves)."""
    store = admin_store(database_url)
    for k in store.list_keys():
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        echo(f"{k.id}  {k.prefix}…  {k.role.value:8}  {state:18}  {k.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, database_url: DbUrl = None) -> None:
    """Revoke a key by id."""
    store = admin_store(database_url)
    if not store.revoke_key(key_id):
        echo(f"error: no active key {key_id}", err=True)
        raise typer.Exit(1)
    echo(f"revoked {key_id}")


@docs_app.command("config-reference")
def docs_config_reference(
    out: Annotated[Path, typer.Option(help="Where to write it.")] = Path(
        "docs/config-reference.md"
    ),
    check: Annotated[bool, typer.Option(help="Exit 1 if the file is out of date.")] = False,
) -> None:
    """Write the site config reference generated from the pydantic models."""
    from citysentinel.config_reference import render_reference

    write_or_check(out, render_reference(), check)


@docs_app.command("openapi")
def docs_openapi(
    out: Annotated[Path, typer.Option(help="Where to write it.")] = Path("docs/openapi.json"),
    check: Annotated[bool, typer.Option(help="Exit 1 if the file is out of date.")] = False,
) -> None:
    """Write the OpenAPI document of the HTTP API."""
    from citysentinel.app import render_openapi

    write_or_check(out, render_openapi(), check)
