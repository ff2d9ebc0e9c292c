"""Public opinion over time: polarity and emotions of stored text reports, bucketed for charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from citysentinel.api.auth import Viewer
from citysentinel.api.deps import Context, StoreDep
from citysentinel.events import Event, EventKind
from citysentinel.storage.store import EventQuery, Store
from citysentinel.text.sentiment import EMOTIONS, NEGATIVE_BELOW, aggregate_opinion

router = APIRouter(prefix="/api/v1/text", tags=["text"])
SCAN_LIMIT = 50_000  # stored reports read per request; more is reported as `truncated`
MAX_BUCKETS = 2_000  # time windows in the range
UNPROCESSABLE = 422  # Starlette renamed its constant for 422; the number is stable
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class OpinionBucket(BaseModel):
    start: datetime = Field(
        description="Start of the time window. Windows tile the wall-clock time of `tz`"
        " (with tz=site a 1d window starts at the site's midnight; across a DST change it is"
        " 23 or 25 h long)."
    )
    end: datetime = Field(description="End of the time window.")
    key: str | None = Field(description="The category or area; null: none given.")
    count: int = Field(description="Reports in the window and group.")
    scored: int = Field(description="Reports with a polarity (English, or Chinese with a model).")
    mean_polarity: float | None = Field(description="Mean polarity, -1 to 1, of scored reports.")
    share_negative: float | None = Field(
        description=f"Share of scored reports with polarity <= {NEGATIVE_BELOW}."
    )
    emotions: dict[str, int] = Field(
        description=f"Reports per strongest emotion (Chinese): {', '.join(EMOTIONS)}."
    )


class OpinionReport(BaseModel):
    by: Literal["category", "area"]
    window_s: float = Field(description="Window length, seconds.")
    tz: str = Field(description="Time zone whose wall clock the windows tile.")
    since: datetime
    until: datetime
    scanned: int = Field(description="Stored reports read.")
    truncated: bool = Field(
        description=f"True when more than {SCAN_LIMIT} reports fell in the range: only the"
        f" first {SCAN_LIMIT} in storage order (the order they were received) were counted,"
        " so the later windows are incomplete: narrow the range."
    )
    buckets: list[OpinionBucket] = Field(description="Sorted by start, then key.")


def parse_window(text: str) -> float:
    """`30m`, `1h`, `1d` or plain seconds, 60 s to 7 days.

    Example:
        >>> parse_window("1h"), parse_window("900")
        (3600.0, 900.0)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if m is None:
        raise ValueError(f"window {text!r}: use e.g. 15m, 1h, 1d or seconds")
    seconds = float(m[1]) * _UNITS[m[2] or "s"]
    if not 60 <= seconds <= 7 * 86400:
        raise ValueError(f"window {text!r}: must be between 1 minute and 7 days")
    return seconds


def _reports(
    store: Store, since: datetime, until: datetime, limit: int = SCAN_LIMIT
) -> tuple[list[Event], bool]:
    """At most `limit` reports in storage order, and whether more were left unread."""
    q = EventQuery(kind=[EventKind.TEXT_REPORT.value], since=since, until=until, order="asc")
    out: list[Event] = []
    while True:
        q = q.model_copy(update={"limit": min(1000, limit - len(out))})
        page = store.list_events(q)
        out.extend(s.event for s in page.items)
        if page.next_cursor is None:
            return out, False
        if len(out) >= limit:
            return out, True
        q = q.model_copy(update={"cursor": page.next_cursor})


@router.get("/opinion", response_model=OpinionReport)
def opinion(
    ctx: Context,
    store: StoreDep,
    _: Viewer,
    window: Annotated[str, Query(description="Bucket length: 15m, 1h, 1d or seconds.")] = "1h",
    by: Annotated[Literal["category", "area"], Query(description="Group by.")] = "category",
    since: Annotated[datetime | None, Query(description="Default: 24 h before `until`.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now.")] = None,
    tz: Annotated[
        str,
        Query(
            description="Windows tile this zone's wall clock: `UTC` (default), `site` (the"
            " site's time zone) or an IANA name such as `Asia/Shanghai`.",
            max_length=64,
        ),
    ] = "UTC",
) -> OpinionReport:
    """Count, mean polarity, share negative and emotions of text reports per window and group.

    Aggregated from the stored `text.report` events on each request (no extra
    table); at most 50,000 reports are read per request (`truncated`).
    """
    try:
        window_s = parse_window(window)
        zone = _zone(tz, ctx.site.site.tz)
    except ValueError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from exc
    until = _aware(until) if until else datetime.now(UTC)
    since = _aware(since) if since else until - timedelta(days=1)
    if since >= until:
        raise HTTPException(UNPROCESSABLE, "since must be before until")
    if (until - since).total_seconds() / window_s > MAX_BUCKETS:
        raise HTTPException(
            UNPROCESSABLE,
            f"more than {MAX_BUCKETS} windows in the range: widen the window or narrow the range",
        )
    events, truncated = _reports(store, since, until)
    buckets = [
        OpinionBucket(
            start=b.start,
            end=b.end or b.start + timedelta(seconds=window_s),
            key=b.key,
            count=b.count,
            scored=b.scored,
            mean_polarity=b.mean_polarity,
            share_negative=b.share_negative,
            emotions=dict(b.emotions),
        )
        for b in aggregate_opinion(events, window_s, by, zone)
    ]
    return OpinionReport(
        by=by,
        window_s=window_s,
        tz=str(zone),
        since=since,
        until=until,
        scanned=len(events),
        truncated=truncated,
        buckets=buckets,
    )


def _zone(name: str, site: tzinfo) -> tzinfo:
    """`UTC`, `site` or an IANA zone name; ValueError for anything else."""
    if name == "site":
        return site
    try:
        return UTC if name == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Asia", a folder
        raise ValueError(f"tz {name!r}: use UTC, site or an IANA name like Asia/Shanghai") from exc


def _aware(t: datetime) -> datetime:
    # A time without a zone is taken as UTC (query strings often omit it).
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
