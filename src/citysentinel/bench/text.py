"""`citysentinel bench text`: messages per second through a text feed's whole analyzer path.

The feed is wired as `citysentinel run` wires an `http` text feed
(`text.feeds.build_analyzers`): clean, mask PII, detect the language, encode,
run every classifier, score opinion, extract places/times/casualties, build the
`text.report` event. Storage is not part of it (see `bench pipeline`).

Without `--models`, a classifier with the chosen encoder is trained first on
other messages of the same file (groups not used for timing), so the timed
messages are unseen. Throughput is measured on batches (`analyze`); `p50_ms` is
the median time of one message sent alone (`process`).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from citysentinel.config import TextFeedConfig
from citysentinel.text.analyzer import TextAnalyzer, TextMessage
from citysentinel.text.classify import TrainConfig, train_classifier
from citysentinel.text.encoders import encoder_config
from citysentinel.text.encoders.cache import embedding_cache
from citysentinel.text.feeds import build_analyzers
from citysentinel.text.tables import Labelled, TextSourceError, load_labelled

log = logging.getLogger(__name__)

DEFAULT_DATA = Path("var/text/crisislex_t26.jsonl")
WARMUP_ZH = "浦东新区张江路发生火灾，3人受伤，消防已到场"


class TextBenchError(RuntimeError):
    """The bench cannot run: no data file, too few messages, or a model that does not load."""


def run_text_bench(
    encoder: str,
    models: list[Path] | None = None,
    *,
    data: Path = DEFAULT_DATA,
    messages: int = 2000,
    batch: int = 64,
    single: int = 100,
    train_rows: int = 2000,
    threads: int = 1,
) -> dict[str, Any]:
    """{"encoder", "messages_per_s", "p50_ms", ...} for `messages` real messages.

    Example:
        >>> run_text_bench("tfidf", messages=500)["messages_per_s"]  # doctest: +SKIP
        812.4
    """
    rows = _load(data)
    timed, train = _split(rows, messages + single, train_rows)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = (
            [str(m) for m in models]
            if models
            else [_train(encoder, rows, train, Path(tmp), threads)]
        )
        try:
            analyzer = build_analyzers([TextFeedConfig(id="bench", type="http", models=dirs)])[
                "bench"
            ]
        except Exception as exc:
            raise TextBenchError(f"cannot load the models: {exc}") from exc
        texts = [rows.texts[i] for i in timed]
        msgs = [TextMessage(t, id=f"m{i}") for i, t in enumerate(texts)]
        # Warm-up: sessions, lexicons, and jieba's dictionaries, which load at the first
        # Chinese message (about 6 s, once per process; not a per-message cost).
        analyzer.analyze([*msgs[:batch], TextMessage(WARMUP_ZH, id="warm-up-zh")])
        per_s, events = _throughput(analyzer, msgs[single:], batch)
        p50 = _single(analyzer, msgs[:single])
    return {
        "encoder": encoder,
        "messages_per_s": round(per_s, 1),
        "p50_ms": round(p50, 2),
        "messages": len(msgs) - single,
        "events": events,
        "batch": batch,
        "threads": threads if not models else None,
        "models": dirs if models else [f"trained on {len(train)} rows ({encoder})"],
        "data": str(data),
    }


def _load(data: Path) -> Labelled:
    if not data.is_file():
        raise TextBenchError(
            f"{data} not found; import it first, e.g. `python -m citysentinel.text import "
            f"crisislex_t26 ../shared/data/crisis/crisislex_t26 {data}`"
        )
    try:
        return load_labelled([data], text_col="text", label_col="labels", group_col="group")
    except TextSourceError as exc:
        raise TextBenchError(str(exc)) from exc


def _split(rows: Labelled, n_timed: int, n_train: int) -> tuple[list[int], list[int]]:
    """Timed rows from the first groups, training rows from the others (no group on both)."""
    order = sorted(range(len(rows.texts)), key=lambda i: (rows.groups[i] or "", i))
    if len(order) < n_timed + 10:
        raise TextBenchError(f"need at least {n_timed + 10} messages, the file has {len(order)}")
    timed = order[:n_timed]
    last = rows.groups[timed[-1]]
    rest = [i for i in order[n_timed:] if rows.groups[i] != last]
    step = max(1, len(rest) // max(1, n_train))
    return timed, rest[::step][:n_train]


def _train(encoder: str, rows: Labelled, train: list[int], tmp: Path, threads: int) -> str:
    log.info("training a %s classifier on %d messages", encoder, len(train))
    enc = encoder_config(encoder)
    if "threads" in type(enc).model_fields:  # e5: OpenMP threads; minilm: onnxruntime intra-op
        enc = enc.model_copy(update={"threads": threads})
    config = TrainConfig(encoder=enc, c_grid=(1.0,))
    with embedding_cache(None):  # each training text is encoded once, not per fit
        clf = train_classifier(
            [rows.texts[i] for i in train],
            [rows.labels[i] for i in train],
            [rows.groups[i] for i in train],
            config,
        )
    clf.save(tmp / "model")
    return str(tmp / "model")


def _throughput(analyzer: TextAnalyzer, msgs: list[TextMessage], batch: int) -> tuple[float, int]:
    events, started = 0, time.perf_counter()
    for start in range(0, len(msgs), batch):
        out = analyzer.analyze(msgs[start : start + batch])
        events += sum(1 for o in out if o.event is not None)
        if (start // batch) % 10 == 0:
            log.info("%d/%d messages", start + batch, len(msgs))
    return len(msgs) / (time.perf_counter() - started), events


def _single(analyzer: TextAnalyzer, msgs: list[TextMessage]) -> float:
    times = []
    for m in msgs:
        t0 = time.perf_counter()
        analyzer.process(m)
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)
