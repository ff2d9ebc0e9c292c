"""Zones, lines and the ground plane of one camera, scaled from normalised to pixel coordinates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.vision.detections import Detections

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
NormPoint = tuple[float, float]
Size = tuple[int, int]
Direction = Literal["in", "out"]


class ZoneLike(Protocol):
    """Anything with a name and a normalised polygon, such as `config.CameraZone`."""

    @property
    def name(self) -> str: ...

    @property
    def polygon(self) -> Sequence[NormPoint]: ...


class LineLike(Protocol):
    """Anything with a name and two normalised points, such as `config.CameraLine`."""

    @property
    def name(self) -> str: ...

    @property
    def points(self) -> tuple[NormPoint, NormPoint]: ...


def _scale(points: Iterable[NormPoint], size: Size) -> FloatArray:
    w, h = size
    return (np.asarray(list(points), dtype=np.float32).reshape(-1, 2) * (w, h)).astype(np.float32)


@dataclass(frozen=True)
class Zone:
    """A polygon in pixels; an object is inside by its bottom-centre anchor (edges count).

    Example:
        >>> z = Zone.from_normalised("yard", [(0, 0.5), (1, 0.5), (1, 1), (0, 1)], (200, 100))
        >>> d = Detections([[0, 0, 20, 80], [0, 0, 20, 20]], [1, 1], [0, 0])
        >>> z.trigger(d).tolist()
        [True, False]
    """

    name: str
    polygon: FloatArray

    @classmethod
    def from_normalised(cls, name: str, polygon: Iterable[NormPoint], size: Size) -> Zone:
        return cls(name, _scale(polygon, size))

    def contains(self, points: FloatArray) -> BoolArray:
        """Which pixel points (N x 2) are inside or on the edge."""
        contour = self.polygon.reshape(-1, 1, 2)
        inside = [
            cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points
        ]
        return np.asarray(inside, dtype=np.bool_).reshape(len(points))

    def trigger(self, detections: Detections) -> BoolArray:
        """Mask of the detections whose bottom-centre anchor is in the zone."""
        return self.contains(detections.anchors())

    def area_px(self) -> float:
        return float(cv2.contourArea(self.polygon.reshape(-1, 1, 2)))


@dataclass(frozen=True)
class Line:
    """A segment a->b in pixels. 'in' is its left side as drawn on screen (y grows downwards).

    For a line drawn left to right across the image, 'in' is above it: moving up
    the image crosses it 'in', moving down crosses it 'out'.

    Example:
        >>> line = Line.from_normalised("gate", ((0.0, 0.5), (1.0, 0.5)), (100, 100))
        >>> line.side(np.array([[50, 10], [50, 90]], dtype=np.float32)).tolist()
        [1, -1]
        >>> line.crossing((50, 90), (50, 10))
        'in'
    """

    name: str
    a: FloatArray
    b: FloatArray

    @classmethod
    def from_normalised(cls, name: str, points: tuple[NormPoint, NormPoint], size: Size) -> Line:
        ab = _scale(points, size)
        return cls(name, ab[0], ab[1])

    def _cross(self, points: FloatArray) -> FloatArray:
        dx, dy = float(self.b[0] - self.a[0]), float(self.b[1] - self.a[1])
        rel: FloatArray = np.asarray(points, dtype=np.float32).reshape(-1, 2) - self.a
        # With y downwards, a negative cross product is the on-screen left of a->b.
        cross: FloatArray = (dx * rel[:, 1] - dy * rel[:, 0]).astype(np.float32)
        return cross

    def side(self, points: FloatArray) -> npt.NDArray[np.int64]:
        """+1 on the 'in' (left) side, -1 on the 'out' side, 0 on the line itself."""
        return (-np.sign(self._cross(points))).astype(np.int64)

    def distance(self, points: FloatArray) -> FloatArray:
        """Perpendicular pixel distance of each point from the (infinite) line."""
        length = float(np.hypot(*(self.b - self.a))) or 1.0
        return (np.abs(self._cross(points)) / length).astype(np.float32)

    def crossing(self, p: tuple[float, float], q: tuple[float, float]) -> Direction | None:
        """Direction in which the step p->q crosses the segment, or None if it does not."""
        pts = np.array([p, q], dtype=np.float32)
        sp, sq = (int(s) for s in self.side(pts))
        if sp == sq or sp == 0 or sq == 0:
            return None
        # Where p->q meets the infinite line, as a fraction u along a->b.
        cp, cq = (float(c) for c in self._cross(pts))
        hit = pts[0] + (pts[1] - pts[0]) * (cp / (cp - cq))
        d = self.b - self.a
        u = float(np.dot(hit - self.a, d) / max(float(np.dot(d, d)), 1e-9))
        if not 0.0 <= u <= 1.0:
            return None
        return "in" if sq > 0 else "out"


class GroundPlane:
    """Maps image pixels to ground metres through a 4-point homography (cv2).

    Example:
        >>> g = GroundPlane([(0, 0), (1, 0), (1, 1), (0, 1)], [(0, 0), (10, 0), (10, 20), (0, 20)],
        ...                 (100, 100))
        >>> g.to_ground(np.array([[50, 50]], dtype=np.float32)).round(3).tolist()
        [[5.0, 10.0]]
    """

    def __init__(self, image: Sequence[NormPoint], ground: Sequence[NormPoint], size: Size) -> None:
        src = _scale(image, size)
        dst = np.asarray(ground, dtype=np.float32).reshape(4, 2)
        self.matrix = cv2.getPerspectiveTransform(src, dst)

    def to_ground(self, points: FloatArray) -> FloatArray:
        if len(points) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)
        mapped = cv2.perspectiveTransform(pts, self.matrix)
        return np.asarray(mapped, dtype=np.float32).reshape(-1, 2)


@dataclass(frozen=True)
class Scene:
    """One camera's frame size with its zones and lines in pixels.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> s = Scene.build((640, 480), [NS(name="yard", polygon=[(0, 0), (1, 0), (1, 1)])], [])
        >>> s.zones["yard"].polygon.tolist()[1]
        [640.0, 0.0]
    """

    size: Size
    zones: Mapping[str, Zone] = field(default_factory=dict)
    lines: Mapping[str, Line] = field(default_factory=dict)

    @classmethod
    def build(cls, size: Size, zones: Iterable[ZoneLike], lines: Iterable[LineLike]) -> Scene:
        return cls(
            size,
            {z.name: Zone.from_normalised(z.name, z.polygon, size) for z in zones},
            {li.name: Line.from_normalised(li.name, li.points, size) for li in lines},
        )

    @property
    def diagonal(self) -> float:
        return float(np.hypot(*self.size))

    @property
    def area(self) -> float:
        return float(self.size[0] * self.size[1])
