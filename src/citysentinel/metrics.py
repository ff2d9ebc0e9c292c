"""Prometheus metrics of one running citysentinel, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every metric the platform exports, named `citysentinel_<thing>_<unit>`.

    One instance per running app (not module globals), so tests and benches can
    build several apps in one process.
    """

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events_total = Counter(
            "citysentinel_events_total", "Events accepted, by kind.", ["kind"], registry=r
        )
        self.events_duplicate_total = Counter(
            "citysentinel_events_duplicate_total",
            "Events ignored because their id was already stored.",
            registry=r,
        )
        self.bus_queue_depth = Gauge(
            "citysentinel_bus_queue_depth",
            "Items waiting in a subscriber's queue.",
            ["topic", "subscriber"],
            registry=r,
        )
        self.bus_blocked_total = Counter(
            "citysentinel_bus_publish_blocked_total",
            "Publishes that had to wait for a full queue (back-pressure).",
            ["topic", "subscriber"],
            registry=r,
        )
        self.bus_blocked_seconds = Counter(
            "citysentinel_bus_publish_blocked_seconds_total",
            "Seconds publishers waited on full queues.",
            ["topic"],
            registry=r,
        )
        self.bus_overflow_total = Counter(
            "citysentinel_bus_subscriber_overflow_total",
            "Lossy subscribers (live streams) cut off because they fell behind; they resume"
            " from storage.",
            ["topic", "subscriber"],
            registry=r,
        )
        self.engine_events_total = Counter(
            "citysentinel_engine_events_total",
            "Events processed by the incident engine.",
            registry=r,
        )
        self.engine_lag_events = Gauge(
            "citysentinel_engine_lag_events",
            "Stored events the incident engine has not processed yet.",
            registry=r,
        )
        self.incident_changes_total = Counter(
            "citysentinel_incident_changes_total",
            "Incident changes, by type (new, update, end).",
            ["type"],
            registry=r,
        )
        self.incidents_open = Gauge(
            "citysentinel_incidents_open", "Incidents not yet resolved.", registry=r
        )
        self.sink_deliveries_total = Counter(
            "citysentinel_sink_deliveries_total",
            "Deliveries to sinks, by sink and outcome (ok, retry, dead_letter, dropped).",
            ["sink", "outcome"],
            registry=r,
        )
        self.http_requests_total = Counter(
            "citysentinel_http_requests_total",
            "API requests, by method and status code.",
            ["method", "status"],
            registry=r,
        )
        self.http_request_seconds = Histogram(
            "citysentinel_http_request_seconds",
            "API request latency.",
            ["method"],
            registry=r,
        )
        self.retention_deleted_total = Counter(
            "citysentinel_retention_deleted_total",
            "Rows and files removed by retention, by what.",
            ["what"],
            registry=r,
        )

        self.camera_frames_total = Counter(
            "citysentinel_camera_frames_total", "Frames analysed.", ["camera"], registry=r
        )
        self.camera_errors_total = Counter(
            "citysentinel_camera_errors_total",
            "Frames that failed analysis.",
            ["camera"],
            registry=r,
        )
        self.camera_fps = Gauge(
            "citysentinel_camera_fps",
            "Frames analysed per second (5 s window).",
            ["camera"],
            registry=r,
        )
        self.camera_up = Gauge(
            "citysentinel_camera_up", "1 while the camera delivers frames.", ["camera"], registry=r
        )
        self.camera_last_frame_seconds = Gauge(
            "citysentinel_camera_last_frame_timestamp_seconds",
            "Unix time of the last analysed frame.",
            ["camera"],
            registry=r,
        )
        self.camera_process_seconds = Histogram(
            "citysentinel_camera_process_seconds",
            "Detect, track, zones and behaviours for one frame.",
            ["camera"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
