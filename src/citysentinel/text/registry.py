"""A directory-based registry of trained text models, for hot swapping into running feeds.

`<data_dir>/models/text/<name>/` holds a copy of a model directory written by
`citysentinel train text` (linear head or fine-tuned ONNX) plus
`registry.json` (where it came from, when). Registering validates by loading
first and copies into a temporary folder that is renamed into place, so a
half-copied model is never visible. No database table is involved.

Only registered names (and shipped `builtin:` models) can be swapped in over the
API: model files can be pickles, so the API never loads an arbitrary path.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citysentinel.text.analyzer import TextModelError, load_models

if TYPE_CHECKING:
    from citysentinel.text.classify import TextClassifier

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
INFO_FILE = "registry.json"
BUILTIN = "builtin:"


def text_model_root(data_dir: Path) -> Path:
    """Where a site's registered text models live: `<data_dir>/models/text`."""
    return data_dir / "models" / "text"


class RegistryError(ValueError):
    """A bad name, an unknown model, or a model directory that does not load."""


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model: its name, folder and what its card says."""

    name: str
    path: Path
    labels: tuple[str, ...]
    multi_label: bool
    encoder: str
    validation_macro_f1: float | None
    source: str
    registered_at: str


class TextModelRegistry:
    """Register, list and load text models by name under `root`.

    Example:
        >>> reg = TextModelRegistry(Path("var/models/text"))  # doctest: +SKIP
        >>> reg.register(Path("models/t26"), "t26-tfidf").labels  # doctest: +SKIP
        ('Not applicable', 'Not related', ...)
        >>> list(reg.load(["t26-tfidf", "builtin:relevance"]))  # doctest: +SKIP
        ['t26-tfidf', 'relevance']
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._cache: dict[Path, TextClassifier] = {}

    def register(self, source: Path, name: str, *, replace: bool = False) -> RegisteredModel:
        """Validate `source` by loading it, then copy it in as `name`."""
        _check_name(name)
        try:
            load_models([str(source)])
        except TextModelError as exc:
            raise RegistryError(str(exc)) from exc
        target = self.root / name
        with self._lock:
            if target.exists() and not replace:
                raise RegistryError(f"text model {name!r} is already registered (use replace)")
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
            try:
                staged = tmp / "model"
                shutil.copytree(source, staged)
                info = {"source": str(source.resolve()), "registered_at": _now()}
                (staged / INFO_FILE).write_text(json.dumps(info, indent=2))
                old = tmp / "old"
                if target.exists():
                    target.replace(old)
                staged.replace(target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            self._cache.pop(target.resolve(), None)
        return self.get(name)

    def get(self, name: str) -> RegisteredModel:
        """The registered model called `name` (RegistryError when unknown)."""
        _check_name(name)
        path = self.root / name
        if not (path / INFO_FILE).is_file():
            raise RegistryError(f"no registered text model {name!r} under {self.root}")
        info = json.loads((path / INFO_FILE).read_text())
        card = _read_json(path / "card.json")
        labels = _read_json(path / "labels.json") or card.get("labels", [])
        encoder = card.get("encoder", {})
        return RegisteredModel(
            name=name,
            path=path,
            labels=tuple(labels),
            multi_label=bool(card.get("multi_label", False)),
            encoder=str(encoder.get("type", "?") if isinstance(encoder, dict) else encoder),
            validation_macro_f1=card.get("validation", {}).get("macro_f1"),
            source=str(info.get("source", "")),
            registered_at=str(info.get("registered_at", "")),
        )

    def list(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        if not self.root.is_dir():
            return []
        return [
            self.get(p.name)
            for p in sorted(self.root.iterdir())
            if NAME.match(p.name) and (p / INFO_FILE).is_file()
        ]

    def load(self, names: Sequence[str]) -> dict[str, TextClassifier]:
        """Load registered names and `builtin:` models, in order; all or nothing."""
        if len(set(names)) != len(names):
            raise RegistryError(f"a model is named twice in {list(names)}")
        dirs = [n if n.startswith(BUILTIN) else str(self.get(n).path) for n in names]
        with self._lock:
            try:
                models = load_models(dirs, self._cache)
            except TextModelError as exc:
                raise RegistryError(str(exc)) from exc
        # Keyed by the requested names: registered folders are named after them anyway.
        return dict(zip(names, models.values(), strict=True))


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise RegistryError(
            f"bad model name {name!r}: lower-case letters, digits, '.', '_', '-' (at most 64)"
        )


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
