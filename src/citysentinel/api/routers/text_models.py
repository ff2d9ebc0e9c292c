"""Registered text models, and swapping them into a running text feed without a restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Admin, Viewer
from citysentinel.api.deps import Context
from citysentinel.text.analyzer import TextAnalyzer
from citysentinel.text.registry import RegisteredModel, RegistryError, TextModelRegistry

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/text", tags=["text"])


class RegisteredOut(BaseModel):
    """One registered model, as its card describes it."""

    name: str
    labels: list[str]
    multi_label: bool
    encoder: str = Field(description="tfidf, e5, minilm (fine-tuned: minilm with an ONNX graph).")
    validation_macro_f1: float | None
    registered_at: str


class FeedModelsIn(BaseModel):
    """The models a feed should use, in order (the first one's top label is the category)."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(
        max_length=20,
        description="Registered model names (`citysentinel models register`) or `builtin:<name>`;"
        " empty: events carry no labels.",
    )


class FeedModelsOut(BaseModel):
    """A feed's models now, with the labels each can give."""

    feed: str
    models: list[str]
    labels: dict[str, list[str]]


def get_registry(ctx: Context) -> TextModelRegistry:
    if ctx.text_models is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no text model registry is wired")
    return ctx.text_models


RegistryDep = Annotated[TextModelRegistry, Depends(get_registry)]


def _out(m: RegisteredModel) -> RegisteredOut:
    return RegisteredOut(
        name=m.name,
        labels=list(m.labels),
        multi_label=m.multi_label,
        encoder=m.encoder,
        validation_macro_f1=m.validation_macro_f1,
        registered_at=m.registered_at,
    )


def _analyzer(ctx: Context, feed: str) -> TextAnalyzer:
    analyzer = ctx.text_analyzers.get(feed)
    if analyzer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no text feed {feed!r}")
    return analyzer


def _feed_out(feed: str, analyzer: TextAnalyzer) -> FeedModelsOut:
    models = dict(analyzer.models)
    return FeedModelsOut(
        feed=feed, models=list(models), labels={n: list(m.labels) for n, m in models.items()}
    )


@router.get("/models", response_model=list[RegisteredOut])
def list_registered(registry: RegistryDep, _: Viewer) -> list[RegisteredOut]:
    """Every registered text model."""
    return [_out(m) for m in registry.list()]


@router.get("/feeds/{feed}/models", response_model=FeedModelsOut)
def feed_models(feed: str, ctx: Context, _: Viewer) -> FeedModelsOut:
    """The models a text feed runs now."""
    return _feed_out(feed, _analyzer(ctx, feed))


@router.put("/feeds/{feed}/models", response_model=FeedModelsOut)
async def swap_feed_models(
    feed: str, body: FeedModelsIn, ctx: Context, registry: RegistryDep, principal: Admin
) -> FeedModelsOut:
    """Load the named models, then swap them in; messages being analyzed finish with the old ones.

    Nothing changes when any model is unknown or fails to load (422). The swap
    lasts until the service restarts; the site config's `models` are used then.
    """
    analyzer = _analyzer(ctx, feed)
    try:
        models = await asyncio.to_thread(registry.load, body.models)
    except RegistryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    analyzer.swap_models(models)
    log.info("text feed %s: models swapped to %s by %s", feed, body.models, principal.actor)
    return _feed_out(feed, analyzer)
