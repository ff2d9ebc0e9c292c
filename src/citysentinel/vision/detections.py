"""`Detections`: one frame's objects as parallel numpy arrays, filtered by boolean masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# COCO-80 class names in the usual (YOLO) order; detectors report these ids.
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
VEHICLE_CLASSES = frozenset({"bicycle", "car", "motorcycle", "bus", "train", "truck"})


def _f(a: object, shape: tuple[int, ...]) -> FloatArray:
    return np.asarray(a, dtype=np.float32).reshape(shape)


@dataclass
class Detections:
    """Boxes in pixel `xyxy`, with scores, class ids and (after tracking) tracker ids.

    Example:
        >>> d = Detections([[0, 0, 10, 20], [5, 5, 6, 6]], [0.9, 0.2], [0, 2])
        >>> len(d[d.confidence > 0.5])
        1
        >>> d.anchors().tolist()  # bottom centre, the point zones test
        [[5.0, 20.0], [5.5, 6.0]]
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    tracker_id: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.xyxy = _f(self.xyxy, (-1, 4))
        n = len(self.xyxy)
        self.confidence = _f(self.confidence, (n,))
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(n)
        tid = np.asarray(self.tracker_id, dtype=np.int64)
        self.tracker_id = tid.reshape(n) if tid.size else np.full(n, -1, dtype=np.int64)

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, dtype=np.int64)
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(
        self, index: npt.NDArray[np.bool_] | npt.NDArray[np.int64] | slice
    ) -> Detections:
        return Detections(
            self.xyxy[index], self.confidence[index], self.class_id[index], self.tracker_id[index]
        )

    def anchors(self) -> FloatArray:
        """Bottom-centre points (x, y): where an object stands, as zones see it."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        anchors: FloatArray = np.stack([x, self.xyxy[:, 3]], axis=1).astype(np.float32)
        return anchors

    def areas(self) -> FloatArray:
        w = np.clip(self.xyxy[:, 2] - self.xyxy[:, 0], 0, None)
        h = np.clip(self.xyxy[:, 3] - self.xyxy[:, 1], 0, None)
        areas: FloatArray = (w * h).astype(np.float32)
        return areas

    def labels(self) -> list[str]:
        return [COCO_CLASSES[c] if 0 <= c < len(COCO_CLASSES) else str(c) for c in self.class_id]
