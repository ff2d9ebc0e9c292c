"""Each corpus importer on the first rows of the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.text.datasets import import_dataset

# (dataset, path under data/, group of the first record, first record's labels, lang)
CASES = [
    ("crisislex_t6", "crisis/crisislex_t6", "2012_Sandy_Hurricane", ("off-topic",), "en"),
    ("crisislex_t26", "crisis/crisislex_t26", "2012_Colorado_wildfires", ("Not related",), "en"),
    (
        "crisisnlp_lrec2016",
        "crisis/crisisnlp_lrec2016",
        "2013_pakistan_eq",
        ("other_useful_information",),
        "en",
    ),
    ("disaster_response", "crisis/disaster_response", "haiti_earthquake", ("related",), "en"),
    ("crisis_misc", "crisis/misc/DSM.csv", "disasters_on_social_media", ("True",), "en"),
    ("montgomery_911", "crisis/montgomery_911", "montgomery_911", ("EMS",), "en"),
    ("waimai_10k", "sentiment/waimai_10k.csv", "waimai_10k", ("positive",), "zh"),
    (
        "online_shopping_10_cats",
        "sentiment/online_shopping_10_cats.zip",
        "online_shopping/书籍",
        ("positive",),
        "zh",
    ),
    ("clue_emotion", "sentiment/clue_emotion_valid.jsonl", "clue_emotion", ("sadness",), "zh"),
    ("cec", "crisis/cec", "cec/earthquake/000", ("earthquake",), "zh"),
]


@pytest.mark.parametrize(("name", "sub", "group", "labels", "lang"), CASES)
def test_importer_first_rows(
    data_dir: Path, name: str, sub: str, group: str, labels: tuple[str, ...], lang: str
) -> None:
    recs = list(import_dataset(name, data_dir / sub, limit=3))
    assert recs, name
    first = recs[0]
    assert (first.group, first.labels, first.lang) == (group, labels, lang)
    assert all(r.text and r.id for r in recs)
    assert all("&amp;" not in r.text for r in recs)


def test_crisislex_t26_keeps_information_type_in_meta(data_dir: Path) -> None:
    rec = next(import_dataset("crisislex_t26", data_dir / "crisis/crisislex_t26", limit=1))
    assert rec.meta["information_type"] == "Not labeled"
    assert not rec.id.startswith("'")


def test_crisisnlp_spanish_mojibake_is_repaired(data_dir: Path) -> None:
    path = data_dir / "crisis/crisisnlp_lrec2016/2014_chile_eq_es.csv.zip"
    rec = next(import_dataset("crisisnlp_lrec2016", path, limit=1))
    assert "Haití" in rec.text and rec.lang == "other" and rec.group == "2014_chile_eq_es"


def test_911_truncated_last_line_is_dropped_and_places_kept(data_dir: Path) -> None:
    recs = list(import_dataset("montgomery_911", data_dir / "crisis/montgomery_911"))
    assert len(recs) == 9226  # 9,227 data lines, the last one truncated
    first = recs[0]
    assert first.meta["detail"] == "BACK PAINS/INJURY"
    assert first.location is not None and first.location.lat == pytest.approx(40.2978759)


def test_disaster_response_is_multi_label(data_dir: Path) -> None:
    recs = list(import_dataset("disaster_response", data_dir / "crisis/disaster_response", limit=5))
    assert max(len(r.labels) for r in recs) > 3
    assert "original" in recs[0].meta


def test_cec_keeps_gold_annotations(data_dir: Path) -> None:
    rec = next(import_dataset("cec", data_dir / "crisis/cec/fire/000.xml"))
    assert rec.labels == ("fire",) and rec.text.startswith("上海永嘉路老式洋房突发火灾")
    assert "闹市区的一栋老式别墅" in rec.meta["location"]
