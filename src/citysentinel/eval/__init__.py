"""Evaluations that print their figures: detection, tracking, fall, image classification."""

from __future__ import annotations
