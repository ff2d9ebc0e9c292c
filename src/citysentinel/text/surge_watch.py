"""Surges live: stored `text.report` events in, `text.surge` events out (see `text.surge`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from citysentinel.config import TextSurgeConfig
from citysentinel.events import Event, EventKind, EventState, Evidence, EvidenceType, Location
from citysentinel.events.payloads import TextReportPayload, TextSurgePayload
from citysentinel.text.surge import ALL, SurgeKey, SurgeMonitor, SurgeSignal

log = logging.getLogger(__name__)
SOURCE = "text-surge"


def report_keys(event: Event, totals: bool = True) -> list[SurgeKey]:
    """The series a stored `text.report` event counts in: its category, and `*` when `totals`.

    Example:
        >>> e = Event(kind="text.report", source="hotline",
        ...           payload={"category": "fire", "area": "north"})
        >>> report_keys(e)
        [SurgeKey(category='fire', area='north'), SurgeKey(category='*', area='north')]
    """
    p = event.payload
    if event.kind != EventKind.TEXT_REPORT or not isinstance(p, TextReportPayload):
        return []
    area = p.area or event.location.zone
    keys = [SurgeKey(p.category, area)] if p.category else []
    return [*keys, SurgeKey(ALL, area)] if totals else keys


def surge_event(signal: SurgeSignal) -> Event:
    """The `text.surge` event of a signal: START when it begins, END when it subsides.

    The id is derived from the series and the surge's first bin, so replaying
    the same history yields the same events (stored once).
    """
    key = signal.key
    h = hashlib.sha256(f"{key.category}\0{key.area}\0{signal.start.isoformat()}".encode())
    where = f" in {key.area}" if key.area else ""
    what = "messages" if key.category == ALL else f"'{key.category}' messages"
    caption = (
        f"{signal.observed} {what}{where} in {signal.window_s / 3600:g} h,"
        f" expected {signal.expected:g} (-log10 p = {signal.score:g})"
    )
    return Event(
        id=f"surge-{h.hexdigest()[:32]}-{signal.state}",
        kind=EventKind.TEXT_SURGE,
        state=EventState.START if signal.state == "start" else EventState.END,
        time=signal.time,
        source=SOURCE,
        location=Location(address=key.area),
        labels=[] if key.category == ALL else [key.category[:100]],
        confidence=min(1.0, signal.score / 10.0) if signal.score > 0 else 0.0,
        evidence=[Evidence(type=EvidenceType.TEXT, text=caption, caption=caption[:500])],
        payload=TextSurgePayload(
            category=key.category[:100],
            area=key.area[:200] if key.area else None,
            observed=signal.observed,
            expected=signal.expected,
            score=signal.score,
            window_s=signal.window_s,
        ),
    )


def observe_reports(
    monitor: SurgeMonitor, events: Sequence[Event], totals: bool = True
) -> list[SurgeSignal]:
    """Feed stored `text.report` events (other kinds are ignored) to the monitor, in time order."""
    items = [
        (k, e.time) for e in sorted(events, key=lambda e: e.time) for k in report_keys(e, totals)
    ]
    return monitor.observe(items)


def monitor_from_config(config: TextSurgeConfig, tz: tzinfo) -> SurgeMonitor:
    """A monitor with the site's surge settings.

    Example:
        >>> monitor_from_config(TextSurgeConfig(bin_s=1800), UTC).bin_s
        1800.0
    """
    return SurgeMonitor(
        bin_s=float(config.bin_s),
        alpha=config.alpha,
        end_alpha=config.end_alpha,
        min_count=config.min_count,
        min_ratio=config.min_ratio,
        cooldown_s=config.cooldown_s,
        warmup_bins=config.warmup_bins,
        prior_bins=config.prior_bins,
        tz=tz,
    )


Stored = tuple[int, Event]  # (storage sequence number, event)


class SurgeWatcher:
    """Runs a monitor on stored events as they arrive and ingests the `text.surge` events.

    `history` (stored events, oldest first) warms the baselines at start without
    emitting; `next_events` waits for newly stored events; `ingest` stores the
    surge events (through a queue, so storing never blocks reading). Bins are
    also closed by the clock every `tick_s`, so a surge ends when messages stop.

    Example:
        >>> watcher = SurgeWatcher(monitor, pipeline.ingest, next_events, history)  # doctest: +SKIP
        >>> await watcher.start(); ...; await watcher.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        monitor: SurgeMonitor,
        ingest: Callable[[Sequence[Event]], Awaitable[object]],
        next_events: Callable[[], Awaitable[Sequence[Stored]]],
        history: Callable[[], Iterable[Stored]] = tuple,
        *,
        totals: bool = True,
        tick_s: float = 60.0,
    ) -> None:
        self.monitor = monitor
        self.ingest = ingest
        self.next_events = next_events
        self.history = history
        self.totals = totals
        self.tick_s = tick_s
        self.emitted = 0
        self.future = 0  # events stamped ahead of the clock, not counted
        self._warm_seq = 0
        self._outbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def warm(self, now: datetime | None = None) -> int:
        """Replay `history` into the baselines up to `now` (signals dropped); events replayed."""
        n = 0
        batch: list[Event] = []
        for seq, event in self.history():
            self._warm_seq = max(self._warm_seq, seq)
            batch.append(event)
            n += 1
            if len(batch) >= 1000:
                observe_reports(self.monitor, batch, self.totals)
                batch = []
        observe_reports(self.monitor, batch, self.totals)
        self.monitor.advance(now or datetime.now(UTC))
        return n

    async def start(self) -> None:
        """Warm the baselines from `history` (off the loop), then watch on the running loop.

        Warming finishes before the tasks start, so no event is both replayed and
        read from the bus, and the bus never waits on a watcher still warming.
        """
        started = time.perf_counter()
        try:
            replayed = await asyncio.to_thread(self.warm)
        except Exception:
            log.exception("text surges: warming the baselines from storage failed")
            replayed = 0
        log.info(
            "text surges: baselines warmed with %d stored reports in %.1f s",
            replayed,
            time.perf_counter() - started,
        )
        self._tasks = [
            asyncio.create_task(self._watch(), name="text-surge-watch"),
            asyncio.create_task(self._emit(), name="text-surge-emit"),
        ]

    async def stop(self) -> None:
        """Cancel the tasks and wait for them."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def step(self, stored: Sequence[Stored], now: datetime) -> list[Event]:
        """Count newly stored events and close bins up to `now`; the surge events to store."""
        horizon = now + timedelta(seconds=300)
        fresh = [e for seq, e in stored if seq > self._warm_seq]
        timely = [e for e in fresh if e.time <= horizon]
        self.future += len(fresh) - len(timely)
        signals = observe_reports(self.monitor, timely, self.totals)
        signals += self.monitor.advance(now)
        return [surge_event(s) for s in signals]

    async def _watch(self) -> None:
        while True:
            try:
                stored = await asyncio.wait_for(self.next_events(), timeout=self.tick_s)
            except TimeoutError:
                stored = []
            try:
                events = self.step(stored, datetime.now(UTC))
            except Exception:
                log.exception("text surges: a batch could not be scored")
                continue
            if events:
                self._outbox.put_nowait(events)

    async def _emit(self) -> None:
        while True:
            events = await self._outbox.get()
            try:
                await self.ingest(events)
                self.emitted += len(events)
            except Exception:
                log.exception("text surges: storing %d surge events failed", len(events))
