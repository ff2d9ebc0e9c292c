"""The usual reading per sensor by time-of-week slot, learnt online (river's verbs)."""

from __future__ import annotations

from datetime import datetime, tzinfo

import numpy as np

from citysentinel.traffic.series import SECONDS_PER_DAY, FloatArray


class ProfileError(ValueError):
    """The slot length does not divide a day."""


class Profile:
    """Usual reading per sensor by time-of-week slot, learnt online (capped running means).

    Slots are taken in `tz` (the site's time zone: a UTC weekday starts hours off the
    local one, and summer time moves the rush hour by an hour in UTC); without `tz`,
    in the time zone each given time carries.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> p = Profile(1, slot_s=900.0)
        >>> t = datetime(2012, 3, 1, 8, tzinfo=UTC)
        >>> p.learn_one(t, np.array([40.0]))
        >>> p.predict_one(t).tolist(), p.predict_one(t + timedelta(days=1)).tolist()
        ([40.0], [40.0])
    """

    def __init__(
        self,
        n_sensors: int,
        slot_s: float = 900.0,
        min_week: int = 2,
        cap: int = 50,
        tz: tzinfo | None = None,
    ) -> None:
        per_day = SECONDS_PER_DAY / slot_s
        if abs(per_day - round(per_day)) > 1e-9:
            raise ProfileError(f"a day is not a whole number of {slot_s} s profile slots")
        self.slot_s = slot_s
        self.min_week = min_week
        self.cap = cap  # later days weigh at least 1/cap, so the profile follows slow change
        self.tz = tz
        self._per_day = round(per_day)
        # Levels from specific to general: day of week, weekday/weekend, time of day.
        self._means = [np.full((k * self._per_day, n_sensors), np.nan) for k in (7, 2, 1)]
        self._counts = [np.zeros_like(m) for m in self._means]
        self._spreads = [np.full_like(m, np.nan) for m in self._means]  # mean |x - usual|

    def _slots(self, t: datetime) -> tuple[int, int, int]:
        if self.tz is not None:
            t = t.astimezone(self.tz)
        midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
        day_slot = int((t - midnight).total_seconds() // self.slot_s) % self._per_day
        weekend = int(t.weekday() >= 5)
        return (
            t.weekday() * self._per_day + day_slot,
            weekend * self._per_day + day_slot,
            day_slot,
        )

    def learn_one(self, t: datetime, x: FloatArray) -> None:
        """Fold the readings `x` [N] at `t` into their slots; NaN readings are skipped."""
        seen = np.isfinite(x)
        levels = zip(self._means, self._counts, self._spreads, self._slots(t), strict=True)
        for means, counts, spreads, slot in levels:
            counts[slot, seen] += 1
            rate = 1.0 / np.minimum(counts[slot, seen], self.cap)
            old = means[slot, seen]
            resid = np.abs(x[seen] - old)
            spread = spreads[slot, seen]
            first = np.isnan(spread) & np.isfinite(resid)
            spreads[slot, seen] = np.where(first, resid, spread + (resid - spread) * rate)
            means[slot, seen] = np.where(np.isnan(old), x[seen], old + (x[seen] - old) * rate)

    def predict_one(self, t: datetime) -> FloatArray:
        """The usual reading of every sensor at `t` [N]; NaN where nothing was learnt yet.

        A day-of-week slot needs `min_week` days of data, else the weekday/weekend
        slot does (same threshold), else the time-of-day slot answers.
        """
        return self._pick(t, self._means)

    def spread_one(self, t: datetime) -> FloatArray:
        """How far readings usually are from the usual value at `t` (mean absolute deviation)."""
        return self._pick(t, self._spreads)

    def _pick(self, t: datetime, tables: list[FloatArray]) -> FloatArray:
        (week, kind, day), (tw, tk, td) = self._slots(t), tables
        (nw, nk, _) = self._counts
        out = np.where(nk[kind] >= self.min_week, tk[kind], td[day])
        return np.asarray(np.where(nw[week] >= self.min_week, tw[week], out), dtype=np.float64)

    def free_flow(self, direction: np.ndarray) -> FloatArray:
        """Per sensor, the best usual time-of-day value (the lowest where high is bad)."""
        day = self._means[2]
        hi = np.where(np.isnan(day), -np.inf, day).max(axis=0)
        lo = np.where(np.isnan(day), np.inf, day).min(axis=0)
        out = np.where(direction > 0, hi, lo)
        return np.where(np.isfinite(out), out, np.nan)
