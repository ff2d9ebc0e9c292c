"""Commands that measure: bench (pipeline, video, dashboard) and eval (detection, ..., text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citysentinel.cli.common import (
    DataOpt,
    DbUrl,
    LabelCol,
    TextCol,
    bench_app,
    echo,
    eval_app,
    print_result,
    show_progress,
)


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

    if not as_json:
        show_progress("citysentinel.bench")

    result = run_pipeline_bench(
        events=events,
        batch=batch,
        clients=clients,
        fill=fill,
        queries=queries,
        database_url=database_url,
        progress=not as_json,
    )
    echo(json.dumps(result, indent=None if as_json else 2))


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

    print_result(
        lambda: run_video_bench(
            str(source), cameras, seconds, detector=detector, threads=threads, progress=not as_json
        ),
        (BenchError,),
        as_json,
    )


@bench_app.command("text")
def bench_text(
    encoder: Annotated[str, typer.Option(help="Encoder: tfidf, e5, minilm.")] = "tfidf",
    models: Annotated[
        list[Path] | None,
        typer.Option("--models", help="Model directories (repeatable); default: train one."),
    ] = None,
    data: Annotated[Path, typer.Option(help="Canonical JSONL of real messages.")] = Path(
        "var/text/crisislex_t26.jsonl"
    ),
    messages: Annotated[int, typer.Option(min=100, help="Messages to time.")] = 2000,
    batch: Annotated[int, typer.Option(min=1, help="Messages per analyze() call.")] = 64,
    threads: Annotated[
        int, typer.Option(min=1, help="Encoder threads of the trained model (e5, minilm).")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Messages per second through a text feed: mask, encode, classify, extract, event out."""
    from citysentinel.bench.text import TextBenchError, run_text_bench

    if not as_json:
        show_progress("citysentinel.bench")
    print_result(
        lambda: run_text_bench(
            encoder, models, data=data, messages=messages, batch=batch, threads=threads
        ),
        (TextBenchError,),
        as_json,
    )


@bench_app.command("routes")
def bench_routes(
    osm: Annotated[
        Path | None, typer.Option("--osm", help="OpenStreetMap XML file (.osm, .osm.bz2).")
    ] = None,
    grid: Annotated[
        int | None, typer.Option(help="Instead of --osm: a made-up N x N street grid.")
    ] = None,
    routes: Annotated[int, typer.Option("--routes", min=1, help="Random routes to time.")] = 1000,
    api_routes: Annotated[int, typer.Option(min=1, help="Routes asked over HTTP.")] = 1000,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent HTTP clients.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Road network load time, route latency (p50/p99) and routes per second over HTTP."""
    from citysentinel.bench.routes import run_routes_bench
    from citysentinel.traffic.roads import RoadNetworkError

    if not as_json:
        show_progress("citysentinel.bench")
    print_result(
        lambda: run_routes_bench(
            osm,
            grid=grid,
            routes=routes,
            api_routes=api_routes,
            clients=clients,
            progress=not as_json,
        ),
        (RoadNetworkError,),
        as_json,
    )


@bench_app.command("dashboard")
def bench_dashboard(
    events: Annotated[int, typer.Option("--events", help="Events to post and time.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """First render of the dashboard and event-to-browser latency over SSE (headless Chromium)."""
    from citysentinel.bench.dashboard import run_dashboard_bench

    if not as_json:
        show_progress("citysentinel.bench")

    result = run_dashboard_bench(events=events, progress=not as_json)
    echo(json.dumps(result, indent=None if as_json else 2))


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

    print_result(
        lambda: evaluate_detector(
            images,
            labels,
            backend=backend,
            label_format=label_format,
            limit=limit,
            model=model,
            threads=threads,
            score_threshold=score_threshold,
        ),
        (EvalError, ModelNotInstalled),
        as_json,
    )


@eval_app.command("tracking")
def eval_tracking(
    gt: Annotated[Path, typer.Option(help="Ground truth, MOTChallenge txt.")],
    pred: Annotated[Path, typer.Option(help="Tracker output, MOTChallenge txt.")],
    iou: Annotated[float, typer.Option(help="Minimum IoU for a match.")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """MOTA, IDF1 and identity switches (py-motmetrics) of a tracker output."""
    from citysentinel.eval.tracking import TrackingEvalError, evaluate_tracking

    print_result(
        lambda: evaluate_tracking(gt, pred, iou_threshold=iou),
        (TrackingEvalError,),
        as_json,
    )


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
    print_result(
        lambda: evaluate_fall(features, config),
        (FallEvalError,),
        as_json,
    )


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

    print_result(
        lambda: evaluate_image_classifier(model, data, fp32=fp32, threads=threads),
        (ImageEvalError, DatasetError),
        as_json,
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
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    echo(json.dumps(result, indent=None if as_json else 2, ensure_ascii=False))


@eval_app.command("traffic")
def eval_traffic(
    model: Annotated[
        str,
        typer.Option(
            help="last_value, historical_average, ridge, or a folder from `train traffic`."
        ),
    ],
    speeds: Annotated[Path, typer.Option(help="Wide CSV: header of sensor ids, 5-minute rows.")],
    threads: Annotated[int, typer.Option(min=1, help="BLAS/torch threads (1 is faster here).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Masked MAE/RMSE/MAPE at 15/30/60 min on the chronological test 20% (12 in, 12 out)."""
    from citysentinel.eval.traffic import TrafficEvalError, evaluate_model
    from citysentinel.traffic import SeriesError

    print_result(
        lambda: evaluate_model(model, speeds, threads=threads),
        (TrafficEvalError, SeriesError, OSError),
        as_json,
    )


@eval_app.command("anomalies")
def eval_anomalies(
    series: Annotated[
        list[Path], typer.Option("--series", help="`timestamp,value` CSV (repeatable).")
    ],
    windows: Annotated[Path, typer.Option(help="NAB windows JSON (combined_windows.json).")],
    persist_steps: Annotated[
        int | None, typer.Option(min=1, help="Override the detector's persist_steps.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Windows detected, false alarms, precision/recall/F1 of the traffic detector (NAB windows)."""
    from citysentinel.eval.anomalies import AnomalyEvalError, evaluate_anomalies
    from citysentinel.traffic.anomaly import AnomalyConfig, AnomalyError

    if not as_json:
        show_progress("citysentinel.eval")
    config = (
        AnomalyConfig() if persist_steps is None else AnomalyConfig(persist_steps=persist_steps)
    )
    print_result(
        lambda: evaluate_anomalies(series, windows, config),
        (AnomalyEvalError, AnomalyError),
        as_json,
    )


@eval_app.command("incidents")
def eval_incidents(
    speeds: Annotated[Path, typer.Option(help="Wide CSV: header of sensor ids, 5-minute rows.")],
    adjacency: Annotated[Path, typer.Option(help="Square weighted adjacency CSV.")],
    warm_days: Annotated[int, typer.Option(min=1, help="Days the detector learns first.")] = 5,
    sensors: Annotated[int, typer.Option(min=1, help="Sensors per injection time.")] = 20,
    factor: Annotated[float, typer.Option(help="Injected speed factor (0.5 halves).")] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed that picks the sensors.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Congestion vs incident on a sensor network: rush hours, local and shared injected drops."""
    from citysentinel.eval.anomalies import AnomalyEvalError, evaluate_incidents
    from citysentinel.traffic.anomaly import AnomalyError

    if not as_json:
        show_progress("citysentinel.eval")
    print_result(
        lambda: evaluate_incidents(
            speeds, adjacency, warm_days=warm_days, sensors=sensors, factor=factor, seed=seed
        ),
        (AnomalyEvalError, AnomalyError),
        as_json,
    )


@eval_app.command("surges")
def eval_surges(
    data: Annotated[Path, typer.Option("--data", help="Timed log: CSV, TSV, JSONL or .zip.")],
    time_col: Annotated[str, typer.Option(help="Column with the time.")] = "time",
    category_col: Annotated[str, typer.Option(help="Column with the category.")] = "labels",
    category_sep: Annotated[
        str | None, typer.Option(help="Keep the category before this ('EMS: FALL' -> 'EMS').")
    ] = None,
    area_col: Annotated[
        str | None, typer.Option(help="Column with the area (also counted per area).")
    ] = None,
    tz: Annotated[str, typer.Option(help="Time zone of naive times and of hour-of-week.")] = "UTC",
    bin_s: Annotated[float, typer.Option(help="Counting bin, seconds.")] = 3600.0,
    alpha: Annotated[float, typer.Option(help="Tail probability that starts a surge.")] = 1e-3,
    min_count: Annotated[int, typer.Option(help="Fewest messages in a surge bin.")] = 5,
    top: Annotated[int, typer.Option(help="Surges listed, by excess messages.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Replay a timed message/call log through the surge monitor; surges per category, top ones."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from citysentinel.eval.surges import SurgeEvalError, evaluate_surges
    from citysentinel.text.surge import SurgeMonitor
    from citysentinel.text.tables import TextSourceError

    if not as_json:
        show_progress("citysentinel.eval")

    def run() -> object:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SurgeEvalError(f"unknown time zone {tz!r}") from exc
        monitor = SurgeMonitor(bin_s=bin_s, alpha=alpha, min_count=min_count, tz=zone)
        return evaluate_surges(
            data,
            time_col=time_col,
            category_col=category_col,
            area_col=area_col,
            category_sep=category_sep,
            tz=tz,
            monitor=monitor,
            top=top,
        )

    print_result(run, (SurgeEvalError, TextSourceError, OSError), as_json)


@eval_app.command("extraction")
def eval_extraction(
    data: Annotated[
        Path, typer.Option("--data", help="CEC JSONL (`python -m citysentinel.text import cec`).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Precision/recall/F1 of extracted places, times and people counts vs CEC gold."""
    from citysentinel.eval.extraction import ExtractionEvalError, evaluate_extraction
    from citysentinel.text.tables import TextSourceError

    print_result(lambda: evaluate_extraction(data), (ExtractionEvalError, TextSourceError), as_json)
