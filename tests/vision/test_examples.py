"""The examples in the analytics modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "citysentinel.vision.analytics_config",
    "citysentinel.vision.geometry",
    "citysentinel.vision.tracking",
    "citysentinel.vision.behaviours",
    "citysentinel.vision.behaviours.base",
    "citysentinel.vision.behaviours.crowding",
    "citysentinel.vision.behaviours.intrusion",
    "citysentinel.vision.behaviours.line_crossing",
    "citysentinel.vision.behaviours.loitering",
    "citysentinel.vision.behaviours.speed",
    "citysentinel.vision.behaviours.stationary",
    "citysentinel.vision.analyzer",
    "citysentinel.vision.snapshot",
    "citysentinel.eval.tracking",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
