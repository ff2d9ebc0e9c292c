"""Public opinion per message: polarity in [-1, 1] (English lexicon, Chinese model) and emotions.

English polarity is VADER's compound score (Hutto & Gilbert 2014; the lexicon
ships inside the MIT-licensed `vaderSentiment` package, nothing is downloaded).
Chinese polarity and the seven CLUE emotions come from text classifiers (any
object with `labels` and `scores(texts)`, such as `TextClassifier`): a model
whose labels are exactly {negative, positive} is a polarity model, one whose
labels are CLUE emotions is an emotion model. They are recognised among a
feed's models by their labels, so the shipped `builtin:polarity-zh` and
`builtin:emotion-zh` (or any retrained replacement) work without naming them.

Everything here runs on text that was already PII-masked by the analyzer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from citysentinel.events import Event
from citysentinel.events.payloads import TextReportPayload

POSITIVE, NEGATIVE = "positive", "negative"
POLARITY_LABELS = frozenset({POSITIVE, NEGATIVE})
EMOTIONS = ("like", "happiness", "sadness", "disgust", "anger", "surprise", "fear")
NEGATIVE_EMOTIONS = frozenset({"sadness", "disgust", "anger", "fear"})
NEGATIVE_BELOW = -0.05  # VADER's own convention: compound <= -0.05 is negative


class Scorer(Protocol):
    """A text classifier: label names and per-label probabilities (like `TextClassifier`)."""

    @property
    def labels(self) -> list[str]: ...

    def scores(self, texts: Sequence[str]) -> npt.NDArray[np.float64]: ...


M = TypeVar("M", bound=Scorer)


@dataclass(frozen=True)
class Opinion:
    """What one message says about how people feel: polarity and the strongest emotion.

    `polarity` is in [-1, 1] (negative to positive), None when no scorer covers
    the message's language; `emotion` is a CLUE label with its probability.

    Example:
        >>> Opinion(polarity=-0.6).negative
        True
    """

    polarity: float | None = None
    emotion: str | None = None
    emotion_score: float | None = None

    @property
    def negative(self) -> bool | None:
        """Whether the polarity is below the negative cut (VADER's -0.05); None when unknown."""
        return None if self.polarity is None else self.polarity <= NEGATIVE_BELOW


class OpinionUnavailable(RuntimeError):
    """The English lexicon package (`vaderSentiment`, in the `text` extra) is not installed."""


class EnglishLexicon:
    """English polarity from the VADER lexicon: the compound score, already in [-1, 1].

    Example:
        >>> lex = EnglishLexicon()
        >>> lex.polarity(["Great work, thank you!"])[0] > 0.5
        True
    """

    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
                SentimentIntensityAnalyzer,
            )
        except ImportError as exc:
            raise OpinionUnavailable(
                "English polarity needs vaderSentiment: pip install 'citysentinel[text]'"
            ) from exc
        self._vader = SentimentIntensityAnalyzer()

    def polarity(self, texts: Sequence[str]) -> list[float]:
        """The compound score of each text."""
        return [float(self._vader.polarity_scores(t)["compound"]) for t in texts]


def is_polarity_model(model: Scorer) -> bool:
    """A model whose labels are exactly negative and positive."""
    return set(model.labels) == POLARITY_LABELS


def is_emotion_model(model: Scorer) -> bool:
    """A model whose labels are (at least three of) the CLUE emotions and nothing else."""
    labels = set(model.labels)
    return len(labels) >= 3 and labels <= set(EMOTIONS)


def split_models(models: Mapping[str, M]) -> tuple[dict[str, M], M | None, M | None]:
    """(classification models, the polarity model, the emotion model) by their labels.

    The first polarity and the first emotion model are used for opinion; every
    other model classifies as before.

    Example:
        >>> split_models({})
        ({}, None, None)
    """
    rest: dict[str, M] = {}
    polarity: M | None = None
    emotion: M | None = None
    for name, model in models.items():
        if polarity is None and is_polarity_model(model):
            polarity = model
        elif emotion is None and is_emotion_model(model):
            emotion = model
        else:
            rest[name] = model
    return rest, polarity, emotion


@dataclass
class OpinionScorer:
    """Polarity and emotion for a batch of masked texts, by language.

    English (`en`) uses the lexicon, Chinese (`zh`) the polarity and emotion
    models; other languages, or a language without a scorer, get None.

    Example:
        >>> scorer = OpinionScorer(english=EnglishLexicon())
        >>> [o.polarity is not None for o in scorer.analyze(["awful flood", "好"], ["en", "zh"])]
        [True, False]
    """

    polarity_zh: Scorer | None = None
    emotion_zh: Scorer | None = None
    english: EnglishLexicon | None = None

    def analyze(self, texts: Sequence[str], langs: Sequence[str]) -> list[Opinion]:
        """One `Opinion` per text; a scorer that raises is the caller's to log."""
        if len(texts) != len(langs):
            raise ValueError("texts and langs must have the same length")
        polarity: list[float | None] = [None] * len(texts)
        emotion: list[tuple[str, float] | None] = [None] * len(texts)
        en = [i for i, lang in enumerate(langs) if lang == "en"]
        zh = [i for i, lang in enumerate(langs) if lang == "zh"]
        if self.english is not None and en:
            for i, p in zip(en, self.english.polarity([texts[i] for i in en]), strict=True):
                polarity[i] = _clip(p)
        if self.polarity_zh is not None and zh:
            model = self.polarity_zh
            proba = model.scores([texts[i] for i in zh])
            pos, neg = model.labels.index(POSITIVE), model.labels.index(NEGATIVE)
            for row, i in enumerate(zh):
                polarity[i] = _clip(float(proba[row, pos] - proba[row, neg]))
        if self.emotion_zh is not None and zh:
            model = self.emotion_zh
            proba = model.scores([texts[i] for i in zh])
            for row, i in enumerate(zh):
                j = int(np.argmax(proba[row]))
                emotion[i] = (model.labels[j], round(float(proba[row, j]), 4))
        return [
            Opinion(p, e[0] if e else None, e[1] if e else None)
            for p, e in zip(polarity, emotion, strict=True)
        ]


def _clip(value: float) -> float:
    return round(min(1.0, max(-1.0, value)), 4)


@dataclass
class OpinionBucket:
    """Opinion of the messages of one time window and one group (a category or an area).

    `mean_polarity` and `share_negative` are over the `scored` messages (those
    with a polarity); `emotions` counts the strongest emotion of each message.
    `start` and `end` are UTC instants of local wall-clock window edges.
    """

    start: datetime
    key: str | None
    end: datetime | None = None
    count: int = 0
    scored: int = 0
    polarity_sum: float = 0.0
    negative: int = 0
    emotions: Counter[str] = field(default_factory=Counter)

    @property
    def mean_polarity(self) -> float | None:
        """Mean polarity of the scored messages; None when none was scored."""
        return round(self.polarity_sum / self.scored, 4) if self.scored else None

    @property
    def share_negative(self) -> float | None:
        """Share of scored messages at or below the negative cut; None when none was scored."""
        return round(self.negative / self.scored, 4) if self.scored else None

    def add(self, polarity: float | None, emotion: str | None) -> None:
        """Count one message."""
        self.count += 1
        if polarity is not None:
            self.scored += 1
            self.polarity_sum += polarity
            self.negative += polarity <= NEGATIVE_BELOW
        if emotion:
            self.emotions[emotion] += 1


def report_area(event: Event) -> str | None:
    """The area a text report is grouped by (opinion and surges alike).

    The payload's area, else the event's zone, else its free-text address.

    Example:
        >>> report_area(Event(kind="text.report", source="f", location={"zone": "dock"}))
        'dock'
    """
    p = event.payload
    area = p.area if isinstance(p, TextReportPayload) else None
    return area or event.location.zone or event.location.address


def window_index(t: datetime, window_s: float, tz: tzinfo = UTC) -> int:
    """The window of `t`: windows tile local wall-clock time in `tz` from the epoch.

    So daily windows start at local midnight, also across DST changes (such a
    day is 23 or 25 hours long).

    Example:
        >>> from zoneinfo import ZoneInfo
        >>> t = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)  # 04:00 on the 2nd in Shanghai
        >>> window_index(t, 86400), window_index(t, 86400, ZoneInfo("Asia/Shanghai"))
        (19723, 19724)
    """
    wall = t.astimezone(tz).replace(tzinfo=UTC)
    return math.floor(wall.timestamp() / window_s)


def window_edge(n: int, window_s: float, tz: tzinfo = UTC) -> datetime:
    """The UTC instant where window `n` of `window_index` starts."""
    wall = datetime.fromtimestamp(n * window_s, UTC).replace(tzinfo=tz)
    return wall.astimezone(UTC)


def aggregate_opinion(
    events: Iterable[Event], window_s: float, by: str, tz: tzinfo = UTC
) -> list[OpinionBucket]:
    """Bucket `text.report` events by time window (local wall clock in `tz`) and `by`.

    `by` is `category` (the payload's category) or `area` (`report_area`).
    Buckets come sorted by start, then key.

    Example:
        >>> e = Event(kind="text.report", source="f", time=datetime(2024, 1, 1, 9, 30, tzinfo=UTC),
        ...           payload={"category": "fire", "sentiment": -0.5, "emotion": "fear"})
        >>> [b] = aggregate_opinion([e], 3600, "category")
        >>> b.start.hour, b.key, b.count, b.mean_polarity, b.share_negative, dict(b.emotions)
        (9, 'fire', 1, -0.5, 1.0, {'fear': 1})
    """
    if by not in {"category", "area"}:
        raise ValueError(f"by must be category or area, not {by!r}")
    buckets: dict[tuple[int, str | None], OpinionBucket] = {}
    for e in events:
        p = e.payload
        if not isinstance(p, TextReportPayload):
            continue
        key = p.category if by == "category" else report_area(e)
        n = window_index(e.time, window_s, tz)
        bucket = buckets.get((n, key))
        if bucket is None:
            start, end = window_edge(n, window_s, tz), window_edge(n + 1, window_s, tz)
            bucket = buckets[(n, key)] = OpinionBucket(start, key, end)
        bucket.add(p.sentiment, p.emotion)
    return [buckets[k] for k in sorted(buckets, key=lambda k: (k[0], k[1] or ""))]
