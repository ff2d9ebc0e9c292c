"""The `Sink` contract: push incident changes and events to other systems."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from citysentinel.events import Event
from citysentinel.incidents import IncidentChange

SinkItem = IncidentChange | Event


class DeadLetter(BaseModel):
    """A delivery given up after its last try, kept for an operator to inspect or replay."""

    model_config = ConfigDict(extra="forbid")

    sink: str
    target: str
    payload: str
    error: str
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime


DeadLetterHandler = Callable[[DeadLetter], Awaitable[None]]


@runtime_checkable
class Sink(Protocol):
    """One outbound channel. `publish` must not block on the network: queue and return."""

    name: str

    async def start(self) -> None: ...

    async def publish(self, item: SinkItem) -> None: ...

    async def stop(self) -> None: ...
