"""`citysentinel traffic import`: wide and long CSV files into the reading store, flags counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citysentinel.cli import app
from citysentinel.storage import db
from citysentinel.storage.readings import SqlReadingStore

runner = CliRunner()
SITE = """
site: {name: Import test}
sensors:
  - {id: a, kind: speed}
  - {id: b, kind: speed}
"""
T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def run(tmp_path: Path, name: str, text: str, *args: str) -> tuple[int, str, str, str]:
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    (tmp_path / name).write_text(text, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cs.sqlite'}"
    result = runner.invoke(
        app,
        [
            "traffic",
            "import",
            str(tmp_path / name),
            "-c",
            str(tmp_path / "site.yaml"),
            "--database-url",
            url,
            "--json",
            *args,
        ],
    )
    return result.exit_code, result.stdout, result.stderr, url


def stored(url: str) -> np.ndarray:
    engine = db.make_engine(url)
    try:
        end = datetime(2026, 11, 24, 0, 20, tzinfo=UTC)
        return SqlReadingStore(engine).window(["a", "b"], T0, end, 300).values
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("name", "text", "args", "values", "flagged", "issues"),
    [
        (  # wide, timed, an unknown column and a bad cell
            "wide.csv",
            "time,a,b,c\n2026-11-24T00:00,50,40,1\n2026-11-24T00:05,x,41,1\n",
            [],
            [[50, 40], [np.nan, 41], [np.nan, np.nan], [np.nan, np.nan]],
            {},
            {"unknown_sensor", "not_a_number"},
        ),
        (  # wide, undated: rows are steps from --start
            "undated.csv",
            "a,b\n50,40\n51,\n52,42\n",
            ["--start", "2026-11-24T00:00:00Z"],
            [[50, 40], [51, np.nan], [52, 42], [np.nan, np.nan]],
            {},
            set(),
        ),
        (  # long: out of order, a duplicate (last kept), negative, unknown sensor
            "long.csv",
            "time,sensor,value\n2026-11-24T00:05,a,45\n2026-11-24T00:00,a,50\n"
            "2026-11-24T00:00,a,49\n2026-11-24T00:00,b,-1\n2026-11-24T00:00,zz,1\n",
            ["--format", "long"],
            [[49, np.nan], [45, np.nan], [np.nan, np.nan], [np.nan, np.nan]],
            {},
            {"out_of_order", "duplicate", "negative", "unknown_sensor"},
        ),
    ],
)
def test_import(
    tmp_path: Path,
    name: str,
    text: str,
    args: list[str],
    values: list[list[float]],
    flagged: dict[str, int],
    issues: set[str],
) -> None:
    code, out, _, url = run(tmp_path, name, text, *args)
    assert code == 0, out
    report = json.loads(out)
    assert report["flagged"] == flagged
    assert set(report["file_issues"]) - {"gap"} == issues
    assert report["stored"] == int(np.isfinite(np.array(values)).sum())
    np.testing.assert_array_equal(stored(url), np.array(values))


def test_reimport_replaces_and_flags_out_of_order(tmp_path: Path) -> None:
    text = "time,a,b\n2026-11-24T00:00,50,40\n2026-11-24T00:05,51,41\n"
    assert run(tmp_path, "w.csv", text)[0] == 0
    code, out, _, url = run(tmp_path, "w.csv", text.replace("50,40", "60,40"))
    assert code == 0
    assert json.loads(out)["flagged"] == {"out_of_order": 2}  # before the stored 00:05
    assert stored(url)[0].tolist() == [60.0, 40.0]


@pytest.mark.parametrize(
    ("name", "text", "args", "message"),
    [
        ("undated.csv", "a,b\n1,2\n", [], "no time column: pass --start"),
        ("empty.csv", "", ["--start", "2026-11-24"], "empty file"),
        ("long.csv", "when,sensor,value\n", ["--format", "long"], "missing column"),
        ("bad.csv", "time,a\nsoon,1\n", [], "unparsable time"),
    ],
)
def test_import_errors_are_clear(
    tmp_path: Path, name: str, text: str, args: list[str], message: str
) -> None:
    code, _, err, _ = run(tmp_path, name, text, *args)
    assert code == 1
    assert message in err
