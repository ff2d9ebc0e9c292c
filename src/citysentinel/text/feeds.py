"""Text feeds that read by themselves: a file imported once at start, a folder watched for files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from citysentinel.config import TextFeedConfig
from citysentinel.events import Event
from citysentinel.text.analyzer import (
    MessagePlace,
    TextAnalyzer,
    TextMessage,
    TextModelError,
    load_models,
)
from citysentinel.text.sentiment import EnglishLexicon, OpinionUnavailable
from citysentinel.text.tables import TextSourceError, iter_rows

if TYPE_CHECKING:
    from citysentinel.text.classify import TextClassifier

log = logging.getLogger(__name__)

Ingest = Callable[[Sequence[Event]], Awaitable[Sequence[object]]]
CHUNK = 500  # messages classified and stored per step: one transaction, bounded memory
SKIP_EXPIRED = "older_than_retention"
PROCESSED_DIR = "processed"
_SUFFIXES = {
    "csv": (".csv",),
    "tsv": (".tsv", ".txt"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "zip": (".zip",),
}


@dataclass
class FeedStats:
    """What a feed has read so far: rows, events made, stored, duplicates, skipped by reason."""

    rows: int = 0
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, other: FeedStats) -> None:
        self.rows += other.rows
        self.events += other.events
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.skipped.update(other.skipped)


class TextFeed(Protocol):
    """A feed that runs in the background (file and folder feeds; HTTP feeds are pushed to)."""

    feed_id: str
    stats: FeedStats

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def parse_time(value: str | None, tz: tzinfo) -> datetime | None:
    """An ISO 8601 time or Unix seconds; naive times are in `tz`; None when unreadable.

    Example:
        >>> parse_time("2024-05-01 08:30", UTC).isoformat()
        '2024-05-01T08:30:00+00:00'
        >>> parse_time("1714552200", UTC).isoformat(), parse_time("soon", UTC)
        ('2024-05-01T08:30:00+00:00', None)
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def read_messages(path: Path, config: TextFeedConfig, tz: tzinfo) -> Iterator[TextMessage]:
    """The messages of one file, by the feed's format, encoding and column mapping.

    Rows without the text column are skipped; a missing id column makes the
    content the message's identity (see `event_id`).

    Example:
        >>> feed = TextFeedConfig(id="f", type="file", path="calls.csv")
        >>> list(read_messages(Path("calls.csv"), feed, UTC))  # doctest: +SKIP
        [TextMessage(text='Smoke on 5th Ave', id=None, time=None, place=None)]
    """
    cols = config.columns
    for row in iter_rows(path, config.format, config.encoding):
        text = row.get(cols.text)
        if text is None or isinstance(text, dict | list):
            continue
        ident, when, place, area = (
            _cell(row, c) for c in (cols.id, cols.time, cols.location, cols.area)
        )
        yield TextMessage(
            text if isinstance(text, str | bytes) else str(text),
            id=ident,
            time=parse_time(when, tz),
            place=MessagePlace(place, area=area) if place or area else None,
        )


def _cell(row: dict[str, object], column: str | None) -> str | None:
    value = row.get(column) if column else None
    return None if value is None or str(value).strip() == "" else str(value).strip()


async def ingest_messages(
    messages: Sequence[TextMessage],
    analyzer: TextAnalyzer,
    ingest: Ingest,
    max_age: timedelta | None = None,
) -> FeedStats:
    """Analyze and store messages in chunks; classification runs off the event loop.

    Messages older than `max_age` (the event retention) are skipped: retention
    would delete them at once and every restart would import them again.
    """
    stats = FeedStats()
    for start in range(0, len(messages), CHUNK):
        chunk = messages[start : start + CHUNK]
        if max_age is not None:
            oldest = datetime.now(UTC) - max_age
            kept = [m for m in chunk if m.time is None or m.time >= oldest]
            stats.skipped[SKIP_EXPIRED] += len(chunk) - len(kept)
            stats.rows += len(chunk) - len(kept)
            chunk = kept
        outcomes = await asyncio.to_thread(analyzer.analyze, chunk)
        events = [o.event for o in outcomes if o.event is not None]
        stats.skipped.update(o.skipped for o in outcomes if o.skipped is not None)
        stored = await ingest(events) if events else []
        stats.rows += len(chunk)
        stats.events += len(events)
        stats.stored += len(stored)
        stats.duplicates += len(events) - len(stored)
    return stats


async def import_file(
    path: Path,
    config: TextFeedConfig,
    analyzer: TextAnalyzer,
    ingest: Ingest,
    tz: tzinfo,
    max_age: timedelta | None = None,
) -> FeedStats:
    """Read, analyze and store one file; re-importing it stores nothing new (ids are stable)."""
    messages = await asyncio.to_thread(lambda: list(read_messages(path, config, tz)))
    stats = await ingest_messages(messages, analyzer, ingest, max_age)
    log.info(
        "text feed %s: %s: %d rows, %d events stored, %d already stored, skipped %s",
        config.id,
        path,
        stats.rows,
        stats.stored,
        stats.duplicates,
        dict(stats.skipped) or "none",
    )
    return stats


class _Background:
    """Runs `_run` as one asyncio task; `stop` cancels it and waits."""

    def __init__(
        self,
        config: TextFeedConfig,
        analyzer: TextAnalyzer,
        ingest: Ingest,
        tz: tzinfo,
        max_age: timedelta | None = None,
    ) -> None:
        self.feed_id = config.id
        self.max_age = max_age
        self.config = config
        self.analyzer = analyzer
        self.ingest = ingest
        self.tz = tz
        self.stats = FeedStats()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running event loop."""
        self._task = asyncio.create_task(self._run(), name=f"text-feed-{self.feed_id}")

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError


class FileFeed(_Background):
    """Imports the configured file once at start; retries while storage fails.

    Example:
        >>> feed = FileFeed(config, analyzer, pipeline.ingest, UTC)  # doctest: +SKIP
        >>> feed.start(); await feed.done.wait()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: TextFeedConfig,
        analyzer: TextAnalyzer,
        ingest: Ingest,
        tz: tzinfo,
        max_age: timedelta | None = None,
    ) -> None:
        super().__init__(config, analyzer, ingest, tz, max_age)
        self.done = asyncio.Event()

    async def _run(self) -> None:
        path = Path(str(self.config.path))
        try:
            while True:
                try:
                    self.stats.add(
                        await import_file(
                            path, self.config, self.analyzer, self.ingest, self.tz, self.max_age
                        )
                    )
                    return
                except (OSError, TextSourceError) as exc:
                    log.error("text feed %s: cannot import %s: %s", self.feed_id, path, exc)
                    return
                except Exception:
                    log.exception("text feed %s: import failed; retrying", self.feed_id)
                    await asyncio.sleep(self.config.poll_s)
        finally:
            self.done.set()


class FolderFeed(_Background):
    """Watches a folder: each new file, once its size settles, is imported and moved away.

    Imported files go to `processed/` inside the folder (remembered instead when
    they cannot be moved); a file that fails to store is retried at the next poll.

    Example:
        >>> feed = FolderFeed(config, analyzer, pipeline.ingest, UTC)  # doctest: +SKIP
        >>> await feed.poll_once()  # doctest: +SKIP
        [PosixPath('inbox/calls-0501.csv')]
    """

    def __init__(
        self,
        config: TextFeedConfig,
        analyzer: TextAnalyzer,
        ingest: Ingest,
        tz: tzinfo,
        max_age: timedelta | None = None,
    ) -> None:
        super().__init__(config, analyzer, ingest, tz, max_age)
        self.folder = Path(str(config.path))
        self._sizes: dict[Path, tuple[int, int]] = {}
        self._done: set[Path] = set()

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("text feed %s: polling %s failed", self.feed_id, self.folder)
            await asyncio.sleep(self.config.poll_s)

    def _candidates(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        suffixes = _SUFFIXES[self.config.format]
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )

    async def poll_once(self) -> list[Path]:
        """Import the files that did not change since the last poll; returns them."""
        settled: list[Path] = []
        sizes: dict[Path, tuple[int, int]] = {}
        for path in await asyncio.to_thread(self._candidates):
            if path in self._done:
                continue
            with contextlib.suppress(OSError):
                st = path.stat()
                sizes[path] = (st.st_size, st.st_mtime_ns)
                if self._sizes.get(path) == sizes[path]:
                    settled.append(path)
        self._sizes = sizes
        for path in settled:
            try:
                stats = await import_file(
                    path, self.config, self.analyzer, self.ingest, self.tz, self.max_age
                )
            except (OSError, TextSourceError) as exc:
                log.error("text feed %s: cannot read %s: %s", self.feed_id, path, exc)
                self._done.add(path)
                continue
            self.stats.add(stats)
            await asyncio.to_thread(self._put_away, path)
        return settled

    def _put_away(self, path: Path) -> None:
        target = self.folder / PROCESSED_DIR / path.name
        n = 1
        while target.exists():
            target = target.with_name(f"{path.stem}.{n}{path.suffix}")
            n += 1
        try:
            target.parent.mkdir(exist_ok=True)
            path.rename(target)
        except OSError as exc:
            log.warning(
                "text feed %s: cannot move %s (%s); remembering it", self.feed_id, path, exc
            )
            self._done.add(path)


FEED_TYPES: dict[str, type[FileFeed] | type[FolderFeed]] = {"file": FileFeed, "folder": FolderFeed}


def build_feeds(
    configs: Sequence[TextFeedConfig],
    analyzers: dict[str, TextAnalyzer],
    ingest: Ingest,
    tz: tzinfo,
    max_age: timedelta | None = None,
) -> dict[str, TextFeed]:
    """A background feed for every file and folder feed (HTTP feeds are pushed to by the API)."""
    return {
        c.id: FEED_TYPES[c.type](c, analyzers[c.id], ingest, tz, max_age)
        for c in configs
        if c.type in FEED_TYPES
    }


def build_analyzers(configs: Sequence[TextFeedConfig]) -> dict[str, TextAnalyzer]:
    """An analyzer per feed; each model directory is loaded once and shared.

    Raises `TextModelError` naming the feed and directory when a model cannot load.

    Example:
        >>> feeds = [TextFeedConfig(id="hotline", type="http")]
        >>> build_analyzers(feeds)["hotline"].models
        {}
    """
    cache: dict[Path, TextClassifier] = {}
    out: dict[str, TextAnalyzer] = {}
    english = _english_lexicon() if configs else None
    for c in configs:
        try:
            models = load_models(c.models, cache)
        except TextModelError as exc:
            raise TextModelError(f"text feed {c.id!r}: {exc}") from exc
        out[c.id] = TextAnalyzer(
            c.id, models, channel=c.channel or c.type, lang=c.lang, area=c.area, english=english
        )
    return out


def _english_lexicon() -> EnglishLexicon | None:
    # One lexicon shared by every feed; without the package English polarity is left out.
    try:
        return EnglishLexicon()
    except OpinionUnavailable as exc:
        log.warning("%s; English messages get no sentiment", exc)
        return None
