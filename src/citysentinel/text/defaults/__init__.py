"""The shipped default text models and how config names them (`builtin:<name>`).

Each default is a portable model directory (model.json, model.npz, labels.json,
card.json, card.md) next to this file, trained by `scripts/train-text-defaults`
from public corpora (see each card for data, licences and held-out figures).
A feed's `models` entry is either a directory path or `builtin:<name>`.

Example:
    >>> resolve_model("builtin:relevance").name  # doctest: +SKIP
    'relevance'
    >>> resolve_model("models/my-model")
    PosixPath('models/my-model')
"""

from __future__ import annotations

from pathlib import Path

BUILTIN = "builtin:"
DEFAULTS_DIR = Path(__file__).resolve().parent
MARKER = "model.json"  # a directory holding this file is a shipped model

# builtin:crisis-type label -> the incident (category, sub_category) a rule should open for it;
# examples/site.yaml has one rule per entry. `not_crisis` opens nothing.
CRISIS_INCIDENTS: dict[str, tuple[str, str]] = {
    "fire": ("environment", "buildingFire"),
    "explosion": ("environment", "explosion"),
    "earthquake": ("naturalDisaster", "earthquake"),
    "flood_storm": ("naturalDisaster", "flood"),
    "traffic_accident": ("traffic", "carAccident"),
    "violence_terror": ("security", "terrorism"),
    "public_health": ("health", "outbreak"),
}


class UnknownBuiltinModel(ValueError):
    """A `builtin:<name>` that is not shipped with this installation."""


def builtin_names() -> list[str]:
    """Names of the shipped default models, sorted.

    Example:
        >>> "relevance" in builtin_names()  # doctest: +SKIP
        True
    """
    return sorted(d.name for d in DEFAULTS_DIR.iterdir() if (d / MARKER).is_file())


def is_builtin(spec: str) -> bool:
    """True for `builtin:<name>` model references."""
    return spec.startswith(BUILTIN)


def resolve_model(spec: str) -> Path:
    """The model directory `spec` names: a shipped default for `builtin:<name>`, else the path.

    Raises `UnknownBuiltinModel` (naming the known defaults) for an unknown name.
    """
    if not is_builtin(spec):
        return Path(spec).expanduser()
    name = spec[len(BUILTIN) :]
    known = builtin_names()
    if name not in known:
        raise UnknownBuiltinModel(
            f"unknown built-in text model {spec!r}; shipped: "
            f"{', '.join(BUILTIN + n for n in known) or 'none (run scripts/train-text-defaults)'}"
        )
    return DEFAULTS_DIR / name


__all__ = [
    "BUILTIN",
    "CRISIS_INCIDENTS",
    "DEFAULTS_DIR",
    "UnknownBuiltinModel",
    "builtin_names",
    "is_builtin",
    "resolve_model",
]
