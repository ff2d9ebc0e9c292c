"""`citysentinel traffic import`: a CSV of readings (wide or long) into the reading store."""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from citysentinel.traffic.io import TIME_COLUMNS, parse_time, read_long_csv, read_wide_csv
from citysentinel.traffic.readings import ReadingStore, readings_of, store_batch
from citysentinel.traffic.series import SeriesError

log = logging.getLogger(__name__)
CHUNK = 20_000  # readings per transaction


class ImportFailed(ValueError):
    """A file that cannot be imported as asked (e.g. an undated wide file without --start)."""


@dataclass
class ImportReport:
    """What an import read, stored and flagged (file issues and per-reading flags)."""

    file: str
    format: str
    sensors: int
    steps: int
    readings: int = 0
    stored: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0  # reading, checking and storing, wall clock

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "file": self.file,
            "format": self.format,
            "sensors": self.sensors,
            "steps": self.steps,
            "readings": self.readings,
            "stored": self.stored,
            "flagged": dict(self.flags),
            "file_issues": self.issues,
            "seconds": round(self.seconds, 2),
            "readings_per_s": round(self.readings / self.seconds) if self.seconds > 0 else None,
        }


def import_csv(
    path: Path,
    store: ReadingStore,
    sensors: Sequence[str],
    step_s: float,
    *,
    fmt: Literal["wide", "long"] = "wide",
    start: str | None = None,
    now: datetime,
) -> ImportReport:
    """Read `path` with the `traffic.io` readers and store its readings in chunks.

    Columns or rows of sensors not in `sensors` are flagged by the reader and
    skipped; readings go through the same checks as the API (future times are
    dropped, a step already stored is replaced).

    Example:
        >>> # import_csv(Path("speeds.csv"), SqlReadingStore(engine), ["loop-1"], 300,
        >>> #            start="2026-11-24T00:00", now=utcnow()).as_dict()
    """
    started = time.perf_counter()
    if fmt == "wide":
        undated = not _has_time_column(path)
        if undated and start is None:
            raise ImportFailed(f"{path} has no time column: pass --start (the first row's time)")
        first = parse_time(start) if start is not None else None
        if first is not None:
            series = read_wide_csv(path, known_sensors=sensors, start=first, step_s=step_s)
        else:
            series = read_wide_csv(path, known_sensors=sensors, step_s=step_s)
    else:
        series = read_long_csv(path, known_sensors=sensors, step_s=step_s)
    report = ImportReport(str(path), fmt, len(series.sensors), series.shape[0])
    report.issues = {i.kind.value: {"count": i.count, "example": i.example} for i in series.issues}
    raw = list(readings_of(series))
    report.readings = len(raw)
    latest = {s: t for s, (t, _) in store.latest(series.sensors).items()}
    for begin in range(0, len(raw), CHUNK):
        chunk = raw[begin : begin + CHUNK]
        checked = store_batch(store, chunk, set(sensors), step_s, now=now, latest=latest)
        report.stored += len(checked.accepted)
        report.flags.update(f.flag.value for f in checked.flagged)
        log.info("stored %d of %d readings", min(begin + CHUNK, len(raw)), len(raw))
    report.seconds = time.perf_counter() - started
    return report


def _has_time_column(path: Path) -> bool:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except UnicodeDecodeError as exc:
        raise SeriesError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return bool(header) and header[0].strip().lower() in TIME_COLUMNS
