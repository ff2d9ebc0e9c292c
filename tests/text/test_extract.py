"""Extraction of places, times and casualty counts (Chinese and English), and its CEC figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.eval.extraction import evaluate_extraction, gold_people, match
from citysentinel.events.payloads import TextReportPayload
from citysentinel.text.analyzer import MessagePlace, TextAnalyzer, TextMessage
from citysentinel.text.datasets import read_cec
from citysentinel.text.extract import extract, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("32", 32), ("３２", 32), ("三十二", 32), ("十五", 15), ("十", 10), ("两百零五", 205),
        ("一千二百", 1200), ("1万", 10000), ("1,200", 1200), ("twelve", 12),
        ("twenty-one", 21), ("a dozen", 12), ("many", None), ("", None),
        ("3万", 30000), ("两万", 20000), ("one hundred", 100), ("two hundred", 200),
    ],
)  # fmt: skip
def test_parse_number(text: str, value: int | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "lang", "casualties"),
    [
        ("事故造成3人死亡、5人受伤", "zh", {"dead": 3, "injured": 5}),
        ("死亡人数已升至三十二人，另有两人失踪", "zh", {"dead": 32, "missing": 2}),
        ("两人当场死亡，另有4人因抢救无效死亡", "zh", {"dead": 4}),
        ("车祸致2死5伤，10余人被困", "zh", {"dead": 2, "injured": 5, "trapped": 10}),
        ("8名工人集体吃完午饭后出现不适", "zh", {}),
        ("At least twelve people were killed and 30 injured", "en", {"dead": 12, "injured": 30}),
        ("the blast, killing 4 and injuring twenty-one", "en", {"dead": 4, "injured": 21}),
        ("The death toll rose to 1,200; 3 remain missing", "en", {"dead": 1200, "missing": 3}),
        ("5 residents trapped on the roof", "en", {"trapped": 5}),
        ("Route 5 closed at 3 pm", "en", {}),
        # Years, phone numbers and codes are not counts; the real count after them is read.
        ("In 2015 three died in the flood", "en", {"dead": 3}),
        ("Since 2019 killed no one", "en", {}),
        ("Call 555-1234 if injured", "en", {}),
        ("COVID-19 dead list updated", "en", {}),
        ("One hundred people were injured", "en", {"injured": 100}),
        ("On March 3 two were killed", "en", {"dead": 2}),  # a date's day is not the count
        ("Highway 5 two people were injured", "en", {"injured": 2}),
        ("3万余人被困", "zh", {"trapped": 30000}),
        ("造成十余人受伤", "zh", {"injured": 10}),
    ],
)
def test_casualties(text: str, lang: str, casualties: dict[str, int]) -> None:
    assert extract(text, lang).payload().casualties == casualties


@pytest.mark.parametrize(
    ("text", "lang", "times"),
    [
        ("昨日中午11时45分左右，工厂发生爆炸", "zh", ["昨日中午11时45分左右"]),
        ("2008年5月12日14时28分发生地震，目前", "zh", ["2008年5月12日14时28分", "目前"]),
        ("The fire started at 3:40 pm on Monday", "en", ["3:40 pm", "Monday"]),
        ("Flooding since April 25, 2015 and again yesterday morning", "en",
         ["April 25, 2015", "yesterday morning"]),
    ],
)  # fmt: skip
def test_times(text: str, lang: str, times: list[str]) -> None:
    assert extract(text, lang).payload().times == times


@pytest.mark.parametrize(
    ("text", "lang", "places"),
    [
        ("荆州市公安县甘家厂乡发生特大食物中毒事件", "zh", ["荆州市公安县甘家厂乡"]),
        ("南京市山西路50层高的中环国际大厦着火", "zh", ["南京市山西路", "中环国际大厦"]),
        ("Smoke near Oak Street and in Kathmandu Valley", "en", ["Oak Street", "Kathmandu Valley"]),
        ("EMS: CARDIAC EMERGENCY at REINDEER CT & DEAD END", "en", ["REINDEER CT"]),
        ("I am at home. The end.", "en", []),
    ],
)
def test_places(text: str, lang: str, places: list[str]) -> None:
    assert extract(text, lang).payload().locations == places


def test_payload_is_capped_and_unique() -> None:
    text = "，".join(f"{i}月{i}日" for i in range(1, 13)) * 10
    times = extract(text, "zh").payload().times
    assert len(times) == len(set(times)) <= 50


def test_analyzer_extracts_from_masked_text_only() -> None:
    analyzer = TextAnalyzer("hotline")
    text = "Fire at Oak Street, 2 people injured, call 555-123-4567 or jo@example.com"
    [event] = analyzer.process(TextMessage(text, id="1", place=MessagePlace("Oak St", area="N")))
    p = event.payload
    assert isinstance(p, TextReportPayload)
    assert p.extracted.locations == ["Oak Street"] and p.extracted.casualties == {"injured": 2}
    dumped = event.model_dump_json()
    assert "555-123-4567" not in dumped and "jo@example.com" not in dumped
    assert p.area == "N"
    off = TextAnalyzer("hotline", extract=False).process(TextMessage(text, id="1"))[0]
    assert isinstance(off.payload, TextReportPayload) and off.payload.extracted.locations == []


@pytest.mark.parametrize(
    ("pred", "gold", "hits"),
    [
        (["荆州市"], ["荆州市公安县"], (1, 1)),
        (["现场", "现场"], ["现场"], (1, 1)),  # one gold span matches once
        (["上海"], ["北京"], (0, 0)),
    ],
)
def test_overlap_matching(pred: list[str], gold: list[str], hits: tuple[int, int]) -> None:
    from citysentinel.eval.extraction import _overlap

    assert match(pred, gold, _overlap) == hits


def test_gold_people_counts() -> None:
    assert gold_people(["8名工人", "两人", "被困人员约400人", "省委书记"]) == [8, 2, 400]


def test_cec_figures(data_dir: Path, tmp_path: Path) -> None:
    """On the real CEC gold: times found well, people counts read, places partly (see docs)."""
    out = tmp_path / "cec.jsonl"
    out.write_text(
        "\n".join(r.to_json() for r in read_cec(data_dir / "crisis" / "cec")), encoding="utf-8"
    )
    result = evaluate_extraction(out)
    assert result["documents"] > 200
    assert result["times"]["overlap"]["f1"] > 0.75
    assert result["people_counts"]["recall"] > 0.9
    assert result["locations"]["overlap"]["recall"] > 0.5
