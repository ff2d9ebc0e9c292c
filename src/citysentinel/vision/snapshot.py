"""Snapshot evidence: blur faces, draw boxes, ids, zones and lines, write a dated JPEG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.events import Event, Evidence, EvidenceType
from citysentinel.vision.analytics_config import SnapshotConfig
from citysentinel.vision.detections import COCO_CLASSES, Detections
from citysentinel.vision.geometry import FloatArray, Scene

Image = npt.NDArray[np.uint8]
BlurMethod = Literal["gaussian", "pixelate"]
PERSON = COCO_CLASSES.index("person")

_ZONE_COLOUR = (0, 200, 255)
_LINE_COLOUR = (255, 120, 0)
_PALETTE = [(86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0)]


class FrameLike(Protocol):
    """A frame with its BGR pixels and the time it was seen (`sources.video.Frame`)."""

    @property
    def image(self) -> Image: ...

    @property
    def t(self) -> datetime: ...


class FaceBlurrer(Protocol):
    """Finds the regions to obscure for privacy, as pixel `xyxy` boxes (N x 4)."""

    def regions(self, image: Image, detections: Detections) -> FloatArray: ...


class HeadRegionBlurrer:
    """Fallback when no face model is installed: the top `head_fraction` of every person box.

    It needs no model and never misses a detected person's face, at the price of
    also hiding hair and hats, and of missing people the detector missed. A face
    detector (CenterFace) implementing `FaceBlurrer` should replace it when available.

    Example:
        >>> d = Detections([[10, 20, 50, 120], [0, 0, 5, 5]], [0.9, 0.9], [0, 2])
        >>> HeadRegionBlurrer(0.25).regions(np.zeros((200, 200, 3), np.uint8), d).tolist()
        [[10.0, 20.0, 50.0, 45.0]]
    """

    def __init__(self, head_fraction: float = 0.3) -> None:
        if not 0 < head_fraction <= 1:
            raise ValueError("head_fraction must be in (0, 1]")
        self.head_fraction = head_fraction

    def regions(self, image: Image, detections: Detections) -> FloatArray:  # noqa: ARG002
        boxes: FloatArray = detections.xyxy[detections.class_id == PERSON].astype(np.float32)
        boxes[:, 3] = boxes[:, 1] + (boxes[:, 3] - boxes[:, 1]) * self.head_fraction
        return boxes


def blur_regions(image: Image, boxes: FloatArray, method: BlurMethod = "gaussian") -> Image:
    """A copy of `image` with each pixel box (x1, y1, x2, y2) blurred or pixelated.

    Example:
        >>> img = np.random.default_rng(0).integers(0, 255, (50, 50, 3), dtype=np.uint8)
        >>> out = blur_regions(img, np.array([[10, 10, 30, 30]], np.float32), "pixelate")
        >>> bool((out[:10] == img[:10]).all()), bool((out[10:30, 10:30] != img[10:30, 10:30]).any())
        (True, True)
    """
    out = image.copy()
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float32).reshape(-1, 4):
        xa, ya = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        xb, yb = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if xb - xa < 2 or yb - ya < 2:
            continue
        roi = out[ya:yb, xa:xb]
        out[ya:yb, xa:xb] = _obscure(roi, method)
    return out


def _obscure(roi: Image, method: BlurMethod) -> Image:
    rh, rw = roi.shape[:2]
    if method == "pixelate":
        small = cv2.resize(roi, (max(1, rw // 8), max(1, rh // 8)), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST), np.uint8)
    # A kernel about half the region wide makes a face unrecognisable at any size.
    k = max(3, (max(rw, rh) // 2) | 1)
    return np.asarray(cv2.GaussianBlur(roi, (k, k), 0), np.uint8)


def draw(image: Image, detections: Detections, scene: Scene | None = None) -> Image:
    """A copy of `image` with zones, lines ('in' side marked) and labelled boxes with track ids.

    Example:
        >>> d = Detections([[10, 10, 40, 60]], [0.9], [0], tracker_id=[3])
        >>> out = draw(np.zeros((100, 100, 3), np.uint8), d)
        >>> bool(out.any())
        True
    """
    out = image.copy()
    if scene is not None:
        _draw_scene(out, scene)
    labels = detections.labels()
    for i, (x1, y1, x2, y2) in enumerate(detections.xyxy.astype(int).tolist()):
        tid = int(detections.tracker_id[i])
        colour = _PALETTE[(tid if tid >= 0 else int(detections.class_id[i])) % len(_PALETTE)]
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        text = f"{labels[i]} {float(detections.confidence[i]):.2f}"
        text = f"#{tid} {text}" if tid >= 0 else text
        cv2.putText(out, text, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return out


def _draw_scene(out: Image, scene: Scene) -> None:
    for zone in scene.zones.values():
        pts = zone.polygon.astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, _ZONE_COLOUR, 2)
        x, y = pts[0, 0]
        cv2.putText(out, zone.name, (int(x) + 4, int(y) + 14), 0, 0.5, _ZONE_COLOUR, 1)
    for line in scene.lines.values():
        a, b = tuple(int(v) for v in line.a), tuple(int(v) for v in line.b)
        cv2.line(out, (a[0], a[1]), (b[0], b[1]), _LINE_COLOUR, 2)
        # A short arrow from the middle towards the 'in' (left of a->b on screen) side.
        mid = (line.a + line.b) / 2
        d = line.b - line.a
        normal = np.array([d[1], -d[0]]) / max(float(np.hypot(*d)), 1e-6) * 20
        tip = mid + normal
        cv2.arrowedLine(
            out, (int(mid[0]), int(mid[1])), (int(tip[0]), int(tip[1])), _LINE_COLOUR, 2
        )
        cv2.putText(out, f"{line.name} in", (int(tip[0]), int(tip[1])), 0, 0.5, _LINE_COLOUR, 1)


def encode_jpeg(image: Image, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR image.

    Example:
        >>> encode_jpeg(np.zeros((8, 8, 3), np.uint8))[:2]
        b'\\xff\\xd8'
    """
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the frame as JPEG")
    return bytes(buf.tobytes())


class SnapshotWriter:
    """Writes privacy-safe, annotated JPEG evidence under `evidence_dir/<camera>/<YYYY>/<MM>/<DD>/`.

    Faces are blurred before anything is drawn (so labels stay legible) unless
    `config.blur_faces` is off. `Evidence.path` is relative to `evidence_dir`.

    Example:
        >>> import tempfile
        >>> from types import SimpleNamespace as NS
        >>> w = SnapshotWriter(Path(tempfile.mkdtemp()), "cam-1", Scene((64, 48)))
        >>> t = datetime(2025, 5, 1, 12, tzinfo=UTC)
        >>> frame = NS(image=np.zeros((48, 64, 3), np.uint8), t=t)
        >>> w.write(frame, Detections.empty(), "intrusion").path
        'cam-1/2025/05/01/120000000000-intrusion.jpg'
    """

    def __init__(
        self,
        evidence_dir: Path,
        camera_id: str,
        scene: Scene | None = None,
        config: SnapshotConfig | None = None,
        blurrer: FaceBlurrer | None = None,
    ) -> None:
        self.evidence_dir = evidence_dir
        self.camera_id = camera_id
        self.scene = scene
        self.config = config or SnapshotConfig()
        self.blurrer: FaceBlurrer = blurrer or HeadRegionBlurrer()

    def annotate(self, frame: FrameLike, detections: Detections, *, overlays: bool = True) -> Image:
        """The frame with faces blurred and (if configured) overlays drawn; never the raw frame.

        `overlays=False` gives the blurred frame alone (for drawing zones over it).
        """
        image = frame.image
        if self.config.blur_faces:
            regions = self.blurrer.regions(image, detections)
            image = blur_regions(image, regions, self.config.blur_method)
        if overlays and self.config.draw:
            return draw(image, detections, self.scene)
        return image.copy() if image is frame.image else image

    def write(self, frame: FrameLike, detections: Detections, tag: str = "snapshot") -> Evidence:
        """Annotate, encode and store one frame; `tag` ends the file name."""
        t = frame.t.astimezone(UTC)
        rel = Path(self.camera_id, f"{t:%Y}", f"{t:%m}", f"{t:%d}", f"{t:%H%M%S%f}-{tag}.jpg")
        path = self.evidence_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_jpeg(self.annotate(frame, detections), self.config.jpeg_quality))
        return Evidence(type=EvidenceType.SNAPSHOT, path=rel.as_posix(), caption=tag)

    def capture(
        self, frame: FrameLike, detections: Detections, events: Sequence[Event]
    ) -> Evidence | None:
        """One snapshot for the events of a frame (the camera worker's `Snapshotter`)."""
        if not self.config.enabled or not events:
            return None
        kinds = sorted({e.kind.value.split(".")[-1] for e in events})
        return self.write(frame, detections, "+".join(kinds))
