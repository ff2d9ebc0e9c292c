"""Surges in message counts per category and area: a seasonal Poisson baseline with shrinkage.

Messages are counted in fixed bins (default one hour). Each (category, area)
series keeps its counts by hour of week and hour of day; the expected count
of a bin is shrunk from the hour-of-week mean towards the hour-of-day mean
and from that towards the series' overall rate, each level weighted by how
many bins it has seen (`prior_bins` pseudo-bins of the level above), so a few
weeks of history give a usable baseline and an empty slot falls back to the
overall rate. A bin is a surge when its count is improbable under that
baseline: the Poisson upper tail, widened by the series' own over-dispersion
(quasi-Poisson, the mean of squared Pearson residuals, at least 1), is below
`alpha`, the count is at least `min_count` and at least `min_ratio` times the
expected. The surge ends at the first bin whose tail probability is back
above `end_alpha`; a new surge of the same series waits `cooldown_s` after the
end. Surge bins are learned clipped, so one storm does not become the norm.

Verbs follow river: `SurgeDetector.score_one` / `learn_one` / `update` for one
series, `SurgeMonitor.observe` / `advance` for many series over time. The
events in and out, and the live watcher, are in `citysentinel.text.surge_watch`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from scipy.special import gammainc  # type: ignore[import-untyped]  # scipy ships no stubs

ALL = "*"  # the category of a series counting every message of an area
HOURS_PER_WEEK = 168
MAX_GAP_BINS = 24 * 7 * 4  # a longer silence (downtime) is skipped, not learned as zeros


@dataclass(frozen=True)
class SurgeKey:
    """A counted series: a category (or `*` for all messages) in an area (None: everywhere)."""

    category: str
    area: str | None = None


@dataclass(frozen=True)
class SurgeSignal:
    """A surge starting or ending in one series.

    `start`: first bin of the surge. For `state == "start"`, `observed` and
    `expected` are the triggering bin's; for `"end"` they are totals over the
    whole surge and `peak` is its busiest bin.
    """

    key: SurgeKey
    state: Literal["start", "end"]
    start: datetime
    time: datetime
    observed: int
    expected: float
    score: float
    window_s: float
    peak: int


def tail_probability(observed: float, expected: float, dispersion: float = 1.0) -> float:
    """P(X >= observed) for X ~ Poisson(expected), quasi-Poisson scaled by `dispersion`.

    Example:
        >>> round(tail_probability(10, 2.0), 6)
        4.6e-05
        >>> tail_probability(0, 2.0)
        1.0
    """
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    d = max(1.0, dispersion)
    return float(gammainc(observed / d, expected / d))


class SurgeDetector:
    """One series' baseline and surge state; feed it each closed bin in time order.

    Example:
        >>> det = SurgeDetector(bin_s=3600, warmup_bins=24)
        >>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
        >>> for h in range(24 * 7):
        ...     _ = det.update(t0 + timedelta(hours=h), 2)
        >>> det.update(t0 + timedelta(hours=24 * 7), 25).state
        'start'
    """

    def __init__(
        self,
        *,
        bin_s: float = 3600.0,
        alpha: float = 1e-3,
        end_alpha: float = 0.05,
        min_count: int = 5,
        min_ratio: float = 1.5,
        cooldown_s: float = 3 * 3600.0,
        warmup_bins: int = 48,
        prior_bins: float = 4.0,
        tz: tzinfo = UTC,
        key: SurgeKey | None = None,
    ) -> None:
        self.bin_s = bin_s
        self.alpha = alpha
        self.end_alpha = end_alpha
        self.min_count = min_count
        self.min_ratio = min_ratio
        self.cooldown_s = cooldown_s
        self.warmup_bins = warmup_bins
        self.prior_bins = prior_bins
        self.tz = tz
        self.key = key or SurgeKey(ALL)
        self.n = 0
        self.total = 0.0
        self.how_n = [0] * HOURS_PER_WEEK
        self.how_sum = [0.0] * HOURS_PER_WEEK
        self.hod_n = [0] * 24
        self.hod_sum = [0.0] * 24
        self._pearson_sum = 0.0
        self._pearson_n = 0
        self.active: _Active | None = None
        self.quiet_until: datetime | None = None

    def _slots(self, t: datetime) -> tuple[int, int]:
        local = t.astimezone(self.tz)
        return local.weekday() * 24 + local.hour, local.hour

    @property
    def dispersion(self) -> float:
        """Over-dispersion of the counts around the baseline (1 = Poisson), 1 to 10."""
        if self._pearson_n < 24:
            return 1.0
        return min(10.0, max(1.0, self._pearson_sum / self._pearson_n))

    def expected(self, t: datetime) -> float:
        """The baseline count of the bin starting at `t` (0 before anything was learned)."""
        if self.n == 0:
            return 0.0
        how, hod = self._slots(t)
        k = self.prior_bins
        overall = self.total / self.n
        by_hour = (self.hod_sum[hod] + k * overall) / (self.hod_n[hod] + k)
        return (self.how_sum[how] + k * by_hour) / (self.how_n[how] + k)

    def score_one(self, t: datetime, count: int) -> tuple[float, float]:
        """(expected count, tail probability) of `count` in the bin starting at `t`; no change."""
        lam = self.expected(t)
        return lam, tail_probability(count, lam, self.dispersion)

    def learn_one(self, t: datetime, count: float) -> None:
        """Add one closed bin to the baseline."""
        lam = self.expected(t)
        if self.n >= self.warmup_bins and lam > 0.05:
            self._pearson_sum += (count - lam) ** 2 / lam
            self._pearson_n += 1
        how, hod = self._slots(t)
        self.n += 1
        self.total += count
        self.how_n[how] += 1
        self.how_sum[how] += count
        self.hod_n[hod] += 1
        self.hod_sum[hod] += count

    def update(self, t: datetime, count: int) -> SurgeSignal | None:
        """Score the bin starting at `t`, move the surge state, learn the bin; a start or end."""
        lam, p = self.score_one(t, count)
        end = t + timedelta(seconds=self.bin_s)
        signal: SurgeSignal | None = None
        if self.active is not None:
            if p >= self.end_alpha:
                signal = self._end(end)
            else:
                self.active.add(count, lam)
        elif self._starts(t, count, lam, p):
            self.active = _Active(t, count, lam)
            signal = SurgeSignal(
                self.key, "start", t, end, count, round(lam, 3), _score(p), self.bin_s, count
            )
        # A surge bin is learned clipped to a high but ordinary count for this baseline.
        ceiling = lam + 3 * math.sqrt(max(lam, 1.0) * self.dispersion) + 1
        self.learn_one(t, count if self.n < self.warmup_bins else min(count, ceiling))
        return signal

    def _starts(self, t: datetime, count: int, lam: float, p: float) -> bool:
        if self.n < self.warmup_bins or count < self.min_count or count < self.min_ratio * lam:
            return False
        if self.quiet_until is not None and t < self.quiet_until:
            return False
        return p < self.alpha

    def _end(self, end: datetime) -> SurgeSignal:
        a = self.active
        assert a is not None
        self.active = None
        self.quiet_until = end + timedelta(seconds=self.cooldown_s)
        window = (end - a.start).total_seconds() - self.bin_s
        p = tail_probability(a.observed, a.expected, self.dispersion)
        return SurgeSignal(
            self.key,
            "end",
            a.start,
            end - timedelta(seconds=self.bin_s),
            a.observed,
            round(a.expected, 3),
            _score(p),
            max(window, self.bin_s),
            a.peak,
        )


@dataclass
class _Active:
    start: datetime
    observed: int
    expected: float
    peak: int = 0

    def __post_init__(self) -> None:
        self.peak = self.observed

    def add(self, count: int, lam: float) -> None:
        self.observed += count
        self.expected += lam
        self.peak = max(self.peak, count)


def _score(p: float) -> float:
    # -log10 of the tail probability, capped where float precision ends.
    return round(min(300.0, -math.log10(max(p, 1e-300))), 3)


@dataclass
class SurgeMonitor:
    """Counts messages per (category, area) in bins and runs a detector per series.

    Time moves forward with the messages (`observe`) and with the clock
    (`advance`): closing a bin scores every known series, with zero for those
    that got no message. A message older than the open bin is counted in `late`
    and ignored (a surge is about now, not a re-imported archive).

    Example:
        >>> mon = SurgeMonitor(bin_s=3600, warmup_bins=24)
        >>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
        >>> signals = [s for h in range(200) for s in mon.observe(
        ...     [(SurgeKey("fire", "north"), t0 + timedelta(hours=h))] * (30 if h == 190 else 2))]
        >>> [(s.state, s.key.category, s.observed) for s in signals]
        [('start', 'fire', 30), ('end', 'fire', 30)]
    """

    bin_s: float = 3600.0
    alpha: float = 1e-3
    end_alpha: float = 0.05
    min_count: int = 5
    min_ratio: float = 1.5
    cooldown_s: float = 3 * 3600.0
    warmup_bins: int = 48
    prior_bins: float = 4.0
    tz: tzinfo = UTC
    detectors: dict[SurgeKey, SurgeDetector] = field(default_factory=dict)
    late: int = 0
    _open: int | None = None
    _first: int | None = None
    _counts: defaultdict[SurgeKey, int] = field(default_factory=lambda: defaultdict(int))

    def _bin(self, t: datetime) -> int:
        return math.floor(t.timestamp() / self.bin_s)

    def _start_of(self, b: int) -> datetime:
        return datetime.fromtimestamp(b * self.bin_s, UTC)

    def observe(self, items: Iterable[tuple[SurgeKey, datetime]]) -> list[SurgeSignal]:
        """Count one message per (key, time); returns the signals of bins this closes."""
        out: list[SurgeSignal] = []
        for key, t in items:
            b = self._bin(t)
            if self._open is None:
                self._open = self._first = b
            if b < self._open:
                self.late += 1
                continue
            if b > self._open:
                out.extend(self._close_until(b))
            if key not in self.detectors:
                self._new_detector(key)
            self._counts[key] += 1
        return out

    def advance(self, now: datetime) -> list[SurgeSignal]:
        """Close every bin that ended by `now` (call it on a timer so quiet series end)."""
        b = self._bin(now)
        if self._open is None or b <= self._open:
            return []
        return self._close_until(b)

    def _close_until(self, b: int) -> list[SurgeSignal]:
        assert self._open is not None
        out: list[SurgeSignal] = []
        if b - self._open > MAX_GAP_BINS:
            # Downtime, not silence: score the open bin (its messages are real), skip the
            # gap without learning it as zeros, and resume from now.
            out.extend(self._close_open())
            self._open = b
            return out
        while self._open < b:
            out.extend(self._close_open())
        return out

    def _close_open(self) -> list[SurgeSignal]:
        assert self._open is not None
        out: list[SurgeSignal] = []
        start = self._start_of(self._open)
        for key, det in self.detectors.items():
            signal = det.update(start, self._counts.get(key, 0))
            if signal is not None:
                out.append(signal)
        self._counts.clear()
        self._open += 1
        return out

    def _new_detector(self, key: SurgeKey) -> None:
        det = SurgeDetector(
            bin_s=self.bin_s,
            alpha=self.alpha,
            end_alpha=self.end_alpha,
            min_count=self.min_count,
            min_ratio=self.min_ratio,
            cooldown_s=self.cooldown_s,
            warmup_bins=self.warmup_bins,
            prior_bins=self.prior_bins,
            tz=self.tz,
            key=key,
        )
        # A series first seen now had zero messages in every bin since the monitor started.
        assert self._first is not None and self._open is not None
        for b in range(max(self._first, self._open - MAX_GAP_BINS), self._open):
            det.learn_one(self._start_of(b), 0)
        self.detectors[key] = det
