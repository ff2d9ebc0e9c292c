"""Labelled text tables for training and import: CSV, TSV, JSONL, zipped CSV, column maps."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from citysentinel.text.clean import MAX_CHARS
from citysentinel.text.records import Place, TextRecord, make_record

log = logging.getLogger(__name__)
FILE_GROUP = ":file"  # a group column of ":file" makes the file's stem the group
csv.field_size_limit(sys.maxsize)  # a 1 MB message must be read (then truncated), not rejected


class TextSourceError(ValueError):
    """A file cannot be read as messages (missing, unknown format, no text column)."""


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns hold what. Column names are matched after stripping spaces.

    `label` may name several columns separated by commas: with `binary_labels`
    each is a 0/1 column whose name becomes a label when set (disaster_response);
    otherwise their values become the labels. `label_sep` splits one cell into
    several labels (multi-label strings such as "water|food").

    Example:
        >>> ColumnMapping(text=" tweet", label=" label").label_columns
        ('label',)
    """

    text: str = "text"
    label: str | None = None
    group: str | None = None
    id: str | None = None
    time: str | None = None
    location: str | None = None
    lang: str | None = None
    lat: str | None = None
    lon: str | None = None
    label_sep: str | None = None
    binary_labels: bool = False

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The label column names, stripped."""
        return tuple(c.strip() for c in (self.label or "").split(",") if c.strip())


def read_table(
    path: Path,
    mapping: ColumnMapping,
    *,
    fmt: str | None = None,
    encoding: str = "utf-8",
    max_chars: int = MAX_CHARS,
) -> Iterator[TextRecord]:
    """Records from a CSV, TSV, JSONL or .zip (of those) file; malformed rows are skipped.

    Example:
        >>> rows = read_table(Path("waimai_10k.csv"), ColumnMapping(text="review", label="label"))
        >>> next(rows).labels  # doctest: +SKIP
        ('1',)
    """
    if not path.is_file():
        raise TextSourceError(f"{path}: no such file")
    kind = (fmt or _format_of(path)).lower()
    for n, row in enumerate(iter_rows(path, kind, encoding), start=1):
        record = row_to_record(
            row, mapping, default_id=f"{path.stem}:{n}", file_stem=path.stem, max_chars=max_chars
        )
        if record is not None:
            yield record


def iter_rows(path: Path, kind: str, encoding: str = "utf-8") -> Iterator[dict[str, object]]:
    """Raw rows as dicts (header names stripped) from a csv/tsv/jsonl/zip file."""
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                inner = _format_of(Path(name))
                if name.startswith("__MACOSX") or name.endswith("/") or inner == "zip":
                    continue
                with (
                    zf.open(name) as raw,
                    io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="") as text,
                ):
                    yield from _rows(text, inner, f"{path}!{name}")
        return
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        yield from _rows(fh, kind, str(path))


def _rows(fh: IO[str], kind: str, where: str) -> Iterator[dict[str, object]]:
    if kind == "jsonl":
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: skipped a line that is not JSON", where, n)
                continue
            if isinstance(data, dict):
                meta = data.pop("meta", None)
                yield {**(meta if isinstance(meta, dict) else {}), **data}
        return
    if kind not in {"csv", "tsv"}:
        raise TextSourceError(f"{where}: unknown format {kind!r} (csv, tsv, jsonl, zip)")
    reader = csv.reader(fh, delimiter="\t" if kind == "tsv" else ",", skipinitialspace=True)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    for n, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            if cells:
                log.warning(
                    "%s:%d: skipped a row with %d of %d fields", where, n, len(cells), len(header)
                )
            continue
        yield dict(zip(header, cells, strict=True))


def row_to_record(
    row: dict[str, object],
    mapping: ColumnMapping,
    *,
    default_id: str,
    file_stem: str = "",
    max_chars: int = MAX_CHARS,
) -> TextRecord | None:
    """One record from a raw row, or None when the text column is missing or empty."""
    text = row.get(mapping.text.strip())
    if not isinstance(text, str | bytes) or not text.strip():
        return None
    group = file_stem if mapping.group == FILE_GROUP else _str(row, mapping.group)
    lat, lon = _float(row, mapping.lat), _float(row, mapping.lon)
    name = _str(row, mapping.location)
    place = Place(name, lat, lon) if (name or lat is not None) else None
    used = {mapping.text.strip(), *mapping.label_columns}
    meta = {
        _snake(k): str(v)
        for k, v in row.items()
        if k not in used and isinstance(v, str | int | float)
    }
    return make_record(
        (_str(row, mapping.id) or default_id).strip("'\" "),
        text,
        labels=_labels(row, mapping),
        group=group,
        time=_str(row, mapping.time),
        location=place,
        meta=meta,
        lang=_str(row, mapping.lang) if mapping.lang else None,
        max_chars=max_chars,
    )


def _labels(row: dict[str, object], mapping: ColumnMapping) -> list[str]:
    out: list[str] = []
    for col in mapping.label_columns:
        value = row.get(col)
        if mapping.binary_labels:
            if str(value).strip() not in {"", "0", "0.0", "False", "false", "None"}:
                out.append(col)
        elif isinstance(value, list):
            out.extend(str(v) for v in value)
        elif value is not None and str(value).strip():
            s = str(value).strip()
            out.extend(s.split(mapping.label_sep) if mapping.label_sep else [s])
    return out


def _str(row: dict[str, object], col: str | None) -> str | None:
    if not col:
        return None
    value = row.get(col.strip())
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _float(row: dict[str, object], col: str | None) -> float | None:
    value = _str(row, col)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_") or name


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"txt": "tsv", "json": "jsonl", "ndjson": "jsonl"}.get(suffix, suffix)


def read_tables(
    paths: Iterable[Path], mapping: ColumnMapping, *, fmt: str | None = None
) -> list[TextRecord]:
    """All records of several files, in order."""
    return [rec for p in paths for rec in read_table(p, mapping, fmt=fmt)]


@dataclass(frozen=True)
class Labelled:
    """Parallel lists of texts, label tuples and groups, ready for training or evaluation."""

    texts: list[str]
    labels: list[tuple[str, ...]]
    groups: list[str | None]


def load_labelled(
    paths: Iterable[Path],
    *,
    text_col: str,
    label_col: str,
    group_col: str | None = None,
    multi_label: bool = False,
    label_sep: str | None = None,
) -> Labelled:
    """Labelled rows of several files; rows without text or (single-label) without a label drop.

    Example:
        >>> data = load_labelled([Path("t6.jsonl")], text_col="text", label_col="labels",
        ...                      group_col="group")  # doctest: +SKIP
    """
    mapping = ColumnMapping(
        text=text_col,
        label=label_col,
        group=group_col,
        label_sep=label_sep or ("|" if multi_label else None),
    )
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    groups: list[str | None] = []
    for rec in read_tables(paths, mapping):
        if not rec.labels and not multi_label:
            continue
        texts.append(rec.text)
        labels.append(rec.labels)
        groups.append(rec.group)
    if not texts:
        raise TextSourceError(f"no labelled rows (text column {text_col!r}, labels {label_col!r})")
    return Labelled(texts, labels, groups)
