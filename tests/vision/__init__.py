"""Tests of citysentinel.vision."""
