"""Zones by bottom-centre anchor, line sides and crossings, the ground homography, scenes."""

from __future__ import annotations

import numpy as np
import pytest

from citysentinel.config import CameraLine, CameraZone
from citysentinel.vision.geometry import GroundPlane, Line, Scene, Zone
from tests.vision.factories import box_at, make_detections

SIZE = (640, 480)
BOTTOM_HALF = [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
TOP_HALF = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)]
LEFT_HALF = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
# An L: the whole left half plus the bottom-right quarter; the top-right quarter is the notch.
L_SHAPE = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize(
    ("polygon", "box", "inside"),
    [
        (BOTTOM_HALF, box_at(320, 300), True),
        (BOTTOM_HALF, box_at(320, 200), False),
        (BOTTOM_HALF, box_at(320, 240), True),  # anchor on the edge counts
        (BOTTOM_HALF, [300, 0, 340, 250], True),  # mostly outside, but it stands inside
        (TOP_HALF, [300, 100, 340, 300], False),  # head inside, feet outside: not in the zone
        (TOP_HALF, box_at(10, 20, w=10, h=10), True),
        (LEFT_HALF, box_at(319, 400), True),  # x scaled by width (640), not height
        (LEFT_HALF, box_at(330, 400), False),
        (L_SHAPE, box_at(100, 100), True),
        (L_SHAPE, box_at(500, 100), False),  # in the notch of the concave polygon
        (L_SHAPE, box_at(500, 400), True),
    ],
)
def test_zone_contains_bottom_centre_anchor(
    polygon: list[tuple[float, float]], box: list[float], inside: bool
) -> None:
    z = Zone.from_normalised("z", polygon, SIZE)
    assert z.trigger(make_detections([box])).tolist() == [inside]


def test_zone_mask_over_many_and_none() -> None:
    z = Zone.from_normalised("z", BOTTOM_HALF, SIZE)
    det = make_detections([box_at(10, 470), box_at(10, 10), box_at(630, 250)])
    assert z.trigger(det).tolist() == [True, False, True]
    assert z.contains(np.zeros((0, 2), dtype=np.float32)).shape == (0,)
    assert z.area_px() == pytest.approx(640 * 240)


# A left-to-right line across the middle: 'in' is above it (left of a->b on screen).
H_LINE = ((0.0, 0.5), (1.0, 0.5))
# A top-to-bottom line down the middle: 'in' is to its right on screen (left of a->b).
V_LINE = ((0.5, 0.0), (0.5, 1.0))


@pytest.mark.parametrize(
    ("points", "p", "q", "expected"),
    [
        (H_LINE, (320, 300), (320, 200), "in"),  # moving up
        (H_LINE, (320, 200), (320, 300), "out"),
        (H_LINE, (320, 200), (330, 230), None),  # stays on one side
        (H_LINE, (320, 240), (320, 100), None),  # starts on the line: not a crossing step
        (V_LINE, (100, 240), (500, 240), "in"),  # moving right
        (V_LINE, (500, 240), (100, 240), "out"),
        (((0.25, 0.5), (0.75, 0.5)), (50, 300), (50, 200), None),  # passes beside the segment
        (((0.25, 0.5), (0.75, 0.5)), (200, 300), (200, 200), "in"),
        (((0.75, 0.5), (0.25, 0.5)), (200, 300), (200, 200), "out"),  # reversed a->b flips it
        (((0.0, 0.0), (1.0, 1.0)), (600, 50), (50, 400), "out"),  # diagonal: in side is above-right
    ],
)
def test_line_crossing_direction(
    points: tuple[tuple[float, float], tuple[float, float]],
    p: tuple[float, float],
    q: tuple[float, float],
    expected: str | None,
) -> None:
    assert Line.from_normalised("l", points, SIZE).crossing(p, q) == expected


def test_line_side_and_distance() -> None:
    line = Line.from_normalised("l", H_LINE, SIZE)
    pts = np.array([[10, 100], [10, 400], [10, 240]], dtype=np.float32)
    assert line.side(pts).tolist() == [1, -1, 0]
    assert line.distance(pts).tolist() == pytest.approx([140, 160, 0])


def test_ground_plane_maps_a_perspective_trapezoid() -> None:
    # A road narrowing towards the top of the image is a 10 m x 40 m rectangle on the ground.
    image = [(0.4, 0.2), (0.6, 0.2), (1.0, 1.0), (0.0, 1.0)]
    ground = [(0.0, 40.0), (10.0, 40.0), (10.0, 0.0), (0.0, 0.0)]
    g = GroundPlane(image, ground, SIZE)
    corners = np.array([[256, 96], [384, 96], [640, 480], [0, 480]], dtype=np.float32)
    np.testing.assert_allclose(g.to_ground(corners), np.array(ground), atol=1e-3)
    # Equal pixel steps cover more ground far away than near.
    near = g.to_ground(np.array([[320, 480], [320, 440]], dtype=np.float32))
    far = g.to_ground(np.array([[320, 136], [320, 96]], dtype=np.float32))
    assert abs(far[1, 1] - far[0, 1]) > 3 * abs(near[1, 1] - near[0, 1])
    assert g.to_ground(np.zeros((0, 2), dtype=np.float32)).shape == (0, 2)


def test_scene_from_config_models() -> None:
    zones = [CameraZone(name="yard", polygon=BOTTOM_HALF)]
    lines = [CameraLine(name="gate", points=H_LINE)]
    scene = Scene.build(SIZE, zones, lines)
    assert scene.zones["yard"].polygon.tolist()[2] == [640.0, 480.0]
    assert scene.lines["gate"].b.tolist() == [640.0, 240.0]
    assert scene.diagonal == pytest.approx(800.0)
