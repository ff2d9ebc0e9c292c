"""Camera status, latest frame and evidence files over the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citysentinel.api.app import create_app
from citysentinel.api.deps import ApiContext
from citysentinel.storage.admin import Role
from tests.conftest import make_runtime, start_live


class FakeCamera:
    camera_id = "cam-gate"

    def status(self) -> dict[str, Any]:
        return {"status": "ok", "fps": 5.0}

    def frame_jpeg(self, overlays: bool = True) -> bytes | None:
        return b"\xff\xd8fake-jpeg" + (b"+overlays" if overlays else b"")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    rt = make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path)
    evidence = tmp_path / "evidence"
    (evidence / "2026-11-25").mkdir(parents=True)
    (evidence / "2026-11-25" / "snap.jpg").write_bytes(b"\xff\xd8snap")
    (tmp_path / "secret.txt").write_text("not evidence")
    ctx = ApiContext(
        rt.site,
        rt.store,
        rt.admin,
        rt.pipeline,
        rt.metrics,
        cameras={"cam-gate": FakeCamera()},
        evidence_dir=evidence,
    )
    rt.api = create_app(ctx)
    live = start_live(rt)
    _, key = rt.admin.create_key("viewer", Role.VIEWER, created_by="test")
    try:
        with live.client(key) as c:
            yield c
    finally:
        live.stop()


def test_cameras_list_health(client: httpx.Client) -> None:
    cams = client.get("/api/v1/cameras").json()
    assert cams == [{"id": "cam-gate", "name": "", "enabled": True, "status": "ok", "fps": 5.0}]


def test_latest_frame(client: httpx.Client) -> None:
    r = client.get("/api/v1/cameras/cam-gate/frame.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content.endswith(b"+overlays")
    plain = client.get("/api/v1/cameras/cam-gate/frame.jpg?overlays=false")
    assert plain.status_code == 200 and not plain.content.endswith(b"+overlays")
    assert client.get("/api/v1/cameras/nope/frame.jpg").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("2026-11-25/snap.jpg", 200),
        ("../secret.txt", 404),
        ("2026-11-25/../../secret.txt", 404),
        ("missing.jpg", 404),
        ("%2E%2E/secret.txt", 404),
        ("2026-11-25/%2E%2E/%2E%2E/secret.txt", 404),
    ],
)
def test_evidence_files_stay_inside_the_evidence_dir(
    client: httpx.Client, path: str, status: int
) -> None:
    assert client.get(f"/api/v1/evidence/{path}").status_code == status
