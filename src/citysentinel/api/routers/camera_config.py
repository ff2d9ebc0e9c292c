"""A camera's zones and lines: validate an edit, export it as YAML for the site config.

The server never rewrites the running config file: the YAML, with its comments, stays the one
source of truth. The dashboard's editor checks a draft here, then an admin downloads or copies
the snippet, pastes it over the camera's ``zones:`` and ``lines:`` and restarts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citysentinel.api.auth import Admin, Viewer
from citysentinel.api.deps import Context
from citysentinel.config import CameraConfig, CameraLine, CameraZone, SiteConfig

router = APIRouter(prefix="/api/v1", tags=["cameras"])

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# Names YAML 1.1 would read as booleans or null if written without quotes.
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_DECIMALS = 4  # 1/10000 of the frame: a fifth of a pixel at 2000 px wide


class Geometry(BaseModel):
    """A camera's zones and counting lines, in normalised image coordinates (0-1)."""

    model_config = ConfigDict(extra="forbid")

    zones: list[CameraZone] = Field(default_factory=list, description="Zones in the image.")
    lines: list[CameraLine] = Field(default_factory=list, description="Counting lines.")


class GeometryCheck(BaseModel):
    """The result of a successful check."""

    valid: bool = Field(description="Always true; problems answer 422.")
    camera: str = Field(description="Camera id.")
    zones: list[str] = Field(description="Zone names, in order.")
    lines: list[str] = Field(description="Line names, in order.")
    referenced: list[str] = Field(description="Zone and line names the camera's behaviours use.")


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such camera in the site config."},
    422: {"description": "Invalid geometry, or a behaviour or rule names a missing zone or line."},
}


def geometry_problems(
    site: SiteConfig, camera: CameraConfig, geometry: Geometry
) -> list[dict[str, Any]]:
    """What is wrong with `camera` once its zones and lines are replaced by `geometry`.

    Each problem is ``{"loc": [...], "msg": ..., "type": ...}`` like the API's other 422s.
    Checks duplicate names, the camera's behaviours, the site's rules (which may name a
    camera zone), then the whole camera with the real `CameraConfig` model.
    """
    problems: list[dict[str, Any]] = []
    for kind, names in (
        ("zones", [z.name for z in geometry.zones]),
        ("lines", [li.name for li in geometry.lines]),
    ):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if not name.strip():
                problems.append(
                    _problem(["body", kind, i, "name"], "a name is required", "missing")
                )
            elif name in seen:
                problems.append(
                    _problem(["body", kind, i, "name"], f"{name!r} is used twice", "duplicate")
                )
            seen.add(name)
    zone_names = [z.name for z in geometry.zones]
    line_names = [li.name for li in geometry.lines]
    for message in camera.analytics.reference_errors(zone_names, line_names):
        problems.append(
            _problem(
                ["cameras", camera.id, "analytics"],
                f"camera {camera.id!r} analytics.{message}",
                "reference",
            )
        )
    known = (
        {z.name for z in site.zones}
        | {z.name for c in site.cameras if c.id != camera.id for z in c.zones}
        | set(zone_names)
    )
    for i, rule in enumerate(site.rules):
        for j, zone in enumerate(rule.match.zones):
            if zone not in known:
                problems.append(
                    _problem(
                        ["rules", i, "match", "zones", j],
                        f"rule {rule.id!r} names zone {zone!r}, which would no longer exist",
                        "reference",
                    )
                )
    if problems:
        return problems
    data = camera.model_dump()
    data["zones"] = [z.model_dump() for z in geometry.zones]
    data["lines"] = [li.model_dump() for li in geometry.lines]
    try:
        CameraConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            cause = err.get("ctx", {}).get("error")
            msg = str(cause) if cause is not None else err["msg"]
            problems.append(_problem(["cameras", camera.id, *err["loc"]], msg, err["type"]))
    return problems


def geometry_yaml(camera: CameraConfig, geometry: Geometry) -> str:
    """The camera's ``zones:`` and ``lines:`` blocks, to paste at the camera's indentation.

    Example:
        >>> cam = CameraConfig(id="cam-1", url="/dev/null")
        >>> g = Geometry(lines=[CameraLine(name="gate", points=((0.1, 0.5), (0.9, 0.5)))])
        >>> print(geometry_yaml(cam, g).split("\\n", 3)[3])
        zones: []
        lines:
          - name: gate
            points: [[0.1, 0.5], [0.9, 0.5]]
        <BLANKLINE>
    """
    out = [
        f"# Zones and lines of camera {camera.id}, from the citysentinel dashboard.",
        f"# Replace the zones: and lines: keys under `- id: {camera.id}` with these",
        "# (keep the camera's indentation), then restart citysentinel.",
    ]
    if geometry.zones:
        out.append("zones:")
        for z in geometry.zones:
            out += [f"  - name: {_name(z.name)}", f"    polygon: {_points(z.polygon)}"]
    else:
        out.append("zones: []")
    if geometry.lines:
        out.append("lines:")
        for li in geometry.lines:
            out += [f"  - name: {_name(li.name)}", f"    points: {_points(li.points)}"]
    else:
        out.append("lines: []")
    return "\n".join(out) + "\n"


def _name(name: str) -> str:
    plain = _PLAIN_NAME.match(name) and name.lower() not in _YAML_WORDS
    # A JSON string is a valid YAML double-quoted scalar.
    return name if plain else json.dumps(name, ensure_ascii=False)


def _points(points: Any) -> str:
    return "[" + ", ".join(f"[{_num(x)}, {_num(y)}]" for x, y in points) + "]"


def _num(value: float) -> str:
    return repr(float(round(value, _DECIMALS)))


def _problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _camera(ctx: Context, camera_id: str) -> CameraConfig:
    for cam in ctx.site.cameras:
        if cam.id == camera_id:
            return cam
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"camera {camera_id} is not in the site config")


def _referenced(camera: CameraConfig) -> list[str]:
    names = []
    for b in camera.analytics.behaviours:
        for attr in ("zone", "line"):
            value = getattr(b, attr, None)
            if isinstance(value, str) and value not in names:
                names.append(value)
    return names


@router.post(
    "/cameras/{camera_id}/geometry/validate", response_model=GeometryCheck, responses=_PROBLEMS
)
def validate_geometry(
    camera_id: str, geometry: Geometry, ctx: Context, _: Viewer
) -> GeometryCheck | JSONResponse:
    """Check a camera's edited zones and lines against the config models, behaviours and rules.

    Answers 422 with the problems (each with `loc` and `msg`) when a polygon or line is
    invalid, a point is outside 0-1, a name is repeated, or a behaviour of this camera or a
    rule of the site names a zone or line that would no longer exist.
    """
    camera = _camera(ctx, camera_id)
    problems = geometry_problems(ctx.site, camera, geometry)
    if problems:
        return JSONResponse({"detail": problems}, status_code=422)
    return GeometryCheck(
        valid=True,
        camera=camera.id,
        zones=[z.name for z in geometry.zones],
        lines=[li.name for li in geometry.lines],
        referenced=_referenced(camera),
    )


@router.post(
    "/cameras/{camera_id}/geometry/yaml",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}, **_PROBLEMS},
)
def geometry_yaml_snippet(camera_id: str, geometry: Geometry, ctx: Context, _: Admin) -> Response:
    """The camera's `zones:` and `lines:` as a YAML snippet to paste into the site config.

    Validated like `/geometry/validate` first. The server does not change the config file:
    paste the snippet over the camera's zones and lines, then restart.
    """
    camera = _camera(ctx, camera_id)
    problems = geometry_problems(ctx.site, camera, geometry)
    if problems:
        return JSONResponse({"detail": problems}, status_code=422)
    return Response(
        geometry_yaml(camera, geometry),
        media_type="application/yaml",
        headers={
            "Content-Disposition": f'attachment; filename="{camera.id}-geometry.yaml"',
            "Cache-Control": "no-store",
        },
    )
