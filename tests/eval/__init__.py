"""Tests of citysentinel.eval."""
