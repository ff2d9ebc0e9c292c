"""Tests for the MQTT, webhook and CAP sinks."""
