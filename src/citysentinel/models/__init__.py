"""Pretrained models: install, convert and verify registry artifacts; the model registry."""

from __future__ import annotations

from citysentinel.models.registry import (
    InstalledModel,
    ModelNotInstalled,
    Status,
    list_models,
    model_dir,
    model_path,
)

__all__ = [
    "InstalledModel",
    "ModelNotInstalled",
    "Status",
    "list_models",
    "model_dir",
    "model_path",
]
