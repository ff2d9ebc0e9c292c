"""The HTTP API (FastAPI): one router per resource, auth, audit, live stream."""
