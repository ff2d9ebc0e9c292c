"""The generic file reader: formats, column mapping, bad rows, zipped files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from citysentinel.text.tables import (
    FILE_GROUP,
    ColumnMapping,
    TextSourceError,
    load_labelled,
    read_table,
)


def test_csv_with_spaced_header_quoted_ids_and_a_truncated_last_row(tmp_path: Path) -> None:
    f = tmp_path / "ev1.csv"
    f.write_text("tweet id, tweet, label\n'1',\"Fire &amp; smoke\",on-topic\n'2',\"cut off")
    recs = list(
        read_table(f, ColumnMapping(text="tweet", label="label", id="tweet id", group=FILE_GROUP))
    )
    assert [(r.id, r.text, r.labels, r.group) for r in recs] == [
        ("1", "Fire & smoke", ("on-topic",), "ev1")
    ]


def test_tsv_jsonl_and_zip(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("text\tlabel\nflood here\tflood\n")
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"content": "大火", "y": ["fire", "smoke"]}) + "\nnot json\n"
    )
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        zf.writestr("__MACOSX/._c.csv", "junk")
        zf.writestr("c.csv", "text,label\nquake,earthquake\n")
    assert next(read_table(tmp_path / "a.tsv", ColumnMapping(label="label"))).labels == ("flood",)
    rec = next(read_table(tmp_path / "b.jsonl", ColumnMapping(text="content", label="y")))
    assert rec.labels == ("fire", "smoke") and rec.lang == "zh"
    assert next(read_table(tmp_path / "c.zip", ColumnMapping(label="label"))).text == "quake"


def test_wrong_encoding_is_replaced_and_flagged(tmp_path: Path) -> None:
    f = tmp_path / "gbk.csv"
    f.write_bytes("text\n火灾发生\n".encode("gbk"))
    rec = next(read_table(f, ColumnMapping()))
    assert "decode_replaced" in rec.flags


def test_missing_file_and_no_labels_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TextSourceError, match="no such file"):
        list(read_table(tmp_path / "nope.csv", ColumnMapping()))
    (tmp_path / "x.csv").write_text("text,label\n,\n")
    with pytest.raises(TextSourceError, match="no labelled rows"):
        load_labelled([tmp_path / "x.csv"], text_col="text", label_col="label")
