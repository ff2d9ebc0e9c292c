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
