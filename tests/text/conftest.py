"""Shared fixtures for text tests: the real data folder, or a skip that says why."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """`<repo>/../shared/data`; tests that need it skip when it is absent (a fresh clone)."""
    if not (DATA / "crisis").is_dir():
        pytest.skip(f"real data folder {DATA} is absent (see ../shared/data/README.md)")
    return DATA
