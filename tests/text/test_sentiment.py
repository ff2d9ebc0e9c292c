"""Opinion: VADER polarity for English, polarity and emotion models for Chinese, aggregation."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from citysentinel.events import Event
from citysentinel.events.payloads import TextReportPayload
from citysentinel.text.analyzer import TextAnalyzer, TextMessage
from citysentinel.text.classify import TextClassifier, TrainConfig, train_classifier
from citysentinel.text.datasets import import_dataset
from citysentinel.text.encoders import TfidfEncoderConfig
from citysentinel.text.sentiment import (
    EnglishLexicon,
    OpinionScorer,
    aggregate_opinion,
    is_emotion_model,
    is_polarity_model,
    split_models,
)
from tests.text.test_analyzer import make_classifier

POSITIVE_ZH = ["很好吃，送餐很快", "味道不错，下次还点", "服务很好，非常满意", "好吃又实惠，推荐"]
NEGATIVE_ZH = ["太难吃了，送餐很慢", "味道很差，不会再点", "服务太差，非常失望", "又贵又难吃，差评"]
EMOTION_ZH = {
    "happiness": ["今天好开心啊", "太高兴了，终于放假", "开心得不得了"],
    "anger": ["气死我了，太过分了", "真是让人愤怒", "我很生气，凭什么"],
    "fear": ["好害怕，地震了", "吓死我了，太恐怖", "我很怕黑，好可怕"],
}


def tiny(texts: list[str], labels: list[str]) -> TextClassifier:
    config = TrainConfig(encoder=TfidfEncoderConfig(min_df=1), c_grid=(10.0,))
    groups = [f"g{i % 3}" for i in range(len(texts))]
    return train_classifier(texts, [(x,) for x in labels], groups, config)


@pytest.fixture(scope="module")
def polarity_zh() -> TextClassifier:
    texts = POSITIVE_ZH + NEGATIVE_ZH
    return tiny(texts, ["positive"] * 4 + ["negative"] * 4)


@pytest.fixture(scope="module")
def emotion_zh() -> TextClassifier:
    pairs = [(t, label) for label, ts in EMOTION_ZH.items() for t in ts]
    return tiny([t for t, _ in pairs], [label for _, label in pairs])


@pytest.fixture(scope="module")
def lexicon() -> EnglishLexicon:
    return EnglishLexicon()


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Thank you firefighters, amazing rescue work!", 1),
        ("The flood destroyed our home, terrible and scary", -1),
        ("People are trapped and injured, please help", -1),
        ("The bus leaves at 5 from [PHONE]", 0),
    ],
)
def test_english_polarity_sign(lexicon: EnglishLexicon, text: str, sign: int) -> None:
    [p] = lexicon.polarity([text])
    assert -1 <= p <= 1
    assert (p > 0.05) - (p < -0.05) == sign


def test_models_are_recognised_by_their_labels(
    polarity_zh: TextClassifier, emotion_zh: TextClassifier
) -> None:
    hazard = make_classifier()
    assert is_polarity_model(polarity_zh) and not is_polarity_model(hazard)
    assert is_emotion_model(emotion_zh) and not is_emotion_model(polarity_zh)
    rest, pol, emo = split_models({"hazard": hazard, "pol": polarity_zh, "emo": emotion_zh})
    assert (list(rest), pol, emo) == (["hazard"], polarity_zh, emotion_zh)


def test_scorer_routes_by_language(
    polarity_zh: TextClassifier, emotion_zh: TextClassifier, lexicon: EnglishLexicon
) -> None:
    scorer = OpinionScorer(polarity_zh, emotion_zh, lexicon)
    texts = ["味道很差，非常失望", "好吃，很满意", "awful, terrible day", "Wie geht's", "好害怕"]
    out = scorer.analyze(texts, ["zh", "zh", "en", "other", "zh"])
    assert out[0].polarity is not None and out[0].polarity < 0
    assert out[1].polarity is not None and out[1].polarity > 0
    assert out[2].polarity is not None and out[2].polarity < 0 and out[2].emotion is None
    assert (out[3].polarity, out[3].emotion) == (None, None)
    assert out[4].emotion == "fear" and out[4].emotion_score is not None
    with pytest.raises(ValueError, match="same length"):
        scorer.analyze(["a"], [])


def test_analyzer_fills_opinion_and_keeps_opinion_models_out_of_labels(
    polarity_zh: TextClassifier, emotion_zh: TextClassifier, lexicon: EnglishLexicon
) -> None:
    models = {"hazard": make_classifier(), "polarity": polarity_zh, "emotion": emotion_zh}
    analyzer = TextAnalyzer("hotline", models, english=lexicon, area="north")
    zh, en = analyzer.analyze(
        [TextMessage("太差了，非常失望，好害怕", id="1"), TextMessage("terrible fire", id="2")]
    )
    assert zh.event is not None and en.event is not None
    pz, pe = zh.event.payload, en.event.payload
    assert isinstance(pz, TextReportPayload) and isinstance(pe, TextReportPayload)
    assert pz.sentiment is not None and pz.sentiment < 0 and pz.emotion in EMOTION_ZH
    assert pe.sentiment is not None and pe.sentiment < 0 and pe.emotion is None
    assert pz.area == pe.area == "north"
    assert pe.category == "fire"
    for p in (pz, pe):  # the opinion models' labels neither name the category nor score
        assert not {"positive", "negative", *EMOTION_ZH} & (set(p.scores) | {p.category})


def test_failing_opinion_model_leaves_sentiment_empty(polarity_zh: TextClassifier) -> None:
    class Broken:
        def __init__(self) -> None:
            self.labels = ["negative", "positive"]

        def scores(self, texts: object) -> object:
            raise RuntimeError("boom")

    analyzer = TextAnalyzer("hotline", {"p": Broken()})  # type: ignore[dict-item]
    [event] = analyzer.process(TextMessage("很好吃", id="1"))
    assert isinstance(event.payload, TextReportPayload) and event.payload.sentiment is None


def report(hour: int, minute: int, category: str | None, **payload: object) -> Event:
    return Event(
        kind="text.report",
        source="f",
        time=datetime(2024, 5, 1, hour, minute, tzinfo=UTC),
        payload={"category": category, **payload},
    )


def test_aggregate_by_category_and_area() -> None:
    events = [
        report(9, 5, "fire", sentiment=-0.8, emotion="fear", area="north"),
        report(9, 50, "fire", sentiment=0.4, area="south"),
        report(9, 55, "fire", area="north"),  # not scored: counts, but not in the means
        report(10, 1, "flood", sentiment=-0.2, emotion="sadness"),
        report(10, 2, None, sentiment=0.0),
    ]
    by_cat = aggregate_opinion(events, 3600, "category")
    rows = [(b.start.hour, b.key, b.count, b.scored, b.mean_polarity, b.share_negative)
            for b in by_cat]  # fmt: skip
    assert rows == [
        (9, "fire", 3, 2, -0.2, 0.5),
        (10, None, 1, 1, 0.0, 0.0),
        (10, "flood", 1, 1, -0.2, 1.0),
    ]
    by_area = aggregate_opinion(events, 86400, "area")
    assert {(b.key, b.count, dict(b.emotions).get("fear", 0)) for b in by_area} == {
        ("north", 2, 1),
        ("south", 1, 0),
        (None, 2, 0),
    }
    with pytest.raises(ValueError, match="category or area"):
        aggregate_opinion(events, 3600, "feed")


def _at(iso: str, category: str = "fire") -> Event:
    t = datetime.fromisoformat(iso)
    return Event(kind="text.report", source="f", time=t, payload={"category": category})


@pytest.mark.parametrize(
    ("tz", "window", "times", "edges"),
    [
        # Daily windows start at local midnight, not UTC midnight: 23:30Z is the next day here.
        ("Asia/Shanghai", 86400, ["2024-05-01T15:30+00:00", "2024-05-01T17:00+00:00"],
         [("2024-04-30T16:00+00:00", "2024-05-01T16:00+00:00", 1),
          ("2024-05-01T16:00+00:00", "2024-05-02T16:00+00:00", 1)]),
        # The day clocks go back is 25 hours long; both 01:xx hours fall in it.
        ("America/New_York", 86400, ["2024-11-03T05:30+00:00", "2024-11-03T06:30+00:00"],
         [("2024-11-03T04:00+00:00", "2024-11-04T05:00+00:00", 2)]),
        # Hourly: the repeated local hour 01:00-02:00 is one two-hour window.
        ("America/New_York", 3600, ["2024-11-03T05:30+00:00", "2024-11-03T06:30+00:00"],
         [("2024-11-03T05:00+00:00", "2024-11-03T07:00+00:00", 2)]),
    ],
)  # fmt: skip
def test_aggregate_windows_follow_the_site_time_zone(
    tz: str, window: int, times: list[str], edges: list[tuple[str, str, int]]
) -> None:
    buckets = aggregate_opinion([_at(t) for t in times], window, "category", ZoneInfo(tz))
    got = [(b.start, b.end, b.count) for b in buckets]
    want = [(datetime.fromisoformat(a), datetime.fromisoformat(b), n) for a, b, n in edges]
    assert got == want


def test_polarity_model_on_real_reviews(data_dir: Path) -> None:
    """A TF-IDF polarity model on 2,000 real waimai_10k reviews scores held-out ones well."""
    records = list(import_dataset("waimai_10k", data_dir / "sentiment" / "waimai_10k.csv"))
    random.Random(0).shuffle(records)
    train, test = records[:2000], records[2000:2600]
    model = tiny([r.text for r in train], [r.labels[0] for r in train])
    out = OpinionScorer(polarity_zh=model).analyze([r.text for r in test], ["zh"] * len(test))
    said = [(o.polarity or 0) > 0 for o in out]
    right = sum(s == (r.labels[0] == "positive") for s, r in zip(said, test, strict=True))
    assert right / len(test) > 0.8


@pytest.mark.parametrize("name", ["polarity-zh", "emotion-zh"])
def test_shipped_default_models_drive_opinion(name: str) -> None:
    from citysentinel.text.analyzer import load_models
    from citysentinel.text.defaults import builtin_names

    if name not in builtin_names():
        pytest.skip(f"builtin:{name} is not shipped yet (scripts/train-text-defaults)")
    analyzer = TextAnalyzer("hotline", load_models([f"builtin:{name}"]))
    good, bad = analyzer.analyze(
        [
            TextMessage("救援人员来得很快，太感谢了", id="1"),
            TextMessage("等了三个小时没人管，太气人了", id="2"),
        ]
    )
    assert good.event is not None and bad.event is not None
    pg, pb = good.event.payload, bad.event.payload
    assert isinstance(pg, TextReportPayload) and isinstance(pb, TextReportPayload)
    assert good.event.labels == [] and pg.category is None  # opinion, not a category
    if name == "polarity-zh":
        assert pg.sentiment is not None and pb.sentiment is not None
        assert pg.sentiment > 0 > pb.sentiment
    else:
        assert pg.emotion is not None and pb.emotion in {"anger", "disgust", "sadness"}


def test_area_comes_from_the_file_column_else_the_feed(tmp_path: Path) -> None:
    from citysentinel.config import TextFeedConfig
    from citysentinel.text.feeds import read_messages

    path = tmp_path / "calls.csv"
    path.write_text("desc,twp\nsmoke seen,NORRISTOWN\nwires down,\n", encoding="utf-8")
    feed = TextFeedConfig.model_validate(
        {"id": "calls", "type": "file", "path": str(path), "area": "county",
         "columns": {"text": "desc", "area": "twp"}}
    )  # fmt: skip
    messages = list(read_messages(path, feed, UTC))
    events = TextAnalyzer("calls", area=feed.area).analyze(messages)
    payloads = [e.event.payload for e in events if e.event is not None]
    assert [p.area for p in payloads if isinstance(p, TextReportPayload)] == [
        "NORRISTOWN",
        "county",
    ]
