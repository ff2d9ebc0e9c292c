"""The FastAPI application: routers, auth, body limit, audit log and request metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citysentinel import __version__
from citysentinel.api.auth import identify
from citysentinel.api.deps import ApiContext, get_context
from citysentinel.api.routers import (
    admin,
    auth,
    camera_config,
    cameras,
    events,
    incidents,
    opinion,
    parking,
    routes,
    signals,
    silences,
    stream,
    system,
    text,
    text_models,
    traffic,
)
from citysentinel.web import mount_web

log = logging.getLogger(__name__)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 to bodies over `max_bytes`, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = f'{{"detail":"request body is larger than {self.max_bytes} bytes"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(ctx: ApiContext) -> FastAPI:
    """The API for one running site.

    Example:
        >>> # app = create_app(ApiContext(site, store, admin, pipeline, metrics))
        >>> # uvicorn.run(app)
    """
    app = FastAPI(
        title="citysentinel",
        version=__version__,
        description="Events in, incidents out: ingest, query, act on incidents, live stream, CAP.",
    )
    app.dependency_overrides[get_context] = lambda: ctx
    limiter = auth.LoginLimiter()
    app.dependency_overrides[auth.get_login_limiter] = lambda: limiter
    for module in (
        system,
        events,
        incidents,
        silences,
        stream,
        cameras,
        camera_config,
        admin,
        auth,
        text,
        text_models,
        opinion,
        traffic,
        routes,
        signals,
        parking,
    ):
        app.include_router(module.router)

    @app.middleware("http")
    async def audit_and_measure(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        ctx.metrics.http_requests_total.labels(request.method, str(response.status_code)).inc()
        ctx.metrics.http_request_seconds.labels(request.method).observe(
            time.perf_counter() - started
        )
        if request.method in WRITE_METHODS and request.url.path.startswith("/api/"):
            await _audit(ctx, request, response.status_code)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    app.add_middleware(BodyLimit, max_bytes=ctx.site.api.max_body_bytes)
    mount_web(app)
    return app


async def _audit(ctx: ApiContext, request: Request, status_code: int) -> None:
    try:
        principal = await identify(request, ctx)
        await asyncio.to_thread(
            ctx.admin.audit,
            actor=principal.actor if principal else "anonymous",
            role=principal.role.value if principal else None,
            method=request.method,
            path=request.url.path,
            status=status_code,
            detail=getattr(request.state, "audit_detail", None),
        )
    except Exception:
        log.exception("could not write the audit log for %s %s", request.method, request.url.path)
