"""Where installed models live, how to find one, and whether it is intact."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from citysentinel.models.manifest import Manifest, load_manifest, sha256_file

ENV_MODEL_DIR = "CITYSENTINEL_MODEL_DIR"


class ModelNotInstalled(FileNotFoundError):
    """A model file the caller needs is absent from the model directory."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(
            f"model {name!r} is not installed (looked for {path}). Run "
            f"`citysentinel models install --only {name}` (or without --only for all models); "
            f"set {ENV_MODEL_DIR} if the models live elsewhere."
        )
        self.name = name
        self.path = path


def model_dir() -> Path:
    """The model directory: `$CITYSENTINEL_MODEL_DIR`, else `~/.cache/citysentinel/models`."""
    env = os.environ.get(ENV_MODEL_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "citysentinel" / "models"


def model_path(name: str, *, root: Path | None = None, manifest: Manifest | None = None) -> Path:
    """Path of the installed ONNX file of model `name`.

    Raises `ModelNotInstalled` (telling the user to run `citysentinel models install`)
    when the file is absent, and `KeyError` for a name the manifest does not know.

    Example:
        >>> model_path("nanodet")  # doctest: +SKIP
        PosixPath('/home/me/.cache/citysentinel/models/nanodet/nanodet.onnx')
    """
    spec = (manifest or load_manifest()).model(name)
    path = (root or model_dir()) / name / spec.onnx_file
    if not path.is_file():
        raise ModelNotInstalled(name, path)
    return path


def card_path(name: str, root: Path | None = None) -> Path:
    """The JSON model card of `name` (the Markdown card sits next to it as card.md)."""
    return (root or model_dir()) / name / "card.json"


class Status(StrEnum):
    OK = "ok"
    MISSING = "missing"
    NO_CARD = "no card"
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class InstalledModel:
    """What `citysentinel models list` shows for one model."""

    name: str
    status: Status
    path: Path
    detail: str = ""
    latency_ms: float | None = None
    licence: str = ""


def inspect_model(
    name: str, *, root: Path | None = None, manifest: Manifest | None = None
) -> InstalledModel:
    """Check one installed model: file present, card present, sha256 as recorded.

    The ONNX hash is checked against the manifest when the artifact is
    byte-deterministic, else against the hash the card recorded at install time.
    """
    manifest = manifest or load_manifest()
    spec = manifest.model(name)
    root = root or model_dir()
    path = root / name / spec.onnx_file
    if not path.is_file():
        return InstalledModel(name, Status.MISSING, path, "not installed", licence=spec.licence)
    card_file = card_path(name, root)
    if not card_file.is_file():
        return InstalledModel(
            name, Status.NO_CARD, path, "install did not finish", licence=spec.licence
        )
    card = json.loads(card_file.read_text(encoding="utf-8"))
    expected = spec.onnx_sha256 or str(card.get("onnx", {}).get("sha256", ""))
    actual = sha256_file(path)
    latency = card.get("latency", {}).get("median_ms")
    if actual != expected:
        detail = f"sha256 {actual[:12]}… != recorded {expected[:12]}…; reinstall with --force"
        return InstalledModel(name, Status.CORRUPT, path, detail, latency, spec.licence)
    if spec.recipe == "wheel-dynamic" and actual in spec.files.values():
        # Installed by the older recipe that copied the file with its fixed placeholder dims.
        detail = "the unconverted wheel file (fixed dims); run `citysentinel models install`"
        return InstalledModel(name, Status.CORRUPT, path, detail, latency, spec.licence)
    return InstalledModel(name, Status.OK, path, f"sha256 {actual[:12]}…", latency, spec.licence)


def list_models(
    *, root: Path | None = None, manifest: Manifest | None = None
) -> list[InstalledModel]:
    """The status of every model in the manifest, in manifest order."""
    manifest = manifest or load_manifest()
    return [inspect_model(n, root=root, manifest=manifest) for n in manifest.names()]
