"""Cameras (health, live counts, latest frame) and evidence files such as snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.responses import FileResponse

from citysentinel.api.auth import Viewer
from citysentinel.api.deps import Context

router = APIRouter(prefix="/api/v1", tags=["cameras"])


@router.get("/cameras")
def list_cameras(ctx: Context, _: Viewer) -> list[dict[str, Any]]:
    """Every configured camera with its health (status, fps, last frame, errors) and counts."""
    out = []
    for cam in ctx.site.cameras:
        running = ctx.cameras.get(cam.id)
        state = running.status() if running is not None else {"status": "not running"}
        out.append({"id": cam.id, "name": cam.name, "enabled": cam.enabled, **state})
    return out


@router.get(
    "/cameras/{camera_id}/frame.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def camera_frame(camera_id: str, ctx: Context, _: Viewer, overlays: bool = True) -> Response:
    """The latest analysed frame, faces blurred; overlays (boxes, zones, lines) unless false."""
    cam = ctx.cameras.get(camera_id)
    if cam is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"camera {camera_id} is not running")
    jpeg = cam.frame_jpeg(overlays)
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"camera {camera_id} has no frame yet")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/evidence/{path:path}", response_class=FileResponse)
def evidence(path: str, ctx: Context, _: Viewer) -> FileResponse:
    """An evidence file (a snapshot) by the path an event's evidence gives."""
    root = ctx.evidence_dir
    if root is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no evidence directory is configured")
    base = root.resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no evidence file {path}")
    return FileResponse(Path(target))
