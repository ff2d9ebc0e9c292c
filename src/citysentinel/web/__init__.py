"""The operator dashboard: static pages, scripts and styles served by the API process."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from citysentinel.api.auth import Viewer

STATIC_DIR = Path(__file__).parent / "static"
UI_PATH = "/ui"


class Session(BaseModel):
    """Who the dashboard is signed in as: the key's name and role."""

    name: str
    role: str
    actor: str


def mount_web(app: FastAPI) -> None:
    """Serve the dashboard at `/ui/` (and redirect `/` there), offline, from package files.

    Also adds `GET /ui/session`, which tells the dashboard the role of its key so it can
    disable actions for viewers; it is not part of the public API (hidden from OpenAPI).

    Example:
        >>> from fastapi import FastAPI
        >>> app = FastAPI()
        >>> mount_web(app)
        >>> sorted(r.path for r in app.routes if r.path in ("/", "/ui/session"))
        ['/', '/ui/session']
    """

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/", status_code=307)

    @app.get(f"{UI_PATH}/session", include_in_schema=False, response_model=Session)
    def session(who: Viewer) -> Session:
        return Session(name=who.name, role=who.role.value, actor=who.actor)

    app.mount(UI_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="ui")
