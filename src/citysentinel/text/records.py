"""The canonical text record (one JSONL line) that every importer writes and training reads."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citysentinel.text.clean import MAX_CHARS, clean_text, detect_lang
from citysentinel.text.pii import mask_pii


@dataclass(frozen=True)
class Place:
    """Where a message is about: a place name and, when known, a WGS84 point."""

    name: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class TextRecord:
    """One message: cleaned, PII-masked text with its labels and the event (`group`) it belongs to.

    `labels` holds one label for single-label data and every positive label for
    multi-label data; `meta` keeps further label columns (e.g. CrisisLex T26's
    information type) and source fields; `flags` says what cleaning had to do.
    """

    id: str
    text: str
    lang: str
    labels: tuple[str, ...] = ()
    group: str | None = None
    time: str | None = None
    location: Place | None = None
    meta: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def field(self, name: str) -> str | tuple[str, ...] | None:
        """A column by name: a record attribute first, then `meta`.

        Example:
            >>> make_record("r1", "Fire!", labels=["fire"]).field("labels")
            ('fire',)
        """
        if name in {"id", "text", "lang", "labels", "group", "time"}:
            value: str | tuple[str, ...] | None = getattr(self, name)
            return value
        if name == "label":
            return self.labels
        return self.meta.get(name)

    def to_json(self) -> str:
        """One JSONL line (keys in canonical order, non-ASCII kept)."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["flags"] = list(self.flags)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TextRecord:
        """Rebuild a record written by `to_json` (values already cleaned and masked)."""
        loc = data.get("location")
        labels = data.get("labels") or ()
        meta = data.get("meta") or {}
        return cls(
            id=str(data["id"]),
            text=str(data.get("text") or ""),
            lang=str(data.get("lang") or "und"),
            labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (str(labels),),
            group=None if data.get("group") is None else str(data["group"]),
            time=None if data.get("time") is None else str(data["time"]),
            location=Place(**loc) if isinstance(loc, dict) else None,
            meta={str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {},
            flags=tuple(str(x) for x in data.get("flags") or ()),  # type: ignore[attr-defined]
        )


def make_record(
    id: str,
    raw_text: str | bytes,
    *,
    labels: Iterable[str] = (),
    group: str | None = None,
    time: str | None = None,
    location: Place | None = None,
    meta: dict[str, str] | None = None,
    lang: str | None = None,
    max_chars: int = MAX_CHARS,
) -> TextRecord:
    """Clean, mask and language-tag raw text into a record; never raises on odd text.

    Example:
        >>> r = make_record("1", "Call 555-123-4567 &amp; help", labels=["request"])
        >>> r.text, r.lang
        ('Call [PHONE] & help', 'en')
    """
    cleaned = clean_text(raw_text, max_chars=max_chars)
    masked = mask_pii(cleaned.text)
    flags = cleaned.flags + (("pii_masked",) if masked.counts else ())
    return TextRecord(
        id=id,
        text=masked.text,
        lang=lang or detect_lang(masked.text),
        labels=tuple(x for x in (s.strip() for s in labels) if x),
        group=group,
        time=time,
        location=location,
        meta=dict(meta or {}),
        flags=flags,
    )


def write_jsonl(records: Iterable[TextRecord], path: Path) -> int:
    """Write records as JSONL; returns how many were written."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(rec.to_json() + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterator[TextRecord]:
    """Read canonical JSONL written by `write_jsonl`."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                yield TextRecord.from_dict(json.loads(line))
