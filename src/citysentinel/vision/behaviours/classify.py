"""Classify: a fine-tuned image classifier on frames or object crops (fire, smoke, ...)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import ClassificationPayload
from citysentinel.vision.analytics_config import ClassifyConfig
from citysentinel.vision.behaviours.base import FrameContext, class_ids

log = logging.getLogger(__name__)
Image = npt.NDArray[np.uint8]


class ImageClassifier(Protocol):
    """What the behaviour needs of a classifier (`OnnxImageClassifier` or a fake)."""

    name: str

    def classify(self, images: Sequence[Image]) -> tuple[list[str], list[float]]: ...


class Classify:
    """Runs `classifier` every `interval_s`; starts after `min_hits` runs in a row with a hit.

    A hit is an `alert_labels` label at `min_score` or more on the frame or on
    any crop. Labels in `fire_labels` are reported as `video.fire`, others as
    `video.classification`. The event ends `clear_s` after the last hit; a new
    best label while active is an update. The frame image (BGR) comes with each
    call: without it nothing is classified.

    Example:
        >>> class Fake:
        ...     name = "fake"
        ...     def classify(self, images): return ["fire"] * len(images), [0.9] * len(images)
        >>> cfg = ClassifyConfig(type="classify", model="m", alert_labels=["fire"], min_hits=1)
        >>> Classify(cfg, Fake()).name
        'classify:frame'
    """

    def __init__(self, config: ClassifyConfig, classifier: ImageClassifier) -> None:
        self.config = config
        self.classifier = classifier
        self.name = config.name or f"classify:{config.zone or config.target}"
        self._classes = class_ids(config.classes)
        self._last_run = float("-inf")
        self._hits = 0
        self._last_hit_s = 0.0
        self._active_label: str | None = None
        self._warned = False

    def process(self, frame: FrameContext, image: Image | None = None) -> list[Event]:
        now = frame.seconds
        image = image if image is not None else frame.image
        if image is None:
            if not self._warned:
                log.warning("%s: no frame image given; nothing to classify", self.name)
                self._warned = True
            return []
        if now - self._last_run < self.config.interval_s:
            return []
        self._last_run = now
        crops = self.crops(frame, image)
        hit = self._best_hit(crops) if crops else None
        return self._transition(frame, now, hit)

    def crops(self, frame: FrameContext, image: Image) -> list[Image]:
        """The whole frame, or padded crops of the largest watched objects (in the zone)."""
        if self.config.target == "frame":
            return [image]
        det = frame.detections
        rows = np.flatnonzero(frame.in_zone(self.config.zone) & frame.of_classes(self._classes))
        if rows.size == 0:
            return []
        boxes = det.xyxy[rows]
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        keep = rows[np.argsort(-areas)[: self.config.max_crops]]
        h, w = image.shape[:2]
        out: list[Image] = []
        for x1, y1, x2, y2 in det.xyxy[keep].tolist():
            px, py = (x2 - x1) * self.config.crop_pad, (y2 - y1) * self.config.crop_pad
            a, b = int(max(0, x1 - px)), int(max(0, y1 - py))
            c, d = int(min(w, x2 + px)), int(min(h, y2 + py))
            if c - a >= 2 and d - b >= 2:
                out.append(image[b:d, a:c])
        return out

    def _best_hit(self, crops: list[Image]) -> tuple[str, float] | None:
        labels, scores = self.classifier.classify(crops)
        hits = [
            (label, score)
            for label, score in zip(labels, scores, strict=True)
            if label in self.config.alert_labels and score >= self.config.min_score
        ]
        return max(hits, key=lambda h: h[1]) if hits else None

    def _transition(
        self, frame: FrameContext, now: float, hit: tuple[str, float] | None
    ) -> list[Event]:
        if hit is None:
            self._hits = 0
            if self._active_label is not None and now - self._last_hit_s >= self.config.clear_s:
                label, self._active_label = self._active_label, None
                return [self._event(frame, EventState.END, label, None)]
            return []
        label, score = hit
        self._hits += 1
        self._last_hit_s = now
        if self._active_label is None:
            if self._hits < self.config.min_hits:
                return []
            self._active_label = label
            return [self._event(frame, EventState.START, label, score)]
        if label != self._active_label:
            self._active_label = label
            return [self._event(frame, EventState.UPDATE, label, score)]
        return []

    def _event(
        self, frame: FrameContext, state: EventState, label: str, score: float | None
    ) -> Event:
        kind = (
            EventKind.VIDEO_FIRE
            if label in self.config.fire_labels
            else EventKind.VIDEO_CLASSIFICATION
        )
        payload = ClassificationPayload(label=label, score=score, model=self.classifier.name)
        return frame.event(
            kind,
            state,
            payload,
            zone=self.config.zone,
            labels=[label],
            confidence=score if score is not None else 1.0,
        )
