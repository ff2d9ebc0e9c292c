"""Where the shared real data and the installed models are, and skips when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.models import ModelNotInstalled, model_path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
COCO128 = SHARED_DATA / "vision" / "coco128_train2017"


def coco128() -> Path:
    """The coco128 folder, or skip: a fresh clone has no ../shared/data."""
    if not (COCO128 / "images").is_dir():
        pytest.skip(f"real data not found at {COCO128} (CI provides ../shared/data)")
    return COCO128


def installed(name: str) -> Path:
    """Path of an installed model, or skip telling how to install it."""
    try:
        return model_path(name)
    except ModelNotInstalled:
        pytest.skip(
            f"model {name!r} not installed: run `citysentinel models install --only {name}`"
        )
