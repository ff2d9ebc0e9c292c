"""The zone and line editor in a real browser: draw, name, check, export YAML; viewers read-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from citysentinel.api.app import create_app
from citysentinel.api.deps import ApiContext
from citysentinel.config import parse_config
from tests.conftest import LiveServer, make_runtime, make_site, start_live
from tests.web.conftest import ROOT, WEB_SITE, Pages, axe_violations, screenshot, sign_in

DOC_SHOT = ROOT / "docs" / "screenshots" / "zone-editor.png"
CAMERA: dict[str, Any] = {
    "id": "cam-gate",
    "name": "Depot gate",
    "url": "/dev/null",
    "zones": [{"name": "yard", "polygon": [[0.05, 0.55], [0.6, 0.5], [0.7, 0.95], [0.05, 0.95]]}],
    "lines": [{"name": "gate", "points": [[0.55, 0.35], [0.95, 0.45]]}],
    "analytics": {
        "behaviours": [
            {"type": "intrusion", "zone": "yard"},
            {"type": "line_crossing", "line": "gate"},
        ]
    },
}


def frame_jpeg() -> bytes:
    """A synthetic 640x480 street scene: sky, buildings, a road and a gate."""
    import cv2
    import numpy as np

    img = np.zeros((480, 640, 3), np.uint8)
    img[:] = (120, 100, 80)
    img[:200] = (200, 170, 140)
    for x, h, c in ((20, 150, (90, 90, 110)), (180, 110, (70, 80, 95)), (420, 170, (100, 95, 85))):
        cv2.rectangle(img, (x, 200 - h), (x + 130, 200), c, -1)
    cv2.fillPoly(img, [np.array([[250, 480], [390, 480], [340, 200], [300, 200]])], (60, 60, 60))
    cv2.rectangle(img, (360, 170), (600, 215), (40, 120, 170), 4)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(buf)


class FakeCamera:
    camera_id = "cam-gate"

    def __init__(self) -> None:
        self.jpeg = frame_jpeg()

    def status(self) -> dict[str, Any]:
        return {"status": "ok", "fps": 5.0, "frames": 120, "objects": 2, "errors": 0}

    def frame_jpeg(self, overlays: bool = True) -> bytes | None:
        return self.jpeg


@pytest.fixture(scope="module")
def cam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("zones")
    rt = make_runtime(
        f"sqlite:///{tmp / 'cs.sqlite'}", tmp, make_site(**WEB_SITE, cameras=[CAMERA])
    )
    rt.api = create_app(
        ApiContext(
            rt.site, rt.store, rt.admin, rt.pipeline, rt.metrics, cameras={"cam-gate": FakeCamera()}
        )
    )
    server = start_live(rt)
    try:
        yield server
    finally:
        server.stop()


def open_editor(page: Any, server: LiveServer, key: str | None = None) -> None:
    sign_in(page, server, key)
    page.goto(f"{server.url}/ui/#/cameras")
    page.wait_for_selector("#camera-grid[data-state=ready]", timeout=10_000)
    page.click('article[data-camera="cam-gate"] button.edit-geometry')
    page.wait_for_selector("#zone-stage[data-frame=yes]", timeout=10_000)


def click_at(page: Any, x: float, y: float) -> None:
    box = page.locator("#zone-stage").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def test_draw_name_check_and_export_a_zone(pages: Pages, cam_server: LiveServer) -> None:
    page = pages.new()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_editor(page, cam_server)
    assert page.locator("#shape-list li").count() == 2  # yard and gate from the config
    # Draw a zone by clicking four points, then finish and name it.
    page.click("#geometry-new-zone")
    for x, y in ((0.1, 0.1), (0.4, 0.1), (0.4, 0.35), (0.1, 0.35)):
        click_at(page, x, y)
    assert "4" in page.inner_text("#geometry-draw-state")
    page.click("#geometry-finish")
    name = page.locator("#shape-name-2")
    assert name.input_value() == "zone-1"
    assert page.evaluate("document.activeElement.id") == "shape-name-2"
    name.fill("west-roof")
    # Keyboard: nudge the new zone's first point right by 0.01 and add a point after it.
    page.locator('#shape-list li[data-shape="2"] button[aria-pressed]').click()
    vertex = page.locator('#zone-stage circle[data-shape="2"][data-vertex="0"]')
    assert page.evaluate("document.activeElement.dataset.vertex") == "0"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert page.locator('#zone-stage circle[data-shape="2"]').count() == 5
    page.keyboard.press("Delete")
    assert page.locator('#zone-stage circle[data-shape="2"]').count() == 4
    assert vertex.count() == 1
    # Draw a line with the keyboard: the crosshair starts in the middle.
    page.click("#geometry-new-line")
    page.keyboard.press("Enter")
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert page.locator("#shape-name-3").input_value() == "line-1"
    page.locator("#shape-name-3").fill("footpath")
    assert page.locator("#zone-stage .shape-line .in-arrow").count() == 2
    page.click("#geometry-validate")
    page.wait_for_selector("#zone-editor[data-valid=yes]")
    assert "2 zones and 2 lines" in page.inner_text("#geometry-result")
    page.click("#geometry-get-yaml")
    page.wait_for_selector("#geometry-yaml:visible")
    snippet = page.input_value("#geometry-yaml")
    assert "name: west-roof" in snippet and "name: footpath" in snippet
    site = parse_config(
        "site: {name: S}\ncameras:\n  - id: cam-gate\n    url: /dev/null\n"
        + "\n".join(("    " + line) if line else "" for line in snippet.splitlines())
        + "\n",
        env={},
    )
    assert [z.name for z in site.cameras[0].zones] == ["yard", "west-roof"]
    (x0, y0), *_ = site.cameras[0].zones[1].polygon
    assert abs(x0 - 0.11) < 0.005 and abs(y0 - 0.1) < 0.005  # the nudge, normalised
    assert site.cameras[0].lines[1].points == ((0.5, 0.5), (0.7, 0.5))
    page.locator("#zone-editor").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    path = screenshot(page, "zone-editor")
    assert axe_violations(page) == []
    # A small copy for the docs: just the editor panel.
    DOC_SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.locator("#zone-editor").screenshot(path=str(DOC_SHOT), type="png", scale="css")
    assert path.exists() and DOC_SHOT.stat().st_size < 300_000
    assert errors == []


def test_a_removed_zone_still_used_by_a_behaviour_is_named(
    pages: Pages, cam_server: LiveServer
) -> None:
    page = pages.new()
    open_editor(page, cam_server)
    page.click('#shape-list li[data-shape="0"] button.btn-danger')
    page.click("#geometry-validate")
    page.wait_for_selector("#zone-editor[data-valid=no]")
    text = page.inner_text("#geometry-result")
    assert "unknown zone 'yard'" in text
    assert "rule 'yard-intrusion' names zone 'yard'" in text
    assert page.locator("#geometry-yaml:visible").count() == 0
    page.click("#geometry-reset")
    assert page.locator("#shape-list li").count() == 2


def test_viewers_see_the_editor_read_only(pages: Pages, cam_server: LiveServer) -> None:
    page = pages.new()
    open_editor(page, cam_server, cam_server.key("viewer"))
    assert page.locator("#geometry-readonly").is_visible()
    assert page.locator("#geometry-new-zone").count() == 0
    assert page.locator("#geometry-get-yaml").count() == 0
    assert page.locator("#shape-name-0").get_attribute("readonly") is not None
    page.click("#geometry-validate")
    page.wait_for_selector("#zone-editor[data-valid=yes]")
    assert axe_violations(page) == []
    # The editor stays open across a language switch, in Chinese.
    page.select_option("#lang-select", "zh-CN")
    page.wait_for_selector("#zone-editor-title:has-text('区域和线')")
    assert "管理员密钥" in page.inner_text("#geometry-readonly")
    page.wait_for_selector("#zone-stage[data-frame=yes]")
    screenshot(page, "zone-editor-zh")
    assert axe_violations(page) == []
    page.click("#geometry-close")
    assert page.locator("#zone-editor").count() == 0
    assert page.evaluate("document.activeElement.classList.contains('edit-geometry')")
