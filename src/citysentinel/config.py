"""The site config: one YAML file validated by `SiteConfig`, plus `Settings` from the environment.

Errors name the key path and the YAML line, e.g.
``rules[0].match.kind[0]: Input should be 'video.intrusion', ... (line 42)``.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citysentinel.events import Point
from citysentinel.incidents import RuleConfig
from citysentinel.sinks.cap import CapConfig
from citysentinel.sinks.mqtt import MqttSinkConfig
from citysentinel.sinks.webhook import WebhookConfig
from citysentinel.traffic.live import TrafficConfig
from citysentinel.traffic.parking import LineCounts, ParkingLotConfig, SensorCounts, ZoneCounts
from citysentinel.traffic.signals import IntersectionConfig
from citysentinel.vision.analytics_config import AnalyticsConfig
from citysentinel.vision.detectors import DetectorConfig, NanoDetConfig

Id = str
NormPoint = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _LocatedError(ValueError):
    """A model validator's error about a key below the model; `loc` is relative to it."""

    def __init__(
        self, loc: tuple[str | int, ...], message: str, first: tuple[str | int, ...] | None = None
    ) -> None:
        super().__init__(message)
        self.loc = loc
        self.first = first  # for duplicates: where the name was first used


class SiteInfo(_Strict):
    """Who the site is and where: name, time zone and map centre."""

    name: str = Field(description="Name of the site shown to operators.")
    timezone: str = Field(default="UTC", description="IANA time zone for schedules and summaries.")
    center: Point | None = Field(default=None, description="Map centre, GeoJSON point.")

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class GeoZone(_Strict):
    """A named area on the map (GeoJSON ring of [lon, lat])."""

    name: str = Field(description="Zone name rules and events refer to.")
    polygon: list[tuple[float, float]] = Field(
        min_length=3, description="Ring of [lon, lat] points in WGS84 degrees."
    )

    @field_validator("polygon")
    @classmethod
    def _lon_lat(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in value):
            raise ValueError("points are [lon, lat]: lon in -180..180, lat in -90..90")
        return value


class CameraZone(_Strict):
    """A zone in one camera's image; an object is inside by its bottom-centre point."""

    name: str = Field(description="Zone name rules and events refer to.")
    polygon: list[NormPoint] = Field(
        min_length=3, description="Polygon in normalised image coordinates (0-1), x right, y down."
    )

    @field_validator("polygon")
    @classmethod
    def _normalised(cls, value: list[NormPoint]) -> list[NormPoint]:
        _check_normalised(value)
        return value


def _check_normalised(points: Sequence[NormPoint]) -> None:
    if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in points):
        raise ValueError("points must be normalised to 0-1 (x right, y down)")


class CameraLine(_Strict):
    """A counting line in one camera's image."""

    name: str = Field(description="Line name used in counts and events.")
    points: tuple[NormPoint, NormPoint] = Field(
        description="Two points in normalised image coordinates; 'in' is to the left of a->b."
    )

    @field_validator("points")
    @classmethod
    def _normalised(cls, value: tuple[NormPoint, NormPoint]) -> tuple[NormPoint, NormPoint]:
        _check_normalised(value)
        return value


class CameraConfig(_Strict):
    """One video stream or file, with its zones and counting lines."""

    id: Id = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Camera id, used as event source.")
    name: str = Field(default="", description="Human-readable name.")
    url: str = Field(description="Video file path, or rtsp:// / http(s):// stream URL.")
    enabled: bool = Field(default=True, description="Process this camera.")
    location: Point | None = Field(default=None, description="Where the camera is, on the map.")
    detect_fps: float = Field(default=5.0, gt=0, le=60, description="Frames analysed per second.")
    zones: list[CameraZone] = Field(default_factory=list, description="Zones in the image.")
    lines: list[CameraLine] = Field(default_factory=list, description="Counting lines.")
    realtime: bool = Field(
        default=True, description="Play a video file at its own pace, like a live camera."
    )
    loop: bool = Field(default=False, description="Start a video file again when it ends.")
    # NanoDet is the default: better mAP than CenterNet at >= 5 fps here (docs/models.md).
    detector: DetectorConfig = Field(
        default_factory=lambda: NanoDetConfig(type="nanodet"),
        description="Object detector backend, chosen by `type` (nanodet, centernet, onnx).",
    )
    analytics: AnalyticsConfig = Field(
        default_factory=AnalyticsConfig,
        description="Tracking, object filters, behaviours and snapshot evidence.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> CameraConfig:
        _unique([(("zones", i, "name"), z.name) for i, z in enumerate(self.zones)])
        _unique([(("lines", i, "name"), li.name) for i, li in enumerate(self.lines)])
        errors = self.analytics.reference_errors(
            [z.name for z in self.zones], [li.name for li in self.lines]
        )
        if errors:
            raise _LocatedError(("analytics", "behaviours"), "; ".join(errors))
        return self


class ColumnMap(_Strict):
    """Which columns of a file feed hold what."""

    text: str = Field(default="text", description="Column holding the message text.")
    time: str | None = Field(default=None, description="Column holding the time.")
    id: str | None = Field(default=None, description="Column holding a message id.")
    location: str | None = Field(default=None, description="Column holding a place name.")
    area: str | None = Field(
        default=None,
        description="Column holding the area (district, township) that opinion and surges"
        " group by; default: the feed's `area`.",
    )


class TextFeedConfig(_Strict):
    """A source of text messages: posted over HTTP, or read from a file or folder."""

    id: Id = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Feed id, used as event source.")
    type: Literal["http", "file", "folder"] = Field(description="How messages arrive.")
    path: str | None = Field(default=None, description="File or folder for file/folder feeds.")
    format: Literal["csv", "tsv", "jsonl", "zip"] = Field(default="csv", description="File format.")
    columns: ColumnMap = Field(default_factory=ColumnMap, description="Column mapping.")
    lang: Literal["auto", "en", "zh"] = Field(default="auto", description="Language, or detect.")
    area: str | None = Field(default=None, description="Area the feed covers, for surge grouping.")
    channel: str | None = Field(
        default=None,
        max_length=100,
        description="What the messages are (hotline, social, news...); default: the feed type.",
    )
    encoding: str = Field(default="utf-8", description="Text encoding of file/folder feed files.")
    models: list[str] = Field(
        default_factory=list,
        description="Model directories from `citysentinel train text`, or shipped defaults as"
        " `builtin:<name>` (relevance, crisis-type, info-type, urgency, polarity-zh, emotion-zh),"
        " applied to every message; the first one's top label is the event's category."
        " Empty: events carry no labels.",
    )
    poll_s: float = Field(
        default=2.0, gt=0, description="How often a folder feed looks for new files, seconds."
    )

    @field_validator("models")
    @classmethod
    def _known_builtins(cls, value: list[str]) -> list[str]:
        from citysentinel.text.defaults import UnknownBuiltinModel, is_builtin, resolve_model

        for spec in value:
            if is_builtin(spec):
                try:
                    resolve_model(spec)
                except UnknownBuiltinModel as exc:
                    raise ValueError(str(exc)) from exc
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown text encoding {value!r} (e.g. utf-8, gb18030)") from exc
        return value

    @model_validator(mode="after")
    def _path_for_files(self) -> TextFeedConfig:
        if self.type != "http" and not self.path:
            raise _LocatedError(("path",), f"a {self.type} feed needs a path")
        return self


class TextSurgeConfig(_Strict):
    """Surge detection on text feeds: message counts per category and area against a baseline."""

    enabled: bool = Field(default=True, description="Emit text.surge events (needs text feeds).")
    bin_s: float = Field(default=3600, ge=60, description="Counting bin, seconds.")
    alpha: float = Field(
        default=1e-3,
        gt=0,
        lt=1,
        description="Tail probability of a bin's count that starts a surge.",
    )
    end_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="A surge ends at the first bin at least this probable.",
    )
    min_count: int = Field(default=5, ge=1, description="Fewest messages in a bin that starts one.")
    min_ratio: float = Field(
        default=1.5,
        ge=1,
        description="A starting bin holds at least this times the expected count.",
    )
    cooldown_s: float = Field(
        default=10800,
        ge=0,
        description="Seconds after a surge ends before the same series restarts.",
    )
    warmup_bins: int = Field(default=48, ge=0, description="Bins a series learns before it alarms.")
    prior_bins: float = Field(
        default=4, gt=0, description="Shrinkage: pseudo-bins of the coarser baseline in each slot."
    )
    totals: bool = Field(
        default=True, description="Also count all messages of an area as category `*`."
    )
    history_days: float = Field(
        default=28,
        ge=0,
        description="Stored text.report events replayed at start to warm baselines.",
    )
    tick_s: float = Field(
        default=60, gt=0, description="How often bins are closed by the clock, seconds."
    )


class SensorConfig(_Strict):
    """A road sensor whose readings arrive as a series."""

    id: Id = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Sensor id, used as event source.")
    kind: Literal["speed", "flow", "occupancy", "travel_time"] = Field(description="What it reads.")
    location: Point | None = Field(default=None, description="Where it is, on the map.")
    road: str | None = Field(default=None, description="Road name or OSM way id.")
    unit: str = Field(default="mph", description="Unit of the readings.")
    name: str | None = Field(default=None, description="Human-readable name.")
    free_flow: float | None = Field(
        default=None,
        gt=0,
        description="Free-flow speed (or travel time) for free/slow/congested; default: the"
        " 85th percentile speed (15th travel time) of the stored readings.",
    )


class RetentionConfig(_Strict):
    """How long stored data is kept."""

    events_days: float = Field(
        default=30, gt=0, description="Delete events older than this (not those of open incidents)."
    )
    evidence_days: float = Field(default=30, gt=0, description="Delete evidence files older.")
    resolved_incidents_days: float = Field(
        default=365, gt=0, description="Delete incidents resolved longer ago than this."
    )
    interval_s: float = Field(default=3600, gt=0, description="How often retention runs.")


class StorageConfig(_Strict):
    """Where events, incidents and evidence are stored."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; CITYSENTINEL_DATABASE_URL wins. Default: SQLite in data dir.",
    )
    evidence_dir: str = Field(
        default="evidence", description="Evidence files, relative to the data dir."
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig, description="Retention.")


class ApiConfig(_Strict):
    """The HTTP API and dashboard server."""

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port; 0 picks a free one.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger request bodies get 413."
    )
    max_batch_events: int = Field(default=1000, ge=1, description="Events per batch request.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed browser origins.")


class EngineConfig(_Strict):
    """Tuning of the incident engine and the event bus."""

    tick_s: float = Field(default=5.0, gt=0, description="How often time-based rules are checked.")
    bus_queue_size: int = Field(default=10_000, ge=10, description="Bound of each bus queue.")
    batch_size: int = Field(default=500, ge=1, description="Events the engine folds per commit.")


class ClosureConfig(_Strict):
    """What open incidents do to the roads around them when routing."""

    radius_m: float = Field(
        default=50.0, ge=0, le=5000, description="Roads passing this close to an incident."
    )
    mode: Literal["closed", "penalty"] = Field(
        default="closed",
        description="closed: routes avoid those roads; penalty: their travel time is multiplied.",
    )
    penalty_factor: float = Field(
        default=5.0, gt=1, description="Travel time multiplier in penalty mode."
    )
    categories: list[str] = Field(
        default_factory=list,
        description="Only incidents of these categories (e.g. traffic); empty: every category.",
    )
    refresh_s: float = Field(
        default=1.0, ge=0, description="Open incidents are re-read at most this often, seconds."
    )


class RoadsConfig(_Strict):
    """The road network for routes, dispatch and the map (needs the traffic extra)."""

    osm: str | None = Field(
        default=None,
        description="OpenStreetMap XML file (.osm or .osm.bz2), relative to the working"
        " directory; without it /api/v1/routes answers 503.",
    )
    simplify: bool = Field(
        default=False,
        description="Merge nodes between intersections: faster on big networks, but points"
        " snap to intersections only.",
    )
    max_snap_m: float = Field(
        default=500.0, gt=0, description="Points further than this from a road are refused."
    )
    closures: ClosureConfig = Field(
        default_factory=ClosureConfig, description="Roads closed or penalised around incidents."
    )


class UnitConfig(_Strict):
    """A response unit that dispatch ranks by travel time to an incident."""

    id: Id = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Unit id (call sign).")
    kind: str = Field(min_length=1, max_length=50, description="ambulance, fire, police, tow, ...")
    name: str = Field(default="", description="Human-readable name.")
    location: Point = Field(description="Base position; live positions may replace it.")


class SinksConfig(_Strict):
    """Where incident changes are sent."""

    mqtt: MqttSinkConfig | None = Field(default=None, description="MQTT broker, if any.")
    webhooks: list[WebhookConfig] = Field(default_factory=list, description="Webhooks.")
    cap: CapConfig = Field(default_factory=CapConfig, description="CAP 1.2 alert settings.")


class SiteConfig(_Strict):
    """The root of the site config file."""

    site: SiteInfo = Field(description="The site.")
    zones: list[GeoZone] = Field(default_factory=list, description="Named map areas.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Camera streams.")
    text_feeds: list[TextFeedConfig] = Field(default_factory=list, description="Text sources.")
    text_surges: TextSurgeConfig = Field(
        default_factory=TextSurgeConfig, description="Surges in text feed message counts."
    )
    sensors: list[SensorConfig] = Field(default_factory=list, description="Road sensors.")
    traffic: TrafficConfig = Field(
        default_factory=TrafficConfig, description="Live sensor readings, forecasts, detection."
    )
    external_sources: list[str] = Field(
        default_factory=list, description="Ids of other systems that post events to the API."
    )
    rules: list[RuleConfig] = Field(default_factory=list, description="Incident rules.")
    sinks: SinksConfig = Field(default_factory=SinksConfig, description="Where incidents go.")
    roads: RoadsConfig = Field(
        default_factory=RoadsConfig, description="Road network for routing and dispatch."
    )
    units: list[UnitConfig] = Field(default_factory=list, description="Response units.")
    intersections: list[IntersectionConfig] = Field(
        default_factory=list, description="Signalised intersections timed by Webster's method."
    )
    parking_lots: list[ParkingLotConfig] = Field(
        default_factory=list, description="Parking lots: capacity and how they are counted."
    )
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Persistence.")
    api: ApiConfig = Field(default_factory=ApiConfig, description="HTTP API.")
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Incident engine.")

    @model_validator(mode="after")
    def _references(self) -> SiteConfig:
        _unique([(("zones", i, "name"), z.name) for i, z in enumerate(self.zones)])
        _unique([(("rules", i, "id"), r.id) for i, r in enumerate(self.rules)])
        _unique(self._source_locs())
        _unique([(("sinks", "webhooks", i, "id"), w.id) for i, w in enumerate(self.sinks.webhooks)])
        _unique([(("units", i, "id"), u.id) for i, u in enumerate(self.units)])
        zones = self.zone_names()
        sources = set(self.source_ids())
        for i, rule in enumerate(self.rules):
            for j, z in enumerate(rule.match.zones):
                if z not in zones:
                    raise _LocatedError(
                        ("rules", i, "match", "zones", j),
                        f"rule {rule.id!r} names unknown zone {z!r}; declare it under zones"
                        " or in a camera's zones",
                    )
            for j, src in enumerate(rule.match.sources):
                if not any(c in src for c in "*?[") and src not in sources:
                    raise _LocatedError(
                        ("rules", i, "match", "sources", j),
                        f"rule {rule.id!r} names unknown source {src!r}; declare it as a"
                        " camera, text feed, sensor or in external_sources",
                    )
        return self

    @model_validator(mode="after")
    def _signal_and_parking_refs(self) -> SiteConfig:
        _unique([(("intersections", i, "id"), x.id) for i, x in enumerate(self.intersections)])
        _unique([(("parking_lots", i, "id"), p.id) for i, p in enumerate(self.parking_lots)])
        kinds = {s.id: s.kind for s in self.sensors}
        for i, x in enumerate(self.intersections):
            for j, phase in enumerate(x.phases):
                for k, a in enumerate(phase.approaches):
                    if a.sensor is not None and kinds.get(a.sensor) != "flow":
                        raise _LocatedError(
                            ("intersections", i, "phases", j, "approaches", k, "sensor"),
                            f"approach {a.id!r} names {a.sensor!r}: not a flow sensor"
                            " under sensors",
                        )
        cameras = {c.id: {li.name for li in c.lines} for c in self.cameras}
        camera_zones = {c.id: {z.name for z in c.zones} for c in self.cameras}
        for i, lot in enumerate(self.parking_lots):
            counts = lot.counts
            if isinstance(counts, SensorCounts) and counts.sensor not in kinds:
                raise _LocatedError(
                    ("parking_lots", i, "counts", "sensor"),
                    f"lot {lot.id!r} names unknown sensor {counts.sensor!r}",
                )
            if isinstance(counts, ZoneCounts) and counts.zone not in camera_zones.get(
                counts.camera, set()
            ):
                raise _LocatedError(
                    ("parking_lots", i, "counts", "zone"),
                    f"lot {lot.id!r}: camera {counts.camera!r} has no zone {counts.zone!r}",
                )
            if isinstance(counts, LineCounts):
                if counts.camera not in cameras:
                    raise _LocatedError(
                        ("parking_lots", i, "counts", "camera"),
                        f"lot {lot.id!r} names unknown camera {counts.camera!r}",
                    )
                for j, line in enumerate(counts.lines):
                    if line not in cameras[counts.camera]:
                        raise _LocatedError(
                            ("parking_lots", i, "counts", "lines", j),
                            f"camera {counts.camera!r} has no line {line!r}",
                        )
        return self

    def source_ids(self) -> list[str]:
        """Ids of every camera, text feed, sensor and external source, in file order."""
        return [source for _, source in self._source_locs()]

    def zone_names(self) -> set[str]:
        """Names of the map zones and of every camera's zones."""
        return {z.name for z in self.zones} | {z.name for c in self.cameras for z in c.zones}

    def _source_locs(self) -> list[tuple[tuple[str | int, ...], str]]:
        return [
            *((("cameras", i, "id"), c.id) for i, c in enumerate(self.cameras)),
            *((("text_feeds", i, "id"), f.id) for i, f in enumerate(self.text_feeds)),
            *((("sensors", i, "id"), s.id) for i, s in enumerate(self.sensors)),
            *((("external_sources", i), e) for i, e in enumerate(self.external_sources)),
        ]


def _unique(items: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise at the second use of a name; sources share one namespace across sections."""
    first: dict[str, tuple[str | int, ...]] = {}
    for loc, name in items:
        if name in first:
            raise _LocatedError(loc, f"{name!r} is used twice", first=first[name])
        first[name] = loc


class Settings(BaseSettings):
    """Process settings and secrets from the environment (prefix CITYSENTINEL_)."""

    model_config = SettingsConfigDict(env_prefix="CITYSENTINEL_", extra="ignore")

    database_url: str | None = Field(default=None, description="Overrides storage.database_url.")
    data_dir: Path = Field(default=Path("var"), description="SQLite file and evidence live here.")
    log_level: str = Field(default="INFO", description="Python logging level.")

    def resolve_database_url(self, site: SiteConfig | None) -> str:
        """The database URL: CITYSENTINEL_DATABASE_URL, else storage.database_url, else SQLite.

        Example:
            >>> Settings(database_url=None, data_dir=Path("/srv/cs")).resolve_database_url(None)
            'sqlite:////srv/cs/citysentinel.sqlite'
        """
        if self.database_url:
            return self.database_url
        if site is not None and site.storage.database_url:
            return site.storage.database_url
        return f"sqlite:///{(self.data_dir / 'citysentinel.sqlite').resolve()}"


class ConfigError(Exception):
    """An invalid site config; `messages` name the key path and YAML line of each problem."""

    def __init__(self, path: str, messages: list[str]) -> None:
        self.path = path
        self.messages = messages
        super().__init__(f"{path}: " + "; ".join(messages))


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> SiteConfig:
    """Read, interpolate ``${ENV_VAR}`` / ``${ENV_VAR:-default}`` and validate a site config.

    Example:
        >>> site = load_config("examples/site.yaml", env={})
        >>> site.site.name
        'Riverside district'
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(str(path), ["the file does not exist"]) from exc
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start]
        msg = f"the file is not UTF-8 text: byte 0x{bad:02x} cannot be decoded (line {line})"
        raise ConfigError(str(path), [msg]) from exc
    return parse_config(text, str(path), os.environ if env is None else env)


def parse_config(
    text: str, name: str = "<config>", env: Mapping[str, str] | None = None
) -> SiteConfig:
    """Validate site config YAML text; `name` prefixes errors, `env` feeds ``${VAR}``.

    Example:
        >>> parse_config("site: {name: Riverside}", env={}).site.timezone
        'UTC'
    """
    root = _compose(text, name)
    errors: list[str] = []
    data = _Builder(os.environ if env is None else env, errors).build(root, ())
    if errors:
        raise ConfigError(name, errors)
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(name, [_describe(err, root) for err in exc.errors()]) from exc


def _compose(text: str, name: str) -> yaml.MappingNode:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(name, [f"not valid YAML: {problem}{where}"]) from exc
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        msg = f"not valid YAML: {exc.reason} character {exc.character!r} (line {line})"
        raise ConfigError(name, [msg]) from exc
    if root is None:
        raise ConfigError(name, ["the file is empty"])
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            name,
            [
                "the file must be a mapping of sections (site:, cameras:, rules:, ...)"
                f" (line {root.start_mark.line + 1})"
            ],
        )
    return root


class _Builder:
    """Turns composed YAML nodes into plain data, collecting problems with their lines."""

    def __init__(self, env: Mapping[str, str], errors: list[str]) -> None:
        self.env = env
        self.errors = errors
        self._scalars = yaml.SafeLoader("")
        self._open: set[int] = set()  # nodes being built, to catch self-referencing aliases

    def error(self, loc: tuple[Any, ...], node: yaml.Node, message: str) -> None:
        self.errors.append(f"{_path(loc)}: {message} (line {node.start_mark.line + 1})")

    def build(self, node: yaml.Node, loc: tuple[Any, ...], key: yaml.Node | None = None) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, loc)
        if id(node) in self._open:
            # An alias has no position of its own; its key has.
            self.error(loc, key or node, "an alias refers to a collection that contains it")
            return None
        if node.tag not in _PLAIN_TAGS:
            self.error(loc, node, f"unsupported YAML tag {node.tag!r}")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(v, (*loc, i)) for i, v in enumerate(node.value)]
            return self._mapping(node, loc)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.Node, loc: tuple[Any, ...]) -> dict[str, Any]:
        own: dict[str, Any] = {}
        lines: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                # `<<: *base` or `<<: [*a, *b]`; earlier sources and own keys win.
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for source in reversed(sources):
                    built = self.build(source, loc)
                    if isinstance(built, dict):
                        merged.update(built)
                    else:
                        self.error(loc, source, "a merge key (<<) takes mappings only")
                continue
            if not isinstance(key, yaml.ScalarNode):
                self.error(loc, key, "keys must be plain names, not lists or mappings")
                continue
            if key.value in own:
                self.error(
                    (*loc, key.value), key, f"duplicate key (first at line {lines[key.value]})"
                )
                continue
            lines[key.value] = key.start_mark.line + 1
            own[key.value] = self.build(value, (*loc, key.value), key)
        return {**merged, **own}

    def _scalar(self, node: yaml.ScalarNode, loc: tuple[Any, ...]) -> Any:
        if node.tag.endswith((":int", ":float")) and ":" in node.value:
            # YAML 1.1 reads 22:00 as the base-60 integer 1320; a site config means a time.
            return node.value
        try:
            value: Any = self._scalars.construct_object(node)
        except yaml.YAMLError as exc:
            self.error(loc, node, f"cannot read this value: {getattr(exc, 'problem', exc)}")
            return None
        if isinstance(value, str) and "${" in value:
            value = _ENV_REF.sub(lambda m: self._env_value(m, loc, node), value)
        return value

    def _env_value(self, m: re.Match[str], loc: tuple[Any, ...], node: yaml.Node) -> str:
        var, default = m.group(1), m.group(2)
        if var in self.env:
            return str(self.env[var])
        if default is not None:
            return default
        self.error(loc, node, f"environment variable {var} is not set")
        return ""


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _describe(err: Any, root: yaml.Node) -> str:
    """One pydantic error as ``key.path: message (line N)``."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    cause = err.get("ctx", {}).get("error")
    msg = str(cause) if err["type"] == "value_error" and cause is not None else err["msg"]
    if isinstance(cause, _LocatedError):
        if cause.first is not None:
            first = (*loc, *cause.first)
            msg += f" (first at {_path(first)}, line {_locate(root, first)[0]})"
        loc = (*loc, *cause.loc)
    line, found = _locate(root, loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown key (not allowed here; check the spelling)"
    elif kind == "missing" and not found:
        msg = "required key is missing"
    elif kind in ("enum", "literal_error"):
        msg = _suggest(err["input"], err["ctx"]["expected"])
    elif kind in ("model_type", "model_attributes_type", "dict_type", "list_type"):
        what = "a list" if kind == "list_type" else "a mapping of keys"
        empty = " (write {} or [] when empty, or leave the key out)"
        msg = f"expected {what}" + (empty if err["input"] is None else "")
    return f"{_path(loc)}: {msg} (line {line})"


def _suggest(value: Any, expected: str) -> str:
    options = re.findall(r"'([^']*)'", expected)
    close = difflib.get_close_matches(str(value), options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{value!r} is not allowed; {hint}expected {expected}"


def _locate(root: yaml.Node, loc: tuple[Any, ...]) -> tuple[int, bool]:
    """Line of the key or list item at `loc`, or of the deepest part found; and if all was."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        step = _child(node, part)
        if step is None:
            return line, False
        # A key's line, not its value's: after `key:` a block mapping starts on the next line.
        marker, node = step
        line = marker.start_mark.line + 1
    return line, True


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node whose line names `part`, the value node) below `node`, following merges."""
    if isinstance(node, yaml.MappingNode):
        merges: list[yaml.Node] = []
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                merges.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
            elif isinstance(key, yaml.ScalarNode) and key.value == part:
                return key, value
        for source in merges:
            found = _child(source, part)
            if found is not None:
                return found
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None
