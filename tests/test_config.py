"""Tests for the site config loader: error messages with key paths and lines, env, secrets."""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import pytest

from citysentinel.config import ConfigError, Settings, SiteConfig, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "site.yaml"

RULE = """\
rules:
  - id: r1
    match:
      kind: video.fall
    incident:
      category: health
      sub_category: fallenPatient
"""


def make_yaml(body: str) -> str:
    """A config with a site on lines 1-2, then `body` (dedented) from line 3."""
    return "site:\n  name: Test\n" + textwrap.dedent(body)


def errors_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.yaml", env={} if env is None else env)
    return info.value.messages


BAD = [
    pytest.param(make_yaml("foo: 1\n"), "foo: unknown key", 3, id="unknown-top-key"),
    pytest.param("site:\n  name: x\n  nmae: y\n", "site.nmae: unknown key", 3, id="unknown-nested"),
    pytest.param(
        make_yaml(RULE.replace("kind: video.fall", "kind: video.fall\n      zonez: [a]")),
        "rules[0].match.zonez: unknown key",
        7,
        id="unknown-key-in-match",
    ),
    pytest.param(
        make_yaml("api:\n  port: eighty\n"),
        "api.port: Input should be a valid integer",
        4,
        id="wrong-type",
    ),
    pytest.param(
        make_yaml(RULE.replace("video.fall", "video.intrusoin")),
        "rules[0].match.kind[0]: 'video.intrusoin' is not allowed; did you mean 'video.intrusion'?",
        6,
        id="event-kind-typo",
    ),
    pytest.param(
        make_yaml(
            "sinks:\n  webhooks:\n    - id: w\n      url: http://x\n      min_severity: hihg\n"
        ),
        "did you mean 'high'?",
        7,
        id="severity-typo",
    ),
    pytest.param(
        make_yaml("rules:\n  - id: r1\n    match: {kind: video.fall}\n"),
        "rules[0].incident: required key is missing",
        4,
        id="missing-key-list-item",
    ),
    pytest.param(
        make_yaml(RULE.replace("kind: video.fall", "sources: [x]")),
        "rules[0].match.kind: required key is missing",
        5,
        id="missing-key-nested-mapping",
    ),
    pytest.param("cameras: []\n", "site: required key is missing", 1, id="missing-site"),
    pytest.param(
        make_yaml("cameras:\n  - id: cam\n    url: [a, b\n"), "not valid YAML", 6, id="yaml-syntax"
    ),
    pytest.param("site:\n\tname: x\n", "not valid YAML", 2, id="yaml-tab"),
    pytest.param("site:\n  name: x\x07\n", "not valid YAML", 2, id="control-char"),
    pytest.param("- just\n- a list\n", "the file must be a mapping of sections", 1, id="list-root"),
    pytest.param(
        make_yaml("sinks:\n"), "sinks: expected a mapping of keys (write {}", 3, id="null"
    ),
    pytest.param(
        make_yaml(RULE.replace("kind: video.fall", "kind: video.fall\n      zones: [nowhere]")),
        "rules[0].match.zones[0]: rule 'r1' names unknown zone 'nowhere'",
        7,
        id="unknown-zone",
    ),
    pytest.param(
        make_yaml(RULE.replace("kind: video.fall", "kind: video.fall\n      sources: [a, cam-x]")),
        "rules[0].match.sources[0]: rule 'r1' names unknown source 'a'",
        7,
        id="unknown-source",
    ),
    pytest.param(
        make_yaml(RULE + RULE.removeprefix("rules:\n")),
        "rules[1].id: 'r1' is used twice (first at rules[0].id, line 4)",
        10,
        id="duplicate-rule-id",
    ),
    pytest.param(
        make_yaml("cameras:\n  - {id: a, url: x.mp4}\nsensors:\n  - {id: a, kind: speed}\n"),
        "sensors[0].id: 'a' is used twice (first at cameras[0].id, line 4)",
        6,
        id="duplicate-source-id",
    ),
    pytest.param(
        make_yaml(
            "cameras:\n  - id: a\n    url: x\n    zones:\n"
            "      - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n"
            "      - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n"
        ),
        "cameras[0].zones[1].name: 'z' is used twice (first at cameras[0].zones[0].name, line 7)",
        8,
        id="duplicate-camera-zone",
    ),
    pytest.param(
        "site:\n  name: x\n  name: y\n",
        "site.name: duplicate key (first at line 2)",
        3,
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "site:\n  name: x\n  timezone: Europe/Lodnon\n",
        "site.timezone: unknown time zone 'Europe/Lodnon'",
        3,
        id="unknown-time-zone",
    ),
    pytest.param(
        make_yaml(RULE.replace("fallenPatient", "fallenPatiant")),
        "rules[0].incident: sub_category 'fallenPatiant' is not in category health",
        7,
        id="unknown-sub-category",
    ),
    pytest.param(
        make_yaml("sinks:\n  webhooks:\n    - id: w\n      url: http://x\n      secret: ${NOPE}\n"),
        "sinks.webhooks[0].secret: environment variable NOPE is not set",
        7,
        id="env-missing",
    ),
    pytest.param(
        make_yaml("text_feeds:\n  - id: f\n    type: file\n"),
        "text_feeds[0].path: a file feed needs a path",
        4,
        id="model-validator-list-item",
    ),
    pytest.param(
        make_yaml(RULE + "    escalate:\n      - severity: high\n"),
        "rules[0].escalate[0]: give exactly one of after_events or after_s",
        11,
        id="model-validator-nested",
    ),
    pytest.param(
        make_yaml(
            "cameras:\n  - id: c\n    url: x\n    lines:\n"
            "      - {name: l, points: [[0, 0], [1.5, 1]]}\n"
        ),
        "cameras[0].lines[0].points: points must be normalised to 0-1",
        7,
        id="line-not-normalised",
    ),
    pytest.param(
        make_yaml("zones:\n  - name: z\n    polygon: [[-0.1, 51.5], [0.1, 51.5], [0, 95]]\n"),
        "zones[0].polygon: points are [lon, lat]",
        5,
        id="geo-zone-lat-out-of-range",
    ),
    pytest.param(
        "base: &b\n  after: *b\nsite:\n  name: x\n",
        "an alias refers to a collection that contains it",
        2,
        id="recursive-alias",
    ),
    pytest.param(
        make_yaml("api: !!binary aGk=\n"), "api: expected a mapping of keys", 3, id="odd-tag"
    ),
]


@pytest.mark.parametrize(("text", "fragment", "line"), BAD)
def test_bad_config_names_key_and_line(text: str, fragment: str, line: int) -> None:
    messages = errors_of(text)
    assert any(fragment in m and m.endswith(f"(line {line})") for m in messages), messages


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    assert errors_of(text) == ["the file is empty"]


def test_every_problem_is_reported_at_once() -> None:
    messages = errors_of(make_yaml("api:\n  port: x\nengine:\n  tick_s: -1\nfoo: 1\n"))
    assert [m.split(":")[0] for m in messages] == ["api.port", "engine.tick_s", "foo"]


def test_error_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^site\.yaml: foo: unknown key"):
        parse_config(make_yaml("foo: 1\n"), "site.yaml", env={})


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${NAME}", {"NAME": "Riverside"}, "Riverside"),
        ("${NAME:-Default}", {}, "Default"),
        ("${NAME:-Default}", {"NAME": "Set"}, "Set"),
        ("${NAME:-}", {}, ""),
        ("${A}-${B:-b}", {"A": "a"}, "a-b"),
        ("no $ reference {here}", {}, "no $ reference {here}"),
    ],
)
def test_env_interpolation(value: str, env: dict[str, str], expected: str) -> None:
    site = parse_config(f"site:\n  name: x\n  timezone: UTC\napi:\n  host: '{value}'\n", env=env)
    assert site.api.host == expected


def test_env_value_is_validated_as_its_field_type() -> None:
    site = parse_config(make_yaml("api:\n  port: ${PORT:-8081}\n"), env={"PORT": "9090"})
    assert site.api.port == 9090


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_TEST_SITE_NAME", "From env")
    assert parse_config("site:\n  name: ${CS_TEST_SITE_NAME}\n").site.name == "From env"


SECRETS = make_yaml(
    "sinks:\n"
    "  mqtt:\n    password: ${MQTT_PASSWORD}\n"
    "  webhooks:\n    - id: w\n      url: http://127.0.0.1:9000/\n      secret: s3cr3t-value\n"
)


def test_secrets_never_appear_in_repr_or_str() -> None:
    site = parse_config(SECRETS, env={"MQTT_PASSWORD": "hunter2-pass"})
    assert site.sinks.mqtt is not None and site.sinks.mqtt.password is not None
    assert site.sinks.mqtt.password.get_secret_value() == "hunter2-pass"
    assert site.sinks.webhooks[0].secret is not None
    assert site.sinks.webhooks[0].secret.get_secret_value() == "s3cr3t-value"
    for text in (repr(site), str(site), site.model_dump_json(), str(site.model_dump())):
        assert "hunter2-pass" not in text
        assert "s3cr3t-value" not in text


def test_secrets_never_appear_in_errors() -> None:
    text = SECRETS.replace("http://127.0.0.1:9000/", "not a url")
    messages = errors_of(text, env={"MQTT_PASSWORD": "hunter2-pass"})
    assert messages and not any("s3cr3t" in m or "hunter2" in m for m in messages)


@pytest.mark.parametrize(
    ("start", "end"),
    [("22:00", time(22, 0)), ("07:30", time(7, 30)), ("'23:59'", time(23, 59))],
)
def test_times_are_times_not_base_60_integers(start: str, end: time) -> None:
    rule = RULE.replace(
        "kind: video.fall",
        f"kind: video.fall\n      schedule:\n        - {{start: {start}, end: 23:59}}",
    )
    site = parse_config(make_yaml(rule), env={})
    assert site.rules[0].match.schedule[0].start == end


def test_anchors_and_merge_keys_share_settings() -> None:
    second = (
        "  - id: r2\n    match:\n      <<: *fall\n      min_confidence: 0.7\n"
        "    incident: *health\n"
    )
    rules = RULE.replace("match:", "match: &fall").replace("incident:", "incident: &health")
    site = parse_config(make_yaml(rules + second), env={})
    assert [str(k) for k in site.rules[1].match.kind] == ["video.fall"]
    assert site.rules[1].match.min_confidence == 0.7  # the mapping's own key wins
    assert site.rules[1].incident.sub_category == "fallenPatient"


def test_unknown_key_in_merged_block_names_its_line() -> None:
    text = make_yaml(
        "rules:\n  - id: r1\n    match:\n      <<: {kind: video.fall, zonez: [a]}\n"
        "    incident: {category: health, sub_category: fallenPatient}\n"
    )
    assert errors_of(text) == [
        "rules[0].match.zonez: unknown key (not allowed here; check the spelling) (line 6)"
    ]


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(make_yaml("api: {port: 8181}\n"), encoding="utf-8")
    assert load_config(path, env={}).api.port == 8181


def test_load_config_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes("\ufeffsite:\n  name: Riverside\n".encode())
    assert load_config(path, env={}).site.name == "Riverside"


def test_load_config_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes("site:\n  name: Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.messages == [
        "the file is not UTF-8 text: byte 0xe9 cannot be decoded (line 2)"
    ]
    assert info.value.path == str(path)


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the file does not exist"):
        load_config(tmp_path / "nope.yaml", env={})


def test_load_config_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path, env={})


def test_example_site_is_valid() -> None:
    site = load_config(EXAMPLE, env={})
    assert site.site.name == "Riverside district"
    assert [c.id for c in site.cameras] == ["cam-walkway", "cam-depot-gate"]
    assert site.cameras[0].url == "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
    assert {f.type for f in site.text_feeds} == {"http", "file"}
    assert len(site.sensors) == 4
    assert set(site.external_sources) == {"hotline", "manual"}
    assert len(site.rules) >= 8
    assert site.sinks.mqtt is not None and site.sinks.mqtt.port == 1883
    secret = site.sinks.webhooks[0].secret
    assert secret is not None and secret.get_secret_value() == "change-me"
    assert (site.api.host, site.api.port) == ("127.0.0.1", 8080)


def test_example_site_reads_its_environment() -> None:
    env = {"CITYSENTINEL_WEBHOOK_SECRET": "prod-key", "CITYSENTINEL_DEMO_VIDEO": "/v/a.avi"}
    site = load_config(EXAMPLE, env=env)
    secret = site.sinks.webhooks[0].secret
    assert secret is not None and secret.get_secret_value() == "prod-key"
    assert site.cameras[0].url == "/v/a.avi"


def _site(database_url: str | None) -> SiteConfig:
    return SiteConfig.model_validate(
        {"site": {"name": "x"}, "storage": {"database_url": database_url}}
    )


@pytest.mark.parametrize(
    ("env_url", "site_url", "expected"),
    [
        ("postgresql://env/db", "postgresql://site/db", "postgresql://env/db"),
        ("postgresql://env/db", None, "postgresql://env/db"),
        (None, "postgresql://site/db", "postgresql://site/db"),
        (None, None, "sqlite"),
        ("", "postgresql://site/db", "postgresql://site/db"),
    ],
)
def test_resolve_database_url_precedence(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env_url: str | None,
    site_url: str | None,
    expected: str,
) -> None:
    monkeypatch.setenv("CITYSENTINEL_DATA_DIR", str(tmp_path))
    if env_url is None:
        monkeypatch.delenv("CITYSENTINEL_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("CITYSENTINEL_DATABASE_URL", env_url)
    url = Settings().resolve_database_url(_site(site_url))
    if expected == "sqlite":
        expected = f"sqlite:///{tmp_path.resolve() / 'citysentinel.sqlite'}"
    assert url == expected


def test_resolve_database_url_without_a_site(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CITYSENTINEL_DATABASE_URL", raising=False)
    monkeypatch.setenv("CITYSENTINEL_DATA_DIR", str(tmp_path / "data"))
    expected = f"sqlite:///{tmp_path.resolve() / 'data' / 'citysentinel.sqlite'}"
    assert Settings().resolve_database_url(None) == expected
