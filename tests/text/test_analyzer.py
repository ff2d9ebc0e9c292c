"""TextAnalyzer: bad input never crashes, PII is masked everywhere, a trained model labels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from citysentinel.events import EventKind, EvidenceType
from citysentinel.events.payloads import TextReportPayload
from citysentinel.text.analyzer import (
    EXCERPT_CHARS,
    MessagePlace,
    TextAnalyzer,
    TextMessage,
    TextModelError,
    event_id,
    load_models,
)
from citysentinel.text.classify import TextClassifier, TrainConfig, train_classifier
from citysentinel.text.encoders import TfidfEncoderConfig

FIRE = [
    "fire in the building, smoke everywhere",
    "house on fire near the market",
    "big fire and smoke on Main Street",
    "flames and smoke from the warehouse fire",
    "the kitchen fire spread to the roof",
    "fire trucks at the burning factory",
]
FLOOD = [
    "flood water in the streets",
    "the river flooded the park",
    "heavy rain, flood in the tunnel",
    "flooded basement after the storm",
    "water rising, flood near the bridge",
    "the flood closed the main road",
]


def make_classifier() -> TextClassifier:
    """A tiny fire/flood TF-IDF model trained on a dozen rows (about a second)."""
    texts = FIRE + FLOOD
    labels = [("fire",)] * len(FIRE) + [("flood",)] * len(FLOOD)
    groups = [f"g{i % 4}" for i in range(len(texts))]
    config = TrainConfig(encoder=TfidfEncoderConfig(min_df=1), c_grid=(1.0, 10.0))
    return train_classifier(texts, labels, groups, config)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "hazard"
    make_classifier().save(out)
    return out


def payload(event: object) -> TextReportPayload:
    p = getattr(event, "payload", None)
    assert isinstance(p, TextReportPayload)
    return p


@pytest.mark.parametrize(
    ("raw", "skipped", "flags"),
    [
        ("", "empty", ()),
        ("   \n\t ", "empty", ()),
        (b"\x00\x01\x02\xff\xfe\x80" * 50, "binary", ()),
        ("\x00\x01\x02\x03\x04\x05\x06\x07", "binary", ()),
        ("fire " * 250_000, None, ("truncated",)),  # over 1 MB
        ("上海永嘉路发生火灾".encode("gbk"), None, ("decoded_gb18030",)),
        (b"caf\xe9 on fire", None, ("decode_replaced",)),
        ("Xyzzy plugh qwertz 12:30", None, ()),  # unknown language
        ("12:30 !!", None, ()),
    ],
)
def test_bad_input_never_crashes(
    raw: str | bytes, skipped: str | None, flags: tuple[str, ...]
) -> None:
    analyzer = TextAnalyzer("hotline", load_models([]))
    [outcome] = analyzer.analyze([TextMessage(raw, id="m1")])
    assert outcome.skipped == skipped
    if skipped is not None:
        assert outcome.event is None
        assert analyzer.skipped[skipped] == 1
        return
    event = outcome.event
    assert event is not None and event.kind is EventKind.TEXT_REPORT
    text = event.evidence[0].text or ""
    assert 0 < len(text) <= EXCERPT_CHARS
    caption = event.evidence[0].caption or ""
    assert all(f in caption for f in flags)
    assert payload(event).truncated == ("truncated" in flags)
    assert event.labels == [] and event.confidence == 1.0


def test_languages_are_detected_and_can_be_fixed_by_the_feed() -> None:
    auto = TextAnalyzer("f")
    msgs = [TextMessage("上海发生火灾"), TextMessage("Fire on the bridge"), TextMessage("12 !!")]
    assert [payload(a.event).lang for a in auto.analyze(msgs)] == ["zh", "en", "und"]
    fixed = TextAnalyzer("f", lang="zh")
    assert payload(fixed.process(TextMessage("Fire on the bridge"))[0]).lang == "zh"


def test_pii_is_masked_in_evidence_place_and_everything_serialized() -> None:
    raw = "火灾! 电话 138-1234-5678, mail li.wei@example.cn, 身份证 110101199003071234"
    message = TextMessage(raw, place=MessagePlace("call 13912345678 at the gate"))
    [event] = TextAnalyzer("hotline", channel="hotline").process(message)
    dumped = event.model_dump_json()
    for secret in ("138-1234-5678", "li.wei@example.cn", "110101199003071234", "13912345678"):
        assert secret not in dumped
    assert event.evidence[0].type is EvidenceType.TEXT
    assert event.evidence[0].text == "火灾! 电话 [PHONE], mail [EMAIL], 身份证 [ID]"
    assert "pii_masked" in (event.evidence[0].caption or "")
    assert event.location.address == "call [PHONE] at the gate"
    assert payload(event).channel == "hotline"


def test_event_ids_are_deterministic_by_id_or_content() -> None:
    t = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    a, b = TextMessage("fire", id="7"), TextMessage("smoke", id="7")
    assert event_id("f", a) == event_id("f", b) != event_id("g", a)
    c, d = TextMessage("fire", time=t), TextMessage("fire", time=t)
    assert event_id("f", c) == event_id("f", d) != event_id("f", TextMessage("fire"))
    [event] = TextAnalyzer("f").process(c)
    assert event.time == t and event.id == event_id("f", c)


def test_a_trained_model_labels_the_event(model_dir: Path) -> None:
    analyzer = TextAnalyzer("hotline", load_models([str(model_dir)]))
    fire, flood = analyzer.analyze(
        [
            TextMessage("smoke and fire at the market", place=MessagePlace("Main St", 31.2, 121.4)),
            TextMessage("the street is flooded, water everywhere"),
        ]
    )
    assert fire.event is not None and flood.event is not None
    assert fire.event.labels == ["fire"] and flood.event.labels == ["flood"]
    p = payload(fire.event)
    assert p.category == "fire" and set(p.scores) == {"fire", "flood"}
    assert fire.event.confidence == pytest.approx(p.scores["fire"]) and p.scores["fire"] > 0.5
    assert fire.event.location.point is not None
    assert fire.event.location.point.coordinates == (121.4, 31.2)


def test_a_failing_model_leaves_its_labels_out(model_dir: Path) -> None:
    class Broken(TextClassifier):
        def scores(self, texts: object) -> object:  # type: ignore[override]
            raise RuntimeError("boom")

    good = TextClassifier.load(model_dir)
    broken = Broken(good.encoder, good.model, good.labels, multi_label=False)
    [event] = TextAnalyzer("f", {"broken": broken}).process(TextMessage("fire"))
    assert event.labels == [] and "model_failed:broken" in (event.evidence[0].caption or "")


def test_models_load_once_and_a_bad_dir_is_named(model_dir: Path, tmp_path: Path) -> None:
    cache: dict[Path, TextClassifier] = {}
    first = load_models([str(model_dir)], cache)
    again = load_models([str(model_dir)], cache)
    assert first["hazard"] is again["hazard"] and len(cache) == 1
    with pytest.raises(TextModelError, match="nope"):
        load_models([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextModelError, match="empty: cannot be loaded"):
        load_models([str(tmp_path / "empty")])


def test_a_model_labels_only_the_languages_its_card_names() -> None:
    english_only = make_classifier()
    english_only.card["languages"] = ["en"]
    analyzer = TextAnalyzer("f", {"hazard": english_only})
    en, zh = analyzer.analyze(
        [
            TextMessage("big fire and smoke downtown", id="1"),
            TextMessage("大楼起火，浓烟滚滚", id="2"),
        ]
    )
    assert en.event is not None and zh.event is not None
    assert payload(en.event).category == "fire" and "fire" in en.event.labels
    assert payload(zh.event).category is None and zh.event.labels == []
    assert payload(zh.event).scores == {}
    assert "model_not_for_lang:hazard" in (zh.event.evidence[0].caption or "")
    assert "model_not_for_lang" not in (en.event.evidence[0].caption or "")
