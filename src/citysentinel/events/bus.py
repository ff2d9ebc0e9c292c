"""An in-process async bus with bounded queues: back-pressure, never silent loss."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from citysentinel.metrics import Metrics

T = TypeVar("T")


class SubscriptionClosed(Exception):
    """Raised to a lossy subscriber that fell behind and was cut off."""


@dataclass(eq=False)
class Subscription(Generic[T]):
    """One subscriber's bounded queue on a topic.

    A *reliable* subscription makes publishers wait when it is full. A *lossy*
    one (a browser's live stream) is closed instead, counted in metrics, and its
    reader resumes from storage; nothing is dropped without a trace.
    """

    topic: str
    name: str
    maxsize: int
    lossy: bool
    queue: asyncio.Queue[T] = field(init=False)
    overflowed: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.maxsize)

    async def get(self) -> T:
        if self.overflowed and self.queue.empty():
            raise SubscriptionClosed(f"{self.name} fell behind on {self.topic}")
        return await self.queue.get()

    def get_nowait_batch(self, limit: int) -> list[T]:
        """Up to `limit` items already queued, without waiting."""
        items: list[T] = []
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return items

    async def __aiter__(self) -> AsyncIterator[T]:
        while True:
            yield await self.get()


class Bus(Generic[T]):
    """Topic-based fan-out to bounded subscriber queues.

    Example:
        >>> import asyncio
        >>> async def demo() -> str:
        ...     bus: Bus[str] = Bus(Metrics())
        ...     sub = bus.subscribe("events", "engine")
        ...     await bus.publish("events", "hello")
        ...     return await sub.get()
        >>> asyncio.run(demo())
        'hello'
    """

    def __init__(self, metrics: Metrics, default_maxsize: int = 10_000) -> None:
        self._metrics = metrics
        self._default_maxsize = default_maxsize
        self._subs: dict[str, list[Subscription[T]]] = {}

    def subscribe(
        self, topic: str, name: str, *, maxsize: int | None = None, lossy: bool = False
    ) -> Subscription[T]:
        sub: Subscription[T] = Subscription(topic, name, maxsize or self._default_maxsize, lossy)
        self._subs.setdefault(topic, []).append(sub)
        return sub

    def unsubscribe(self, sub: Subscription[T]) -> None:
        subs = self._subs.get(sub.topic, [])
        if sub in subs:
            subs.remove(sub)
        if not sub.lossy:
            self._metrics.bus_queue_depth.labels(sub.topic, sub.name).set(0)

    def subscribers(self, topic: str) -> list[Subscription[T]]:
        return list(self._subs.get(topic, []))

    async def publish(self, topic: str, item: T) -> None:
        """Hand `item` to every subscriber, waiting while a reliable queue is full."""
        for sub in list(self._subs.get(topic, [])):
            if sub.lossy:
                self._offer_lossy(sub, item)
                continue
            try:
                sub.queue.put_nowait(item)
            except asyncio.QueueFull:
                self._metrics.bus_blocked_total.labels(topic, sub.name).inc()
                started = time.perf_counter()
                await sub.queue.put(item)
                self._metrics.bus_blocked_seconds.labels(topic).inc(time.perf_counter() - started)
            self._metrics.bus_queue_depth.labels(topic, sub.name).set(sub.queue.qsize())

    def _offer_lossy(self, sub: Subscription[T], item: T) -> None:
        if sub.overflowed:
            return
        try:
            sub.queue.put_nowait(item)
        except asyncio.QueueFull:
            sub.overflowed = True
            self._metrics.bus_overflow_total.labels(sub.topic, sub.name).inc()
            self.unsubscribe(sub)

    def depth(self, topic: str) -> int:
        """Items waiting in the fullest reliable queue of `topic`."""
        return max((s.queue.qsize() for s in self._subs.get(topic, []) if not s.lossy), default=0)
