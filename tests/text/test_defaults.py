"""Shipped default text models: resolvable as builtin:<name>, carded, small, and plausible."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from citysentinel.config import ConfigError, load_config, parse_config
from citysentinel.events.payloads import TextReportPayload
from citysentinel.text.analyzer import TextAnalyzer, TextMessage, TextModelError, load_models
from citysentinel.text.classify import TextClassifier
from citysentinel.text.datasets import read_cec
from citysentinel.text.defaults import (
    CRISIS_INCIDENTS,
    DEFAULTS_DIR,
    UnknownBuiltinModel,
    builtin_names,
    resolve_model,
)
from citysentinel.text.defaults.recipes import CEC_TYPE, RECIPES, SOURCES, dedup_key

ROOT = Path(__file__).resolve().parents[2]


@cache
def model(name: str) -> TextClassifier:
    return TextClassifier.load(resolve_model(f"builtin:{name}"))


def share_correct(name: str, cases: list[tuple[str, str]]) -> float:
    predicted = model(name).predict([text for text, _ in cases])
    return sum(p[0] == want for p, (_, want) in zip(predicted, cases, strict=True)) / len(cases)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_default_is_shipped_with_a_card(name: str) -> None:
    assert name in builtin_names()
    path = resolve_model(f"builtin:{name}")
    assert path == DEFAULTS_DIR / name
    assert {"model.json", "model.npz", "labels.json", "card.json", "card.md"} <= {
        p.name for p in path.iterdir()
    }
    assert not (path / "model.joblib").exists()  # no pickle in the package
    card = model(name).card
    assert card["name"] == name and set(card["languages"]) == set(RECIPES[name].languages)
    assert 0 < card["validation"]["macro_f1"] <= 1 and card["split"]["val_groups"] >= 1
    assert card["command"].startswith("citysentinel train text ")
    assert {d["dataset"] for d in card["data_sources"]} <= set(SOURCES)
    assert all(d["licence"] for d in card["data_sources"])
    assert model(name).labels == sorted(card["training_rows"]["labels"])
    assert "licence" in (path / "card.md").read_text(encoding="utf-8")


def test_the_default_set_stays_small() -> None:
    total = sum(p.stat().st_size for p in DEFAULTS_DIR.rglob("*") if p.is_file())
    assert total < 8_000_000


def test_builtin_names_load_once_through_the_analyzer_loader() -> None:
    cache: dict[Path, TextClassifier] = {}
    models = load_models(["builtin:relevance", "builtin:crisis-type"], cache)
    assert list(models) == ["relevance", "crisis-type"]
    assert load_models(["builtin:relevance"], cache)["relevance"] is models["relevance"]


@pytest.mark.parametrize("spec", ["builtin:nope", "builtin:", "builtin:../defaults"])
def test_unknown_builtin_is_a_clear_error(spec: str) -> None:
    with pytest.raises(UnknownBuiltinModel, match="builtin:relevance"):
        resolve_model(spec)
    with pytest.raises(TextModelError, match="unknown built-in text model"):
        load_models([spec])
    site = f"site: {{name: x}}\ntext_feeds:\n  - {{id: f, type: http, models: ['{spec}']}}\n"
    with pytest.raises(ConfigError, match=r"text_feeds\[0\]\.models.*unknown built-in"):
        parse_config(site, env={})


CRISIS_CASES = [
    ("Huge fire at the warehouse on King Street, thick smoke everywhere", "fire"),
    ("Wildfire spreading toward the homes near the canyon, evacuate now", "fire"),
    ("Magnitude 6.1 earthquake shook the city, buildings cracked", "earthquake"),
    ("Strong quake felt downtown, aftershocks continuing", "earthquake"),
    ("Flood water rising fast on the river road after the storm", "flood_storm"),
    ("Hurricane winds knocked down trees, heavy rain and flooding", "flood_storm"),
    ("Massive explosion at the fertilizer plant, windows blown out", "explosion"),
    ("Two bombs exploded near the finish line, police say terror attack", "violence_terror"),
    ("Train derailed this morning, several carriages overturned", "traffic_accident"),
    ("Ebola outbreak: new cases confirmed at the hospital", "public_health"),
    ("居民楼发生火灾，浓烟滚滚，消防车已赶到", "fire"),
    ("四川某县发生5.8级地震，多处房屋倒塌", "earthquake"),
    ("高速公路发生车祸，一辆货车与客车相撞", "traffic_accident"),
    ("学校食堂多名学生出现食物中毒症状被送医", "public_health"),
    ("歹徒持刀在车站砍人，警方已控制嫌疑人", "violence_terror"),
    ("这家外卖很好吃，送餐也很快，下次还点", "not_crisis"),
    ("Can't wait for the concert tonight with my best friends", "not_crisis"),
]


def test_crisis_type_reads_handwritten_messages_plausibly() -> None:
    assert share_correct("crisis-type", CRISIS_CASES) >= 0.75


def test_relevance_separates_emergencies_from_chatter() -> None:
    cases = [(t, "not_relevant" if k == "not_crisis" else "relevant") for t, k in CRISIS_CASES]
    cases += [
        ("Happy birthday to my little sister, love you!", "not_relevant"),
        ("手机屏幕很清晰，电池也耐用，好评", "not_relevant"),
    ]
    assert share_correct("relevance", cases) >= 0.75


def test_urgency_flags_requests_for_help() -> None:
    cases = [
        ("Please send help, we are trapped under the collapsed house", "urgent"),
        ("We need water and medical help urgently, many injured here", "urgent"),
        ("People are dead and others missing in the rubble, need rescue", "urgent"),
        ("The weather is nice today, going to the beach", "not_urgent"),
        ("Thanks to everyone who donated to the relief fund last year", "not_urgent"),
        ("The football match was postponed to next week", "not_urgent"),
    ]
    assert share_correct("urgency", cases) >= 0.66


def test_polarity_and_emotion_defaults_fit_the_opinion_scorer() -> None:
    cases = [
        ("味道很好，送餐很快，非常满意", "positive"),
        ("质量太差了，用了一天就坏了，退货", "negative"),
        ("服务态度很好，推荐购买", "positive"),
        ("等了两个小时才送到，饭都凉了", "negative"),
    ]
    assert share_correct("polarity-zh", cases) >= 0.75
    from citysentinel.text.sentiment import is_emotion_model, is_polarity_model

    assert is_polarity_model(model("polarity-zh")) and is_emotion_model(model("emotion-zh"))


def test_cec_reports_get_their_type(data_dir: Path) -> None:
    # Sentences of these reports were training data: a sanity check that whole reports,
    # longer than any training row, still land on their type.
    recs = list(read_cec(data_dir / "crisis/cec"))
    predicted = model("crisis-type").predict([r.text for r in recs])
    hits = Counter(CEC_TYPE[r.labels[0]] == p[0] for r, p in zip(recs, predicted, strict=True))
    assert hits[True] / len(recs) >= 0.9


def test_example_site_routes_every_crisis_type_to_an_incident() -> None:
    site = load_config(ROOT / "examples/site.yaml", env={})
    feeds = [f for f in site.text_feeds if f.models]
    assert feeds and all(f.models[0] == "builtin:crisis-type" for f in feeds)
    opened = {}
    for rule in site.rules:
        if "text.report" in rule.match.kind:
            for label in rule.match.labels:
                opened[label] = (rule.incident.category.value, rule.incident.sub_category)
    assert {k: opened.get(k) for k in CRISIS_INCIDENTS} == CRISIS_INCIDENTS


def test_a_fire_message_opens_the_fire_rule() -> None:
    site = load_config(ROOT / "examples/site.yaml", env={})
    feed = next(f for f in site.text_feeds if f.models)
    analyzer = TextAnalyzer(feed.id, load_models(feed.models))
    [event] = analyzer.process(
        TextMessage("Fire in the cafe kitchen, flames and smoke, people running out", id="1")
    )
    assert isinstance(event.payload, TextReportPayload)
    assert event.payload.category == "fire"
    tz = ZoneInfo(site.site.timezone)
    event = event.model_copy(update={"time": datetime(2024, 5, 4, 12, tzinfo=UTC)})
    matched = [r.incident.sub_category for r in site.rules if r.matches(event, tz)]
    assert matched == ["buildingFire"]


def test_dedup_key_ignores_retweet_markers_and_links() -> None:
    assert dedup_key("RT @a: RT @b: Fire downtown http://t.co/1") == dedup_key(
        "fire  downtown www.x.org"
    )
    assert dedup_key("fire downtown") != dedup_key("flood downtown")


@pytest.fixture(scope="module")
def imported(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first rows of every corpus the recipes read, imported as the script does."""
    from citysentinel.text.datasets import import_dataset
    from citysentinel.text.records import write_jsonl

    out = tmp_path_factory.mktemp("imported")
    paths = {
        "crisislex_t6": "crisis/crisislex_t6",
        "crisislex_t26": "crisis/crisislex_t26",
        "crisisnlp_lrec2016": "crisis/crisisnlp_lrec2016",
        "disaster_response": "crisis/disaster_response",
        "cec": "crisis/cec",
        "crisis_misc": "crisis/misc",
        "waimai_10k": "sentiment/waimai_10k.csv",
        "online_shopping_10_cats": "sentiment/online_shopping_10_cats.zip",
        "clue_emotion": "sentiment/clue_emotion_valid.jsonl",
    }
    for name, rel in paths.items():
        limit = None if name == "cec" else 400
        write_jsonl(import_dataset(name, data_dir / rel, limit=limit), out / f"{name}.jsonl")
    return out


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_derive_the_shipped_label_sets(imported: Path, tmp_path: Path, name: str) -> None:
    import json

    from citysentinel.text.defaults.recipes import derive

    info = derive(name, imported, tmp_path / "rows.jsonl")
    lines = (tmp_path / "rows.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == info.n > 0
    assert set(info.labels) <= set(model(name).labels)
    assert set(info.langs) <= set(RECIPES[name].languages) | {"en", "zh"}
    assert len({dedup_key(r["text"]) for r in rows}) == len(rows)  # no duplicates left
    assert all(r["group"] for r in rows)
    if name in ("relevance", "crisis-type"):
        assert {"en", "zh"} <= set(info.langs)  # both languages are trained
        external = derive(name, imported, tmp_path / "ext.jsonl", external=True)
        assert external.n > 0 and external.sources == ["crisis_misc"]
