"""`bench text` runs the whole feed path on a small file and reports what it measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citysentinel.bench.text import TextBenchError, run_text_bench

FIRE = ["fire at the market {i}", "smoke over block {i}", "building {i} burning"]
FLOOD = ["street {i} flooded", "water rising at gate {i}", "river over road {i}"]


def write_messages(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            label, pool = ("fire", FIRE) if i % 2 else ("flood", FLOOD)
            text = pool[i % 3].format(i=i)
            f.write(json.dumps({"text": text, "labels": [label], "group": f"e{i % 5}"}) + "\n")
    return path


def test_bench_trains_a_model_and_times_unseen_messages(tmp_path: Path) -> None:
    data = write_messages(tmp_path / "m.jsonl", 400)
    result = run_text_bench("tfidf", data=data, messages=120, batch=32, single=10, train_rows=100)
    assert result["encoder"] == "tfidf" and result["messages"] == 120
    assert result["events"] == 120
    assert result["messages_per_s"] > 0 and result["p50_ms"] > 0


@pytest.mark.parametrize(("rows", "message"), [(None, "not found"), (50, "need at least")])
def test_bench_says_what_is_missing(tmp_path: Path, rows: int | None, message: str) -> None:
    data = tmp_path / "m.jsonl"
    if rows:
        write_messages(data, rows)
    with pytest.raises(TextBenchError, match=message):
        run_text_bench("tfidf", data=data, messages=100)
