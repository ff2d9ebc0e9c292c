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
from citysentinel.text.sentiment import report_area
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
    area = report_area(event)
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

    `history` (stored events in storage order) warms the baselines in a thread
    once started, without emitting and without holding up startup;
    `next_events` waits for newly stored events; `ingest` stores the
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
        self.warmed = False
        self._stopping = False
        # Storage seqs counted by the warm-up (about 70 bytes each). Kept whole: with
        # concurrent writers, seqs do not commit in order, so no "below n" cut is safe.
        self._replayed: set[int] = set()
        self._outbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def warm(self, now: datetime | None = None) -> int:
        """Replay `history` into the baselines up to `now` (signals dropped); events replayed.

        The storage sequence numbers replayed are remembered, so the same
        events read again from the bus are not counted twice.
        """
        n = 0
        batch: list[Event] = []
        for seq, event in self.history():
            if self._stopping:
                break  # the runtime stops: the thread must not outlive the store
            self._replayed.add(seq)
            batch.append(event)
            n += 1
            if len(batch) >= 1000:
                observe_reports(self.monitor, batch, self.totals)
                batch = []
        observe_reports(self.monitor, batch, self.totals)
        self.monitor.advance(now or datetime.now(UTC))
        self.warmed = True
        return n

    async def start(self) -> None:
        """Start watching at once; the baselines warm from `history` in a thread meanwhile.

        Warming 100,000 stored reports takes seconds (reading and validating the
        stored documents), so startup does not wait for it. Until it is done the
        watcher only drains the bus into a buffer (the bus never waits on it),
        scoring nothing; the buffer is then counted, skipping events the
        warm-up already replayed, so every stored report counts exactly once.
        """
        self._tasks = [
            asyncio.create_task(self._watch(), name="text-surge-watch"),
            asyncio.create_task(self._emit(), name="text-surge-emit"),
        ]

    async def _warm_in_thread(self) -> None:
        started = time.perf_counter()
        try:
            replayed = await asyncio.to_thread(self.warm)
        except Exception:
            log.exception("text surges: warming the baselines from storage failed")
            replayed = 0
            self.warmed = True
        log.info(
            "text surges: baselines warmed with %d stored reports in %.1f s",
            replayed,
            time.perf_counter() - started,
        )

    async def stop(self) -> None:
        """Cancel the tasks and wait for them (a warm-up still running stops early)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def step(self, stored: Sequence[Stored], now: datetime) -> list[Event]:
        """Count newly stored events and close bins up to `now`; the surge events to store."""
        horizon = now + timedelta(seconds=300)
        fresh = [e for seq, e in stored if not self._already_replayed(seq)]
        timely = [e for e in fresh if e.time <= horizon]
        self.future += len(fresh) - len(timely)
        signals = observe_reports(self.monitor, timely, self.totals)
        signals += self.monitor.advance(now)
        return [surge_event(s) for s in signals]

    def _already_replayed(self, seq: int) -> bool:
        # Each stored event reaches the bus once: forget its seq when it shows up.
        if seq in self._replayed:
            self._replayed.discard(seq)
            return True
        return False

    async def _watch(self) -> None:
        # Drain the bus into a buffer while warming, so the pipeline never waits on us.
        warming = asyncio.create_task(self._warm_in_thread(), name="text-surge-warm")
        buffered: list[Stored] = []
        try:
            while not warming.done():
                get = asyncio.ensure_future(self.next_events())
                done, _ = await asyncio.wait({get, warming}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    buffered.extend(get.result())
                else:
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
        finally:
            if not warming.done():
                warming.cancel()
        await self._score(buffered)
        while True:
            try:
                stored = await asyncio.wait_for(self.next_events(), timeout=self.tick_s)
            except TimeoutError:
                stored = []
            await self._score(stored)

    async def _score(self, stored: Sequence[Stored]) -> None:
        try:
            events = self.step(stored, datetime.now(UTC))
        except Exception:
            log.exception("text surges: a batch could not be scored")
            return
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
