"""`eval surges`: replay a timed message or call log through the surge monitor, report surges.

The log is replayed in time order exactly as a live feed would see it (each
series learns only from its past), per category and, with `--area-col`, per
area as well as county-wide (area `null`), plus the `*` series of all
messages. For every surge the report gives the series, when it started and
ended, observed vs expected calls and the titles (the text column) that made
up most of it, so whether a surge matches a real happening can be checked
from the log itself.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from citysentinel.text.surge import ALL, SurgeKey, SurgeMonitor, SurgeSignal
from citysentinel.text.tables import iter_rows

log = logging.getLogger(__name__)
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".zip": "zip"}


class SurgeEvalError(ValueError):
    """The log cannot be read or has no timed rows."""


@dataclass(frozen=True)
class Call:
    """One timed row of the log: when, its category, area and title."""

    time: datetime
    category: str
    area: str | None
    title: str


def read_calls(
    path: Path,
    *,
    time_col: str,
    category_col: str,
    area_col: str | None,
    category_sep: str | None,
    tz: tzinfo,
) -> list[Call]:
    """Timed rows sorted by time; rows without a readable time or category are skipped.

    A category like "EMS: BACK PAINS/INJURY" becomes "EMS" with `category_sep=":"`.
    """
    from citysentinel.text.feeds import parse_time

    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None or not path.is_file():
        raise SurgeEvalError(f"{path}: not a csv, tsv, jsonl or zip file")
    calls: list[Call] = []
    skipped = 0
    for row in iter_rows(path, fmt):
        when = parse_time(_text(row.get(time_col)), tz)
        title = _text(row.get(category_col))
        if when is None or not title:
            skipped += 1
            continue
        category = title.split(category_sep)[0].strip() if category_sep else title
        calls.append(Call(when, category, _text(row.get(area_col)) if area_col else None, title))
    if skipped:
        log.warning("%s: skipped %d rows without a time or category", path, skipped)
    if not calls:
        raise SurgeEvalError(f"{path}: no rows with both {time_col!r} and {category_col!r}")
    return sorted(calls, key=lambda c: c.time)


def _text(value: object) -> str | None:
    if isinstance(value, dict):  # a canonical record's location: {"name", "lat", "lon"}
        value = value.get("name")
    if isinstance(value, list):  # a canonical record's labels
        value = value[0] if value else None
    return None if value is None or str(value).strip() == "" else str(value).strip()


def keys_of(call: Call) -> Iterator[SurgeKey]:
    """Series a call counts in: its category and `*`, county-wide and (when known) its area."""
    for area in (None, call.area) if call.area else (None,):
        yield SurgeKey(call.category, area)
        yield SurgeKey(ALL, area)


def evaluate_surges(
    path: Path,
    *,
    time_col: str = "time",
    category_col: str = "labels",
    area_col: str | None = None,
    category_sep: str | None = None,
    tz: str = "UTC",
    monitor: SurgeMonitor | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """Surge counts per category, the top surges (by excess calls) with dates and titles.

    Example:
        >>> evaluate_surges(Path("911.csv"), time_col="timeStamp", category_col="title",
        ...                 category_sep=":", tz="America/New_York")["surges"]  # doctest: +SKIP
        {'Traffic': 7, 'EMS': 2, '*': 5}
    """
    zone = ZoneInfo(tz)
    calls = read_calls(
        path,
        time_col=time_col,
        category_col=category_col,
        area_col=area_col,
        category_sep=category_sep,
        tz=zone,
    )
    mon = monitor or SurgeMonitor(tz=zone)
    signals: list[SurgeSignal] = []
    titles: dict[SurgeKey, list[tuple[datetime, str]]] = defaultdict(list)
    for n, call in enumerate(calls, start=1):
        keys = list(keys_of(call))
        signals.extend(mon.observe((k, call.time) for k in keys))
        for k in keys:
            titles[k].append((call.time, call.title))
        if n % 2000 == 0:
            log.info("surges: %d of %d calls replayed", n, len(calls))
    signals.extend(mon.advance(calls[-1].time + timedelta(seconds=mon.bin_s)))
    return _report(calls, mon, signals, titles, zone, top)


def _report(
    calls: list[Call],
    mon: SurgeMonitor,
    signals: list[SurgeSignal],
    titles: dict[SurgeKey, list[tuple[datetime, str]]],
    zone: tzinfo,
    top: int,
) -> dict[str, Any]:
    starts = [s for s in signals if s.state == "start"]
    ends = {(s.key, s.start): s for s in signals if s.state == "end"}
    per_category: Counter[str] = Counter()
    per_area_level: Counter[str] = Counter()
    for s in starts:
        per_category[s.key.category] += 1
        per_area_level["county" if s.key.area is None else "area"] += 1

    def excess(s: SurgeSignal) -> float:
        end = ends.get((s.key, s.start), s)
        return end.observed - end.expected

    surges = []
    for s in sorted(starts, key=excess, reverse=True)[:top]:
        end = ends.get((s.key, s.start))
        until = end.time if end else s.time
        inside = Counter(t for when, t in titles[s.key] if s.start <= when < until)
        surges.append(
            {
                "category": s.key.category,
                "area": s.key.area,
                "start": s.start.astimezone(zone).isoformat(),
                "end": until.astimezone(zone).isoformat() if end else None,
                "first_bin_observed": s.observed,
                "first_bin_expected": s.expected,
                "score": s.score,
                "total_observed": end.observed if end else s.observed,
                "total_expected": end.expected if end else s.expected,
                "peak_bin": end.peak if end else s.peak,
                "top_titles": inside.most_common(3),
            }
        )
    return {
        "calls": len(calls),
        "first": calls[0].time.astimezone(zone).isoformat(),
        "last": calls[-1].time.astimezone(zone).isoformat(),
        "bin_s": mon.bin_s,
        "series": len(mon.detectors),
        "late_rows": mon.late,
        "settings": {
            "alpha": mon.alpha,
            "end_alpha": mon.end_alpha,
            "min_count": mon.min_count,
            "min_ratio": mon.min_ratio,
            "cooldown_s": mon.cooldown_s,
            "warmup_bins": mon.warmup_bins,
            "prior_bins": mon.prior_bins,
        },
        "surges": dict(per_category.most_common()),
        "surges_by_level": dict(per_area_level),
        "surge_days": dict(
            sorted(Counter(s.start.astimezone(zone).date().isoformat() for s in starts).items())
        ),
        "top": surges,
        "busiest_days": _busiest_days(calls, starts, zone),
    }


def _busiest_days(
    calls: list[Call], starts: list[SurgeSignal], zone: tzinfo, n: int = 3
) -> dict[str, list[dict[str, Any]]]:
    # A check from the log itself: are the days with most calls of a category surge days?
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for c in calls:
        by_cat[c.category][c.time.astimezone(zone).date().isoformat()] += 1
    surged = {(s.key.category, s.start.astimezone(zone).date().isoformat()) for s in starts}
    out: dict[str, list[dict[str, Any]]] = {}
    for cat, days in sorted(by_cat.items()):
        mean = sum(days.values()) / len(days)
        out[cat] = [
            {"day": d, "calls": k, "daily_mean": round(mean, 1), "surge": (cat, d) in surged}
            for d, k in days.most_common(n)
        ]
    return out
