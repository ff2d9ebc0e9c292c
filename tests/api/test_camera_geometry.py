"""The zone and line editor's API: validate a camera's geometry, export it as YAML."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citysentinel.config import parse_config
from tests.conftest import SITE, LiveServer, make_runtime, make_site, start_live

CAMERA: dict[str, Any] = {
    "id": "cam-gate",
    "url": "/dev/null",
    "zones": [
        {"name": "yard", "polygon": [[0, 0], [1, 0], [1, 1]]},
        {"name": "bench", "polygon": [[0.1, 0.5], [0.3, 0.5], [0.3, 0.9]]},
    ],
    "lines": [{"name": "gate", "points": [[0.1, 0.6], [0.9, 0.6]]}],
    "analytics": {
        "behaviours": [
            {"type": "loitering", "zone": "bench"},
            {"type": "line_crossing", "line": "gate"},
        ]
    },
}
GOOD: dict[str, Any] = {
    "zones": [
        {"name": "yard", "polygon": [[0.05, 0.1], [0.95, 0.1], [0.9, 0.95], [0.1, 0.9]]},
        {"name": "bench", "polygon": [[0.12345678, 0.5], [0.3, 0.5], [0.3, 0.9]]},
        {"name": "north gate", "polygon": [[0, 0], [0.2, 0], [0.2, 0.2]]},
    ],
    "lines": [{"name": "gate", "points": [[0.1, 0.6], [0.9, 0.65]]}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("geometry")
    site = make_site(cameras=[CAMERA])
    live = start_live(make_runtime(f"sqlite:///{tmp / 'cs.sqlite'}", tmp, site))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def viewer(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(server.key("viewer")) as c:
        yield c


@pytest.fixture
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def validate(
    client: httpx.Client, body: dict[str, Any], camera: str = "cam-gate"
) -> httpx.Response:
    return client.post(f"/api/v1/cameras/{camera}/geometry/validate", json=body)


def messages(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    return " | ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in r.json()["detail"])


def test_valid_geometry(viewer: httpx.Client) -> None:
    r = validate(viewer, GOOD)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "valid": True,
        "camera": "cam-gate",
        "zones": ["yard", "bench", "north gate"],
        "lines": ["gate"],
        "referenced": ["bench", "gate"],
    }


def test_unknown_camera_is_404(viewer: httpx.Client) -> None:
    assert validate(viewer, GOOD, camera="nope").status_code == 404


def test_polygon_needs_three_points(viewer: httpx.Client) -> None:
    body = {**GOOD, "zones": [{"name": "yard", "polygon": [[0, 0], [1, 1]]}, GOOD["zones"][1]]}
    text = messages(validate(viewer, body))
    assert "body.zones.0.polygon" in text and "at least 3" in text


def test_point_out_of_range(viewer: httpx.Client) -> None:
    body = {**GOOD, "lines": [{"name": "gate", "points": [[0.1, 0.6], [1.2, 0.6]]}]}
    text = messages(validate(viewer, body))
    assert "body.lines.0.points" in text and "normalised to 0-1" in text
    body = {**GOOD, "zones": [{"name": "yard", "polygon": [[0, 0], [1, -0.01], [1, 1]]}]}
    assert "body.zones.0.polygon" in messages(validate(viewer, body))


def test_line_needs_two_points(viewer: httpx.Client) -> None:
    body = {**GOOD, "lines": [{"name": "gate", "points": [[0.1, 0.6]]}]}
    assert "body.lines.0.points" in messages(validate(viewer, body))


def test_duplicate_and_empty_names(viewer: httpx.Client) -> None:
    body = {
        **GOOD,
        "zones": [*GOOD["zones"], {**GOOD["zones"][0]}, {**GOOD["zones"][1], "name": " "}],
    }
    text = messages(validate(viewer, body))
    assert "body.zones.3.name: 'yard' is used twice" in text
    assert "body.zones.4.name: a name is required" in text


def test_behaviour_referencing_a_removed_zone(viewer: httpx.Client) -> None:
    body = {"zones": [GOOD["zones"][0]], "lines": []}
    text = messages(validate(viewer, body))
    assert "unknown zone 'bench'" in text
    assert "unknown line 'gate'" in text


def test_rule_referencing_a_removed_camera_zone(viewer: httpx.Client) -> None:
    # SITE's rule `yard-intrusion` matches zone "yard", which only this camera declares.
    body = {"zones": [GOOD["zones"][1]], "lines": GOOD["lines"]}
    text = messages(validate(viewer, body))
    assert "rule 'yard-intrusion' names zone 'yard'" in text


def test_extra_keys_are_refused(viewer: httpx.Client) -> None:
    r = validate(viewer, {**GOOD, "masks": []})
    assert r.status_code == 422


def test_yaml_needs_admin(viewer: httpx.Client) -> None:
    assert viewer.post("/api/v1/cameras/cam-gate/geometry/yaml", json=GOOD).status_code == 403


def test_yaml_refuses_invalid_geometry(admin: httpx.Client) -> None:
    r = admin.post("/api/v1/cameras/cam-gate/geometry/yaml", json={"zones": [], "lines": []})
    assert "unknown zone 'bench'" in messages(r)


def test_yaml_round_trip(admin: httpx.Client) -> None:
    r = admin.post("/api/v1/cameras/cam-gate/geometry/yaml", json=GOOD)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/yaml")
    assert 'filename="cam-gate-geometry.yaml"' in r.headers["content-disposition"]
    snippet = r.text
    assert "name: north gate" in snippet or 'name: "north gate"' in snippet
    assert "[0.1235, 0.5]" in snippet  # rounded to 4 decimals
    site_yaml = textwrap.dedent(
        """\
        site: {name: Spliced, timezone: UTC}
        cameras:
          - id: cam-gate
            url: /dev/null
        %s
            analytics:
              behaviours:
                - {type: loitering, zone: bench}
                - {type: line_crossing, line: gate}
        external_sources: [cam-1, cam-2, hotline]
        rules:
          - id: yard-intrusion
            match: {kind: video.intrusion, zones: [yard]}
            incident: {category: security, sub_category: trespassing}
        """
    ) % textwrap.indent(snippet, "    ")
    site = parse_config(site_yaml, "spliced.yaml", env={})
    cam = site.cameras[0]
    assert [z.name for z in cam.zones] == ["yard", "bench", "north gate"]
    assert cam.zones[0].polygon == [(0.05, 0.1), (0.95, 0.1), (0.9, 0.95), (0.1, 0.9)]
    assert cam.zones[1].polygon[0] == (0.1235, 0.5)
    assert cam.lines[0].name == "gate" and cam.lines[0].points == ((0.1, 0.6), (0.9, 0.65))
    assert SITE["rules"][1]["id"] == "yard-intrusion"


def test_yaml_empty_lines_and_quoted_names(admin: httpx.Client, tmp_path: Path) -> None:
    body = {
        "zones": [
            *GOOD["zones"][:2],
            {"name": "yes", "polygon": [[0, 0], [1, 0], [1, 1]]},
            {"name": "西门: 广场", "polygon": [[0, 0], [1, 0], [1, 1]]},
        ],
        "lines": GOOD["lines"],
    }
    snippet = admin.post("/api/v1/cameras/cam-gate/geometry/yaml", json=body).text
    site_yaml = (
        "site: {name: S}\ncameras:\n  - id: cam-gate\n    url: /dev/null\n"
        + textwrap.indent(snippet, "    ")
    )
    cam = parse_config(site_yaml, env={}).cameras[0]
    assert [z.name for z in cam.zones] == ["yard", "bench", "yes", "西门: 广场"]
