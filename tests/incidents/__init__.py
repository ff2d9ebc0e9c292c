"""Tests for the incident engine, rules, silences and summaries."""
