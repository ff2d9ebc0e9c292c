"""Importers for the public crisis and sentiment corpora into canonical text records."""

from __future__ import annotations

import dataclasses
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from citysentinel.text.records import Place, TextRecord, make_record
from citysentinel.text.tables import FILE_GROUP, ColumnMapping, read_table

log = logging.getLogger(__name__)

Fix = Callable[[TextRecord, Path], TextRecord]


def _keep(rec: TextRecord, _path: Path) -> TextRecord:
    return rec


def _group_by_stem(suffix: str) -> Fix:
    def fix(rec: TextRecord, path: Path) -> TextRecord:
        stem = path.name.split(".")[0]
        return dataclasses.replace(rec, group=re.sub(suffix + "$", "", stem))

    return fix


def _polarity(rec: TextRecord, _path: Path) -> TextRecord:
    names = {"1": "positive", "0": "negative"}
    return dataclasses.replace(rec, labels=tuple(names.get(x, x) for x in rec.labels))


def _shopping(rec: TextRecord, path: Path) -> TextRecord:
    rec = _polarity(rec, path)
    return dataclasses.replace(rec, group=f"online_shopping/{rec.meta.get('cat', '')}")


def _misc_group(rec: TextRecord, path: Path) -> TextRecord:
    return dataclasses.replace(rec, group=rec.group or rec.meta.get("dataset") or path.stem)


def _call_category(rec: TextRecord, _path: Path) -> TextRecord:
    # 911 titles read "EMS: BACK PAINS/INJURY": the category is before the colon.
    category, _, detail = rec.text.partition(":")
    meta = {**rec.meta, "detail": detail.strip()}
    return dataclasses.replace(rec, labels=(category.strip(),), meta=meta)


@dataclass(frozen=True)
class Dataset:
    """How to read one corpus: which files, which columns, and a per-record fix-up."""

    pattern: str
    mapping: ColumnMapping
    fix: Fix = _keep
    fmt: str | None = None
    group: str | None = None  # a constant group for single-collection corpora


_DR_LABELS = (
    "related,PII,request,offer,aid_related,medical_help,medical_products,search_and_rescue,"
    "security,military,child_alone,water,food,shelter,clothing,money,missing_people,refugees,"
    "death,other_aid,infrastructure_related,transport,buildings,electricity,tools,hospitals,"
    "shops,aid_centers,other_infrastructure,weather_related,floods,storm,fire,earthquake,cold,"
    "other_weather,direct_report"
)

DATASETS: dict[str, Dataset] = {
    "crisislex_t6": Dataset(
        "*-ontopic_offtopic.csv",
        ColumnMapping(text="tweet", label="label", id="tweet id", group=FILE_GROUP),
        _group_by_stem("-ontopic_offtopic"),
    ),
    "crisislex_t26": Dataset(
        "*-tweets_labeled.csv",
        ColumnMapping(text="Tweet Text", label="Informativeness", id="Tweet ID", group=FILE_GROUP),
        _group_by_stem("-tweets_labeled"),
    ),
    "crisisnlp_lrec2016": Dataset(
        "*.csv.zip",
        ColumnMapping(
            text="tweet_text", label="choose_one_category", id="tweet_id", group=FILE_GROUP
        ),
        _group_by_stem("(_cf_labels)?"),
    ),
    "disaster_response": Dataset(
        "*.csv",
        ColumnMapping(
            text="message",
            label=_DR_LABELS,
            binary_labels=True,
            id="id",
            group="event",
            time="date_haiti",
        ),
    ),
    "crisis_misc": Dataset(
        "*.csv",
        ColumnMapping(text="tweet_text", label="informative", id="tweet_id", group="event_name"),
        _misc_group,
    ),
    "montgomery_911": Dataset(
        "911.csv",
        ColumnMapping(
            text="title", id=None, time="timeStamp", location="addr", lat="lat", lon="lng"
        ),
        _call_category,
        group="montgomery_911",
    ),
    "waimai_10k": Dataset(
        "waimai_10k.csv",
        ColumnMapping(text="review", label="label"),
        _polarity,
        group="waimai_10k",
    ),
    "online_shopping_10_cats": Dataset(
        "online_shopping_10_cats.zip", ColumnMapping(text="review", label="label"), _shopping
    ),
    "clue_emotion": Dataset(
        "clue_emotion*.jsonl",
        ColumnMapping(text="content", label="label", id="id"),
        group="clue_emotion",
    ),
}
DATASET_NAMES = (*DATASETS, "cec")


def import_dataset(name: str, path: Path, *, limit: int | None = None) -> Iterator[TextRecord]:
    """Records of corpus `name` read from `path` (its folder, or one of its files).

    `limit` reads at most that many records from each file (for fast tests).

    Example:
        >>> recs = import_dataset("crisislex_t6", Path("data/crisis/crisislex_t6"), limit=2)
        >>> next(recs).group  # doctest: +SKIP
        '2012_Sandy_Hurricane'
    """
    if name == "cec":
        yield from islice(read_cec(path), limit)
        return
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    spec = DATASETS[name]
    files = sorted(path.glob(spec.pattern)) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no files matching {spec.pattern}")
    for file in files:
        for rec in islice(read_table(file, spec.mapping, fmt=spec.fmt), limit):
            fixed = spec.fix(rec, file)
            yield dataclasses.replace(fixed, group=spec.group) if spec.group else fixed


def read_cec(root: Path) -> Iterator[TextRecord]:
    """CEC documents (`<root>/<type>/NNN.xml`): title plus body, labelled with the folder's type.

    Each document is its own group; the gold locations, times and participants
    go to `meta` (joined with " | ") for the extraction slice to measure against.
    """
    for path in sorted(root.glob("*/*.xml")) if root.is_dir() else [root]:
        try:
            body = ET.parse(path).getroot()
        except ET.ParseError as exc:
            log.warning("%s: skipped, not well-formed XML (%s)", path, exc)
            continue
        title = (body.findtext("Title") or "").strip()
        content = body.find("Content")
        paragraphs = [] if content is None else content.iter("Paragraph")
        text = "\n".join(re.sub(r"\s+", "", "".join(p.itertext())) for p in paragraphs)
        meta = {
            tag.lower(): " | ".join(_texts(body, tag))
            for tag in ("Location", "Time", "Participant")
        }
        locations = _texts(body, "Location")
        kind = path.parent.name
        yield make_record(
            f"cec/{kind}/{path.stem}",
            f"{title}\n{text}",
            labels=[kind],
            group=f"cec/{kind}/{path.stem}",
            time=(body.findtext("ReportTime") or "").strip() or None,
            location=Place(locations[0]) if locations else None,
            meta=meta,
        )


def _texts(body: ET.Element, tag: str) -> list[str]:
    return [t for t in ("".join(e.itertext()).strip() for e in body.iter(tag)) if t]
