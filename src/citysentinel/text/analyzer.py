"""Turn raw messages into masked, classified `text.report` events (one analyzer per text feed)."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from citysentinel.events import Event, EventKind, Evidence, EvidenceType, Location, Point
from citysentinel.events.model import utcnow
from citysentinel.events.payloads import Extracted, TextReportPayload
from citysentinel.text.clean import (
    FLAG_BINARY,
    FLAG_EMPTY,
    FLAG_TRUNCATED,
    MAX_CHARS,
    clean_text,
    detect_lang,
)
from citysentinel.text.extract import extract
from citysentinel.text.pii import mask_pii
from citysentinel.text.sentiment import EnglishLexicon, Opinion, OpinionScorer, split_models

if TYPE_CHECKING:
    from citysentinel.text.classify import TextClassifier

log = logging.getLogger(__name__)

EXCERPT_CHARS = 2000  # evidence keeps the start of a message; the full text is not stored
FLAG_GB18030 = "decoded_gb18030"
FLAG_PII_MASKED = "pii_masked"
SKIP_REASONS = (FLAG_BINARY, FLAG_EMPTY)  # the first that applies is the reason given


class TextModelError(RuntimeError):
    """A configured model directory is missing or cannot be loaded."""


@dataclass(frozen=True)
class MessagePlace:
    """Where a message says it is about: a place name and/or a WGS84 point."""

    name: str | None = None
    lat: float | None = None
    lon: float | None = None
    area: str | None = None  # district/township the message belongs to, for grouping


@dataclass(frozen=True)
class TextMessage:
    """One message as it arrived: raw text or bytes, plus what the sender said about it.

    `id` makes the event id deterministic (re-sending is harmless); without it
    the content (text, time, place) is hashed instead.

    Example:
        >>> TextMessage("Fire on Main St", id="r1", place=MessagePlace("Main St")).id
        'r1'
    """

    text: str | bytes
    id: str | None = None
    time: datetime | None = None
    place: MessagePlace | None = None


@dataclass(frozen=True)
class Analyzed:
    """What became of one message: its event, or why it was skipped."""

    event: Event | None
    skipped: str | None = None


@dataclass(frozen=True)
class _Prepared:
    text: str
    flags: tuple[str, ...]
    lang: str
    skip: str | None = None


@dataclass
class TextAnalyzer:
    """Clean, mask, tag the language of and classify messages of one feed into events.

    Classifiers are loaded outside (see `load_models`) and shared; the analyzer
    keeps no state except the counts of skipped messages (`skipped`). Polarity
    and emotion models among `models` (recognised by their labels, see
    `text.sentiment`) score opinion instead of classifying; `english` scores
    English polarity; places, times and casualties are extracted when `extract`.
    `area` (the feed's) is the payload's area unless the message names one.

    Example:
        >>> analyzer = TextAnalyzer("hotline")
        >>> [event] = analyzer.process(TextMessage("Fire! call 138-1234-5678", id="1"))
        >>> event.kind.value, event.evidence[0].text, event.labels
        ('text.report', 'Fire! call [PHONE]', [])
    """

    feed_id: str
    models: Mapping[str, TextClassifier] = field(default_factory=dict)
    channel: str | None = None
    lang: str = "auto"
    max_chars: int = MAX_CHARS
    area: str | None = None
    english: EnglishLexicon | None = None
    extract: bool = True
    skipped: Counter[str] = field(default_factory=Counter)

    def process(self, message: TextMessage) -> list[Event]:
        """The event of one message; empty when the message was skipped (empty or binary)."""
        return [a.event for a in self.analyze([message]) if a.event is not None]

    def analyze(self, messages: Sequence[TextMessage]) -> list[Analyzed]:
        """One outcome per message, in order; classifiers run once on the whole batch.

        Never raises on message content: empty or binary text is skipped (counted
        in `skipped` and logged), a classifier that fails leaves its labels out.
        """
        prepared = [self._prepare(m) for m in messages]
        kept = [i for i, p in enumerate(prepared) if p.skip is None]
        texts = [prepared[i].text for i in kept]
        models = self.models  # one snapshot per batch: a swap mid-batch applies to the next
        langs = [prepared[i].lang for i in kept]
        predictions = self._classify(texts, langs, models)
        opinions = self._opinions(texts, langs, models)
        for pred, opinion in zip(predictions, opinions, strict=True):
            pred.opinion = opinion
        out: list[Analyzed] = []
        by_index = dict(zip(kept, predictions, strict=True))
        for i, (message, prep) in enumerate(zip(messages, prepared, strict=True)):
            if prep.skip is not None:
                reason = prep.skip
                self.skipped[reason] += 1
                log.warning(
                    "text feed %s: skipped message %s (%s)", self.feed_id, message.id, reason
                )
                out.append(Analyzed(None, reason))
                continue
            out.append(Analyzed(self._event(message, prep, by_index[i])))
        return out

    def _prepare(self, message: TextMessage) -> _Prepared:
        raw, extra = _decode(message.text)
        cleaned = clean_text(raw, max_chars=self.max_chars)
        for reason in SKIP_REASONS:
            if reason in cleaned.flags:
                return _Prepared("", cleaned.flags, "und", skip=reason)
        masked = mask_pii(cleaned.text)
        flags = extra + cleaned.flags + ((FLAG_PII_MASKED,) if masked.counts else ())
        lang = self.lang if self.lang != "auto" else detect_lang(masked.text)
        return _Prepared(masked.text, flags, lang)

    def swap_models(self, models: Mapping[str, TextClassifier]) -> None:
        """Use `models` from the next batch on; batches already running finish with the old ones.

        Rebinding one attribute is atomic, and `analyze` reads it once per batch.
        """
        self.models = dict(models)

    def _classify(
        self, texts: list[str], langs: list[str], models: Mapping[str, TextClassifier]
    ) -> list[_Prediction]:
        preds = [_Prediction() for _ in texts]
        if not texts:
            return preds
        classifiers, _, _ = split_models(models)
        for name, model in classifiers.items():
            # A model only labels the languages its card says it was trained on: an
            # English-only urgency model has nothing to say about a Chinese message.
            known = model.card.get("languages")
            rows: list[int] = []
            for i, lang in enumerate(langs):
                if not known or lang in known:
                    rows.append(i)
                else:
                    preds[i].unsupported.append(name)
            if not rows:
                continue
            batch = [texts[i] for i in rows]
            try:
                proba = model.scores(batch)
                labels = model.predict(batch) if model.multi_label else None
            except Exception:
                log.exception("text feed %s: model %s failed on a batch", self.feed_id, name)
                for i in rows:
                    preds[i].failed.append(name)
                continue
            for row, pred in enumerate(preds[i] for i in rows):
                scores = {
                    lab: round(float(s), 4) for lab, s in zip(model.labels, proba[row], strict=True)
                }
                top = max(scores, key=scores.__getitem__)
                pred.add(scores, top, labels[row] if labels is not None else (top,))
        return preds

    def _opinions(
        self, texts: list[str], langs: list[str], models: Mapping[str, TextClassifier]
    ) -> list[Opinion | None]:
        # Split per batch, so models swapped into `self.models` are picked up at once.
        _, polarity, emotion = split_models(models)
        if not texts or (polarity is None and emotion is None and self.english is None):
            return [None] * len(texts)
        try:
            return list(OpinionScorer(polarity, emotion, self.english).analyze(texts, langs))
        except Exception:
            log.exception("text feed %s: opinion scoring failed on a batch", self.feed_id)
            return [None] * len(texts)

    def _event(self, message: TextMessage, prep: _Prepared, pred: _Prediction) -> Event:
        flags = (
            prep.flags
            + tuple(f"model_failed:{n}" for n in pred.failed)
            + tuple(f"model_not_for_lang:{n}" for n in pred.unsupported)
        )
        place = message.place
        location = Location()
        if place is not None:
            name = mask_pii(place.name).text[:500] if place.name else None
            point = None
            if place.lat is not None and place.lon is not None:
                point = Point(coordinates=(place.lon, place.lat))
            location = Location(address=name, point=point)
        labels = list(dict.fromkeys(([pred.category] if pred.category else []) + pred.labels))
        opinion = pred.opinion or Opinion()
        # Extraction reads the masked text only (prep.text), never the raw message.
        extracted = extract(prep.text, prep.lang).payload() if self.extract else Extracted()
        area = place.area if place is not None and place.area else self.area
        return Event(
            id=event_id(self.feed_id, message),
            kind=EventKind.TEXT_REPORT,
            time=message.time or utcnow(),
            source=self.feed_id,
            location=location,
            labels=[lab[:100] for lab in labels[:50]],
            confidence=pred.confidence if pred.category else 1.0,
            evidence=[
                Evidence(
                    type=EvidenceType.TEXT,
                    text=prep.text[:EXCERPT_CHARS],
                    caption=f"flags: {', '.join(flags)}"[:500] if flags else None,
                )
            ],
            payload=TextReportPayload(
                lang=prep.lang,
                category=pred.category[:100] if pred.category else None,
                scores=pred.scores,
                sentiment=opinion.polarity,
                emotion=opinion.emotion,
                emotion_score=opinion.emotion_score,
                extracted=extracted,
                area=mask_pii(area).text[:200] if area else None,
                truncated=FLAG_TRUNCATED in prep.flags,
                channel=self.channel,
            ),
        )


@dataclass
class _Prediction:
    scores: dict[str, float] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    category: str | None = None
    confidence: float = 1.0
    failed: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # models not trained on its language
    opinion: Opinion | None = None

    def add(self, scores: dict[str, float], top: str, labels: Sequence[str]) -> None:
        # Label names should differ across models; on a clash the higher score is kept.
        for lab, s in scores.items():
            self.scores[lab] = max(s, self.scores.get(lab, 0.0))
        self.labels.extend(labels)
        if self.category is None:  # the first model names the category
            self.category, self.confidence = top, min(1.0, max(0.0, scores[top]))


def _decode(raw: str | bytes) -> tuple[str | bytes, tuple[str, ...]]:
    # Bytes that are not UTF-8 are most often GBK/GB18030 here; clean_text replaces the rest.
    if isinstance(raw, str):
        return raw, ()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030"), (FLAG_GB18030,)
        except UnicodeDecodeError:
            return raw, ()
    return raw, ()


def event_id(feed_id: str, message: TextMessage) -> str:
    """A deterministic event id: from the feed id and message id, else the message content.

    Example:
        >>> a, b = TextMessage("x", id="42"), TextMessage("edited x", id="42")
        >>> event_id("hotline", a) == event_id("hotline", b)
        True
    """
    h = hashlib.sha256(feed_id.encode())
    if message.id is not None:
        h.update(b"\0id\0" + message.id.encode())
    else:
        text = message.text if isinstance(message.text, bytes) else message.text.encode()
        when = message.time.isoformat() if message.time else ""
        h.update(
            b"\0content\0" + text + b"\0" + when.encode() + b"\0" + repr(message.place).encode()
        )
    return f"text-{h.hexdigest()[:40]}"


def load_models(
    dirs: Sequence[str], cache: dict[Path, TextClassifier] | None = None
) -> dict[str, TextClassifier]:
    """Load model directories once (shared through `cache`); a bad one raises `TextModelError`.

    `builtin:<name>` names a shipped default model (`citysentinel.text.defaults`).

    Example:
        >>> load_models([])
        {}
        >>> load_models(["/no/such/model"])
        Traceback (most recent call last):
        ...
        citysentinel.text.analyzer.TextModelError: text model /no/such/model: not a directory
    """
    cache = {} if cache is None else cache
    out: dict[str, TextClassifier] = {}
    from citysentinel.text.defaults import UnknownBuiltinModel, resolve_model

    for d in dirs:
        try:
            path = resolve_model(d).resolve()
        except UnknownBuiltinModel as exc:
            raise TextModelError(str(exc)) from exc
        if not path.is_dir():
            raise TextModelError(f"text model {d}: not a directory")
        if path not in cache:
            from citysentinel.text.classify import TextClassifier

            try:
                cache[path] = TextClassifier.load(path)
            except Exception as exc:
                raise TextModelError(f"text model {d}: cannot be loaded: {exc}") from exc
        out[path.name if path.name not in out else d] = cache[path]
    return out
