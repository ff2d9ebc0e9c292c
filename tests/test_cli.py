"""The `citysentinel` command line: exit codes and messages users see."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citysentinel.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "site.yaml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYSENTINEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CITYSENTINEL_DATABASE_URL", raising=False)
    return tmp_path


def test_validate_config_accepts_the_example() -> None:
    result = runner.invoke(app, ["validate-config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ok (2 cameras" in result.output


def test_validate_config_names_key_path_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "site:\n  name: x\nrules:\n  - id: r\n    match: {kind: video.fal}\n"
        "    incident: {category: health, sub_category: fallenPatient}\n"
    )
    result = runner.invoke(app, ["validate-config", str(bad)])
    assert result.exit_code == 1
    assert "rules[0].match.kind[0]" in result.output and "line 5" in result.output


def test_validate_config_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate-config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml" in result.output


def test_db_upgrade_and_keys(data_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert (data_dir / "citysentinel.sqlite").exists()
    created = runner.invoke(app, ["keys", "create", "--name", "ops", "--role", "operator"])
    assert created.exit_code == 0, created.output
    key_id, plain = created.output.split()[0], created.output.strip().splitlines()[-1]
    assert plain.startswith("cs_")
    listed = runner.invoke(app, ["keys", "list"]).output
    assert key_id in listed and "operator" in listed and plain not in listed
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 1
    assert runner.invoke(app, ["keys", "create", "--name", "x", "--role", "root"]).exit_code == 1


def test_help_reads_well() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "validate-config", "db", "keys", "bench", "docs"):
        assert command in result.output
