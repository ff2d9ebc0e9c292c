"""Sinks: push incident changes and events out over MQTT, webhooks and CAP 1.2."""
