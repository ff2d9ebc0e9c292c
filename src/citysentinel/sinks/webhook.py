"""Webhook sink: HMAC-signed JSON posts with retries, backoff and dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from citysentinel.events import Severity
from citysentinel.incidents import ChangeType, IncidentChange
from citysentinel.metrics import Metrics
from citysentinel.sinks.base import DeadLetter, DeadLetterHandler, SinkItem

log = logging.getLogger(__name__)

USER_AGENT = "citysentinel/0.1"
TIMESTAMP_HEADER = "X-Citysentinel-Timestamp"
SIGNATURE_HEADER = "X-Citysentinel-Signature"
DELIVERY_HEADER = "X-Citysentinel-Delivery"
_RETRY_STATUSES = frozenset({408, 429})


class WebhookConfig(BaseModel):
    """POST incident changes to a URL, signed with HMAC-SHA256 over the body."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Name of this webhook.")
    url: AnyHttpUrl = Field(description="Where to POST.")
    secret: SecretStr | None = Field(
        default=None, description="HMAC key; write ${ENV_VAR} to read it from the environment."
    )
    types: list[ChangeType] = Field(
        default_factory=lambda: list(ChangeType), description="Change types to send."
    )
    min_severity: Severity = Field(
        default=Severity.INFORMATIONAL, description="Skip incidents below this severity."
    )
    include_silenced: bool = Field(default=False, description="Send silenced incidents too.")
    max_attempts: int = Field(default=6, ge=1, le=50, description="Tries before a dead letter.")
    backoff_initial_s: float = Field(default=1.0, gt=0, description="First retry delay.")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Longest retry delay.")
    timeout_s: float = Field(default=5.0, gt=0, description="Per-request timeout.")
    queue_size: int = Field(
        default=1000,
        ge=1,
        description="Deliveries waiting for this webhook; past it new ones are dead-lettered.",
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Citysentinel-Signature` value: `sha256=` and the HMAC of `"<timestamp>." + body`.

    Example:
        >>> sign("s3cret", "1700000000", b"{}")[:7]
        'sha256='
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Check a delivery on the receiving side, in constant time.

    Pass the raw request body (before any JSON parsing), the
    `X-Citysentinel-Timestamp` header and the `X-Citysentinel-Signature` header.
    Receivers should also reject timestamps more than a few minutes old, so a
    captured request cannot be replayed; `X-Citysentinel-Delivery` stays the same
    across retries of one delivery and can be used to drop duplicates.

    Example:
        >>> body = b'{"type":"new"}'
        >>> verify_signature("s3cret", "1700000000", body, sign("s3cret", "1700000000", body))
        True
        >>> verify_signature("wrong", "1700000000", body, sign("s3cret", "1700000000", body))
        False
    """
    return hmac.compare_digest(sign(secret, timestamp, body), header.strip())


def change_body(change: IncidentChange) -> bytes:
    """The JSON body posted for one change: type, action, actor, at, incident, before."""
    document = change.model_dump(mode="json", include={"type", "action", "actor", "at"})
    document["incident"] = change.after.model_dump(mode="json")
    document["before"] = change.before.model_dump(mode="json") if change.before else None
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class _Delivery:
    body: bytes
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str = ""


class _Permanent(Exception):
    """The receiver rejected the request; retrying will not help."""


class _Retryable(Exception):
    """A failure worth another try, optionally after a delay the server asked for."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WebhookSink:
    """POSTs incident changes to one URL, in order, retrying with backoff.

    `publish` serialises the change and queues it; one worker task delivers the
    queue head first, so a receiver sees changes in the order they happened. A
    delivery that fails permanently (4xx other than 408/429) or runs out of
    attempts goes to the dead-letter handler.

    Example:
        >>> import asyncio
        >>> from citysentinel.metrics import Metrics
        >>> async def dead(letter: DeadLetter) -> None: ...
        >>> async def demo() -> str:
        ...     cfg = WebhookConfig(id="ops", url="http://127.0.0.1:9/hook")
        ...     sink = WebhookSink(cfg, Metrics(), dead)
        ...     await sink.start()
        ...     await sink.stop()
        ...     return sink.name
        >>> asyncio.run(demo())
        'webhook:ops'
    """

    def __init__(
        self,
        config: WebhookConfig,
        metrics: Metrics,
        dead_letters: DeadLetterHandler,
        *,
        client: httpx.AsyncClient | None = None,
        drain_timeout_s: float = 5.0,
    ) -> None:
        self.name = f"webhook:{config.id}"
        self._config = config
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._client = client
        self._owns_client = client is None
        self._drain_timeout_s = drain_timeout_s
        self._url = str(config.url)
        self._secret = config.secret.get_secret_value() if config.secret else None
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue(config.queue_size)
        self._current: _Delivery | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the delivery worker."""
        if self._worker is not None:
            return
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._config.timeout_s)
        self._worker = asyncio.create_task(self._run(), name=self.name)

    async def publish(self, item: SinkItem) -> None:
        """Queue a matching incident change for delivery and return; events are ignored."""
        if not isinstance(item, IncidentChange) or not self._wanted(item):
            return
        delivery = _Delivery(change_body(item))
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            # Waiting here would stall every other sink behind one slow receiver.
            delivery.last_error = f"queue full ({self._config.queue_size} waiting)"
            await self._dead_letter(delivery)

    def _wanted(self, change: IncidentChange) -> bool:
        cfg = self._config
        return (
            change.type in cfg.types
            and change.after.severity.rank >= cfg.min_severity.rank
            and (cfg.include_silenced or not change.silenced)
        )

    async def stop(self) -> None:
        """Deliver what is queued within `drain_timeout_s`, then dead-letter the rest."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), self._drain_timeout_s)
        in_flight = self._current
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        leftovers = [in_flight] if in_flight else []
        while not self._queue.empty():
            leftovers.append(self._queue.get_nowait())
            self._queue.task_done()
        for delivery in leftovers:
            delivery.last_error = delivery.last_error or "sink stopped before delivery"
            await self._dead_letter(delivery)
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.get()
            self._current = delivery
            try:
                await self._deliver(delivery)
            except Exception:  # a bug here must not kill the worker and stall the queue
                log.exception("%s: unexpected error delivering %s", self.name, delivery.id)
                delivery.last_error = "internal error"
                await self._dead_letter(delivery)
            finally:
                self._current = None
                self._queue.task_done()

    async def _deliver(self, delivery: _Delivery) -> None:
        cfg = self._config
        while True:
            try:
                await self._attempt(delivery)
            except _Permanent as exc:
                delivery.last_error = str(exc)
                await self._dead_letter(delivery)
                return
            except _Retryable as exc:
                delivery.last_error = str(exc)
                if delivery.attempts >= cfg.max_attempts:
                    await self._dead_letter(delivery)
                    return
                self._metrics.sink_deliveries_total.labels(self.name, "retry").inc()
                delay = self._backoff(delivery.attempts, exc.retry_after_s)
                log.info("%s: %s; retry in %.2fs", self.name, exc, delay)
                await asyncio.sleep(delay)
            else:
                self._metrics.sink_deliveries_total.labels(self.name, "ok").inc()
                return

    async def _attempt(self, delivery: _Delivery) -> None:
        if self._client is None:
            raise RuntimeError(f"{self.name}: start() was not called")
        now = datetime.now(UTC)
        delivery.first_attempt_at = delivery.first_attempt_at or now
        delivery.last_attempt_at = now
        delivery.attempts += 1
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: delivery.id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, delivery.body)
        try:
            response = await self._client.post(
                self._url, content=delivery.body, headers=headers, timeout=self._config.timeout_s
            )
        except httpx.HTTPError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        message = f"HTTP {status}: {response.text[:200]}"
        if status >= 500 or status in _RETRY_STATUSES:
            raise _Retryable(message, _retry_after(response))
        raise _Permanent(message)

    def _backoff(self, attempts: int, retry_after_s: float | None) -> float:
        cfg = self._config
        if retry_after_s is not None:
            return min(retry_after_s, cfg.backoff_max_s)
        delay = min(cfg.backoff_initial_s * 2.0 ** (attempts - 1), cfg.backoff_max_s)
        # Jitter spreads the retries of many senders hitting one recovering receiver.
        return delay * random.uniform(1.0, 1.1)

    async def _dead_letter(self, delivery: _Delivery) -> None:
        now = datetime.now(UTC)
        letter = DeadLetter(
            sink=self.name,
            target=self._url,
            payload=delivery.body.decode(),
            error=delivery.last_error,
            attempts=delivery.attempts,
            first_attempt_at=delivery.first_attempt_at or now,
            last_attempt_at=delivery.last_attempt_at or now,
        )
        self._metrics.sink_deliveries_total.labels(self.name, "dead_letter").inc()
        log.warning(
            "%s: dead letter after %d attempts: %s", self.name, letter.attempts, letter.error
        )
        try:
            await self._dead_letters(letter)
        except Exception:  # losing the dead letter is bad; losing the worker is worse
            log.exception("%s: dead-letter handler failed", self.name)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff
