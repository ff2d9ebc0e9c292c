"""`eval extraction`: places, times and people counts found by `text.extract` vs CEC gold.

CEC (Chinese Emergency Corpus) annotates, per document, every Location, Time
and Participant span; `python -m citysentinel.text import cec` keeps them in
`meta` joined with " | ". Scoring, per document then summed (micro-average):

- locations and times: each predicted span is matched to at most one gold span
  of the same document. `exact` needs the same string; `overlap` accepts one
  containing the other (predicted "荆州市公安县" vs gold "荆州市公安县甘家厂乡").
  Precision = matched predicted / predicted, recall = matched gold / gold.
- people: gold participants that state a number of people ("8名工人", "两人",
  "被困人员约400人") give gold counts; predicted counts are every "N人/名/位"
  the extractor read (casualty or not). A predicted count matches a gold count
  of the same value in the same document. The gold numbers are read with the
  same `parse_number`, so this measures count detection, not number reading
  (the unit tables in tests/text/test_extract.py check that); CEC has no
  casualty-kind annotation, so dead/injured/missing labels are not measured here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from citysentinel.text.extract import ZH_NUM, Extraction, extract, parse_number
from citysentinel.text.tables import TextSourceError

log = logging.getLogger(__name__)
SEP = " | "
GOLD_KEYS = ("location", "time", "participant")
_GOLD_PEOPLE = re.compile(rf"(?P<n>{ZH_NUM})(?:余|多)?(?:名|人|位)")


class ExtractionEvalError(ValueError):
    """The data has no documents with gold annotations to score against."""


def _overlap(a: str, b: str) -> bool:
    return a in b or b in a


def _exact(a: str, b: str) -> bool:
    return a == b


def match(
    predicted: Sequence[str], gold: Sequence[str], same: Callable[[str, str], bool]
) -> tuple[int, int]:
    """(matched predicted, matched gold): greedy one-to-one, in order of appearance.

    Example:
        >>> match(["荆州市", "医院"], ["荆州市公安县", "医院", "现场"], _overlap)
        (2, 2)
    """
    used: set[int] = set()
    hits = 0
    for p in predicted:
        j = next((k for k, g in enumerate(gold) if k not in used and same(p, g)), None)
        if j is not None:
            used.add(j)
            hits += 1
    return hits, len(used)


def _prf(tp_pred: int, n_pred: int, tp_gold: int, n_gold: int) -> dict[str, float | int]:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_gold / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "predicted": n_pred,
        "gold": n_gold,
    }


def gold_people(participants: Sequence[str]) -> list[int]:
    """Numbers of people stated in gold participant spans ("8名工人" -> 8)."""
    out = []
    for p in participants:
        for m in _GOLD_PEOPLE.finditer(p):
            n = parse_number(m["n"])
            if n is not None:
                out.append(n)
    return out


def _values(predicted: Sequence[int], gold: Sequence[int]) -> tuple[int, int]:
    left = list(gold)
    hits = 0
    for v in predicted:
        if v in left:
            left.remove(v)
            hits += 1
    return hits, hits


def evaluate_extraction(path: Path, limit: int | None = None) -> dict[str, Any]:
    """Precision, recall and F1 of places, times and people counts on a CEC JSONL.

    Example:
        >>> result = evaluate_extraction(Path("var/text/cec.jsonl"))  # doctest: +SKIP
        >>> sorted(result["times"]["overlap"])  # doctest: +SKIP
        ['f1', 'gold', 'precision', 'predicted', 'recall']
    """
    rows = _read_jsonl(path)
    sums: dict[str, list[int]] = {
        k: [0, 0, 0, 0]
        for k in ("loc_exact", "loc_overlap", "time_exact", "time_overlap", "people")
    }
    docs = 0
    for row in rows[:limit]:
        meta = row.get("meta")
        if not isinstance(meta, dict) or not any(k in meta for k in GOLD_KEYS):
            continue
        x: Extraction = extract(str(row.get("text") or ""), str(row.get("lang") or "zh"))
        gold = {k: _split(meta.get(k)) for k in GOLD_KEYS}
        _add(sums["loc_exact"], x.locations, gold["location"], _exact)
        _add(sums["loc_overlap"], x.locations, gold["location"], _overlap)
        _add(sums["time_exact"], x.times, gold["time"], _exact)
        _add(sums["time_overlap"], x.times, gold["time"], _overlap)
        people = gold_people(gold["participant"])
        tp, tg = _values(x.people, people)
        for i, v in enumerate((tp, len(x.people), tg, len(people))):
            sums["people"][i] += v
        docs += 1
        if docs % 50 == 0:
            log.info("extraction: %d documents scored", docs)
    if not docs:
        raise ExtractionEvalError(
            f"{path}: no rows with gold location/time/participant"
            " (import CEC with `python -m citysentinel.text import cec ...`)"
        )
    return {
        "documents": docs,
        "matching": "per document, one-to-one greedy; exact = same string, overlap = one"
        " contains the other; people = same number of people",
        "locations": {"exact": _prf(*sums["loc_exact"]), "overlap": _prf(*sums["loc_overlap"])},
        "times": {"exact": _prf(*sums["time_exact"]), "overlap": _prf(*sums["time_overlap"])},
        "people_counts": _prf(*sums["people"]),
    }


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    # Not `iter_rows`: it merges `meta` into the row, where `location` and `time` clash.
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise TextSourceError(f"{path}: {exc}") from exc
    rows = []
    for n, line in enumerate(lines, start=1):
        try:
            data = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            log.warning("%s:%d: skipped a line that is not JSON", path, n)
            continue
        if isinstance(data, dict):
            rows.append(data)
    return rows


def _split(value: object) -> list[str]:
    return [s.strip() for s in str(value or "").split(SEP) if s.strip()]


def _add(
    acc: list[int], pred: Sequence[str], gold: Sequence[str], same: Callable[[str, str], bool]
) -> None:
    tp, tg = match(pred, gold, same)
    acc[0] += tp
    acc[1] += len(pred)
    acc[2] += tg
    acc[3] += len(gold)
