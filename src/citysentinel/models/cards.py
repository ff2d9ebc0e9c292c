"""Model cards (JSON and Markdown) and the checks and measurements that fill them."""

from __future__ import annotations

import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from citysentinel.models.fetch import InstallError
from citysentinel.models.manifest import Manifest, ModelSpec, TensorSpec
from citysentinel.models.runtime import make_session, onnxruntime_version

LATENCY_RUNS = 20


class SignatureMismatch(InstallError):
    """A produced ONNX file does not have the inputs and outputs the manifest expects."""


def _dims(shape: list[int | str | None]) -> list[int | None]:
    return [d if isinstance(d, int) else None for d in shape]


def check_signature(path: Path, spec: ModelSpec) -> None:
    """Load `path` with onnxruntime; its input/output names and shapes must match `spec`.

    This is how an ONNX file produced by tf2onnx is verified: the converter is not
    byte-deterministic, so its output cannot be pinned by a checked-in hash.
    """
    try:
        session = make_session(path)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise SignatureMismatch(f"{path} does not load in onnxruntime: {exc}") from exc
    for kind, expected, actual in (
        ("input", spec.inputs, session.get_inputs()),
        ("output", spec.outputs, session.get_outputs()),
    ):
        got = {a.name: _dims(list(a.shape)) for a in actual}
        want = {t.name: _dims(t.shape) for t in expected}
        # A named (string) dimension in the manifest must be free in the file, not fixed.
        named = {t.name: [isinstance(d, str) for d in t.shape] for t in expected}
        if set(got) != set(want):
            raise SignatureMismatch(
                f"{path}: {kind} names {sorted(got)} differ from the manifest's {sorted(want)}"
            )
        for name, shape in want.items():
            have = got[name]
            if len(have) != len(shape) or any(
                w is not None and h is not None and w != h for w, h in zip(shape, have, strict=True)
            ):
                raise SignatureMismatch(f"{path}: {kind} {name} has shape {have}, expected {shape}")
            if any(free and h is not None for free, h in zip(named[name], have, strict=True)):
                raise SignatureMismatch(
                    f"{path}: {kind} {name} has fixed shape {have} where the manifest names "
                    "free dimensions"
                )


def _example_input(t: TensorSpec) -> np.ndarray[Any, Any]:
    shape = t.example_shape or [d if isinstance(d, int) else 1 for d in t.shape]
    rng = np.random.default_rng(0)
    if t.dtype.startswith("int"):
        return rng.integers(0, 256, size=shape).astype(t.dtype)
    return rng.uniform(0, 255, size=shape).astype(t.dtype)


def measure_latency(
    path: Path, spec: ModelSpec, threads: int = 1, runs: int = LATENCY_RUNS
) -> float:
    """Median milliseconds of `runs` single inferences on a random input (after 2 warm-ups)."""
    session = make_session(path, threads=threads)
    feed = {t.name: _example_input(t) for t in spec.inputs}
    for _ in range(2):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def build_card(
    spec: ModelSpec,
    manifest: Manifest,
    *,
    onnx_sha256: str,
    verified_by: str,
    latency_ms: float,
    threads: int = 1,
    onnx_version: str | None = None,
) -> dict[str, Any]:
    """The card's content as a JSON-able dict (`onnx_version`: of a wheel-dynamic dims step)."""
    source = manifest.sources[spec.source]
    return {
        "name": spec.name,
        "task": spec.task,
        "source": {
            "registry": source.registry,
            "package": source.package,
            "version": source.version,
            "package_licence": source.licence,
            "archive": source.file,
            "archive_sha256": source.sha256,
            "files": spec.files,
        },
        "licence": spec.licence,
        "upstream": spec.upstream,
        "conversion": _conversion(spec, manifest, onnx_version),
        "onnx": {"file": spec.onnx_file, "sha256": onnx_sha256, "verified_by": verified_by},
        "input_format": spec.input_format,
        "output_format": spec.output_format,
        "inputs": [t.model_dump() for t in spec.inputs],
        "outputs": [t.model_dump() for t in spec.outputs],
        "latency": {
            "median_ms": latency_ms,
            "runs": LATENCY_RUNS,
            "intra_op_threads": threads,
            "onnxruntime": onnxruntime_version(),
            "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        },
        "installed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _conversion(spec: ModelSpec, manifest: Manifest, onnx_version: str | None) -> dict[str, Any]:
    if spec.recipe == "tfjs":
        return {
            "tool": "tf2onnx --tfjs",
            "packages": manifest.converter.packages,
            "opset": manifest.converter.opset,
            "patched_model_json": spec.patch_tfjs,
        }
    if spec.recipe == "wheel-dynamic":
        return {
            "tool": "onnx.tools.update_model_dims in the conversion venv; weights listed as "
            "graph inputs and unused weights removed; nodes and weights otherwise unchanged",
            "packages": manifest.converter.packages,
            "onnx": onnx_version or "unknown",
            "dynamic_dims": spec.dynamic_dims,
        }
    return {"tool": "copied unchanged from the wheel"}


def render_markdown(card: dict[str, Any]) -> str:
    """A human-readable version of a card."""
    src = card["source"]
    lines = [
        f"# {card['name']}",
        "",
        f"- Task: {card['task']}",
        f"- Source: {src['registry']} package `{src['package']}=={src['version']}` "
        f"({src['package_licence']}), archive `{src['archive']}` sha256 `{src['archive_sha256']}`",
        f"- Weights licence: {card['licence']}",
        f"- Upstream: {card['upstream']}",
        f"- Conversion: {json.dumps(card['conversion'])}",
        f"- ONNX: `{card['onnx']['file']}` sha256 `{card['onnx']['sha256']}` "
        f"(verified by {card['onnx']['verified_by']})",
        f"- Input: {card['input_format']}",
        f"- Output: {card['output_format']}",
        f"- Latency: median {card['latency']['median_ms']} ms over {card['latency']['runs']} runs, "
        f"{card['latency']['intra_op_threads']} intra-op thread(s), onnxruntime "
        f"{card['latency']['onnxruntime']}, {card['latency']['machine']}",
        f"- Installed: {card['installed_at']}",
        "",
        "## Source files",
        "",
        *(f"- `{member}`: `{digest}`" for member, digest in src["files"].items()),
        "",
    ]
    return "\n".join(lines)


def write_card(directory: Path, card: dict[str, Any]) -> None:
    """Write card.json and card.md into the model's directory."""
    (directory / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (directory / "card.md").write_text(render_markdown(card), encoding="utf-8")
