"""Training sets of the shipped default text models, derived from the imported public corpora.

Each recipe reads canonical JSONL files written by `python -m citysentinel.text
import NAME PATH OUT.jsonl` (all in one folder, named `<NAME>.jsonl`), maps their
labels to the task's labels with the documented tables below, drops exact
duplicates (retweets) and non-English/Chinese rows, caps very large crises and
writes one JSONL for `citysentinel train text`. Everything is deterministic
(seeded sampling), so `scripts/train-text-defaults` reproduces the defaults.

Example:
    >>> derive("crisis-type", Path("var/imported"), Path("ct.jsonl"))  # doctest: +SKIP
    Derived(name='crisis-type', n=31904, ...)
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citysentinel.text.encoders.tfidf import normalize

# Dataset -> (creators, licence); copied onto every card that uses the dataset.
SOURCES: dict[str, tuple[str, str]] = {
    "crisislex_t6": ("CrisisLex T6, Olteanu et al. ICWSM 2014", "MIT"),
    "crisislex_t26": ("CrisisLex T26, Olteanu et al. CSCW 2015", "MIT"),
    "crisisnlp_lrec2016": (
        "CrisisNLP, Imran et al. LREC 2016",
        "QCRI terms of use: research on humanitarian computing only",
    ),
    "disaster_response": ("Figure Eight disaster response messages", "CC BY 4.0"),
    "cec": ("CEC Chinese Emergency Corpus, Shanghai University", "research use"),
    "waimai_10k": ("waimai_10k, ChineseNlpCorpus", "no licence stated by the publisher"),
    "online_shopping_10_cats": (
        "online_shopping_10_cats, ChineseNlpCorpus",
        "no licence stated by the publisher",
    ),
    "clue_emotion": ("CLUE Emotion 2020 (NLPCC, Li et al. LREC 2016)", "research use"),
    "crisis_misc": (
        "disasters on social media (Figure Eight); ISCRAM 2013 and Ecuador 2016 (CrisisNLP)",
        "Figure Eight: CC BY 4.0 as published; CrisisNLP: research use",
    ),
}

# Crisis (the importer's group, lower-cased) -> incident category. Crises that
# fit none (the 2013 Russian meteor) and the Spanish-language Chile file are left out.
CRISIS_TYPE: dict[str, str] = {
    "2012_colorado_wildfires": "fire",
    "2012_costa_rica_earthquake": "earthquake",
    "2012_philipinnes_floods": "flood_storm",
    "2012_sandy_hurricane": "flood_storm",
    "2012_typhoon_pablo": "flood_storm",
    "2012_venezuela_refinery": "explosion",
    "2013_alberta_floods": "flood_storm",
    "2013_boston_bombings": "violence_terror",
    "2013_colorado_floods": "flood_storm",
    "2013_glasgow_helicopter_crash": "traffic_accident",
    "2013_ny_train_crash": "traffic_accident",
    "2013_oklahoma_tornado": "flood_storm",
    "2013_pakistan_eq": "earthquake",
    "2013_queensland_floods": "flood_storm",
    "2013_west_texas_explosion": "explosion",
    "2014_california_eq": "earthquake",
    "2014_chile_eq_en": "earthquake",
    "2014_ebola_virus": "public_health",
    "2014_hurricane_odile": "flood_storm",
    "2014_india_floods": "flood_storm",
    "2014_mers": "public_health",
    "2014_pakistan_floods": "flood_storm",
    "2014_typhoon_hagupit": "flood_storm",
}
# CEC folder -> incident category.
CEC_TYPE: dict[str, str] = {
    "earthquake": "earthquake",
    "fire": "fire",
    "food_poisoning": "public_health",
    "terrorist_attack": "violence_terror",
    "traffic_accident": "traffic_accident",
}
NOT_CRISIS = "not_crisis"

# Relevance: CrisisLex/CrisisNLP labels -> relevant / not_relevant (absent: row dropped).
RELEVANCE: dict[str, str] = {
    "on-topic": "relevant",
    "off-topic": "not_relevant",
    "Related and informative": "relevant",
    "Related - but not informative": "relevant",
    "Not related": "not_relevant",
    "not_related_or_irrelevant": "not_relevant",
}

# Humanitarian information type: CrisisLex T26 `information_type` and CrisisNLP categories.
INFO_TYPE: dict[str, str] = {
    "Affected individuals": "affected_people",
    "Infrastructure and utilities": "infrastructure_utilities",
    "Donations and volunteering": "donations_volunteering",
    "Caution and advice": "caution_advice",
    "Sympathy and support": "sympathy_support",
    "Other Useful Information": "other_information",
    "affected_people": "affected_people",
    "injured_or_dead_people": "affected_people",
    "deaths_reports": "affected_people",
    "missing_trapped_or_found_people": "affected_people",
    "displaced_people_and_evacuations": "affected_people",
    "infrastructure_and_utilities_damage": "infrastructure_utilities",
    "donation_needs_or_offers_or_volunteering_services": "donations_volunteering",
    "caution_and_advice": "caution_advice",
    "prevention": "caution_advice",
    "sympathy_and_emotional_support": "sympathy_support",
    "other_useful_information": "other_information",
    "disease_signs_or_symptoms": "other_information",
    "disease_transmission": "other_information",
    "treatment": "other_information",
    "not_related_or_irrelevant": "not_related",
    "Not related": "not_related",
}

# Urgency proxy: a disaster_response message is `urgent` when it carries any of these
# needs labels (someone asks for help, or people are hurt, dead, missing or trapped).
URGENT_NEEDS = ("request", "medical_help", "search_and_rescue", "death", "missing_people")

LANGS = ("en", "zh")
CAP_PER_GROUP_LABEL = 1000  # the six CrisisLex T6 crises have 10k tweets each
_RT = re.compile(r"^(rt\s+@user:?\s*)+")


@dataclass(frozen=True)
class Row:
    """One derived training row."""

    text: str
    label: str
    group: str
    lang: str
    source: str


@dataclass
class Derived:
    """What a recipe wrote: counts per label and language, and the sources used."""

    name: str
    n: int
    labels: dict[str, int]
    langs: dict[str, int]
    sources: list[str]
    dropped_duplicates: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recipe:
    """A default model: its task, languages, input corpora and label derivation."""

    name: str
    task: str
    languages: tuple[str, ...]
    inputs: tuple[str, ...]
    rows: Callable[[Path], Iterator[Row]]
    max_terms: int
    notes: tuple[str, ...] = ()


def _read(folder: Path, dataset: str) -> Iterator[dict[str, Any]]:
    path = folder / f"{dataset}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: import it with `python -m citysentinel.text import`")
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _chunk(key: str, n: int = 10) -> int:
    # Stable pseudo-groups for corpora that are one collection (reviews, posts).
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % n


def _label(rec: dict[str, Any]) -> str:
    labels = rec.get("labels") or []
    return str(labels[0]) if isinstance(labels, list) and labels else ""


def _crisis_rows(folder: Path, datasets: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for ds in datasets:
        for rec in _read(folder, ds):
            yield ds, rec


def _cec_rows(folder: Path, label_of: Callable[[str], str]) -> Iterator[Row]:
    # Title and each paragraph as a short text, grouped by document (the README warns that
    # whole CEC documents are easy; alerts and posts are short).
    for rec in _read(folder, "cec"):
        kind = str(rec["id"]).split("/")[1]
        for part in str(rec["text"]).split("\n"):
            if len(part) >= 8:
                yield Row(part, label_of(kind), str(rec["group"]), "zh", "cec")


def _zh_negatives(folder: Path, label: str, n: int, seed: int) -> Iterator[Row]:
    # Chinese non-crisis text: food-delivery and product reviews plus general microblog posts.
    pool: list[Row] = []
    for ds in ("waimai_10k", "online_shopping_10_cats", "clue_emotion"):
        for rec in _read(folder, ds):
            text = str(rec["text"])
            pool.append(Row(text, label, f"{ds}/{_chunk(text)}", "zh", ds))
    random.Random(seed).shuffle(pool)
    yield from pool[:n]


# Relevance, Chinese: a CEC sentence counts as a message about the emergency when it holds
# a word of its document's hazard (by CEC folder) or a word about harm or rescue; the rest
# (background on the place, bylines, quotes) is left out.
CEC_EVENT_WORDS: dict[str, tuple[str, ...]] = {
    "earthquake": ("地震", "震"),
    "fire": ("火", "烟", "燃", "烧", "消防"),
    "food_poisoning": ("中毒", "呕吐", "腹泻", "腹痛", "就医"),
    "terrorist_attack": ("袭击", "恐怖", "暴力", "爆炸", "砍", "刀", "枪"),
    "traffic_accident": ("事故", "撞", "翻", "车祸", "追尾", "坠"),
}
HARM_WORDS = ("伤", "死", "亡", "遇难", "被困", "救", "失踪", "疏散", "报警", "医院", "灾", "肇事")
# CLUE posts naming a disaster are left out of the negatives: some report a real one.
DISASTER_WORDS = ("地震", "火灾", "起火", "着火", "爆炸", "车祸", "遇难", "被困", "洪水", "台风")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|\n")


def _cec_sentences(folder: Path) -> Iterator[Row]:
    # Sentences (title included) that mention the event, grouped by document, so the split
    # keeps a document on one side: short texts like alerts and posts, not news paragraphs.
    for rec in _read(folder, "cec"):
        words = CEC_EVENT_WORDS[str(rec["id"]).split("/")[1]] + HARM_WORDS
        for part in _SENTENCE_END.split(str(rec["text"])):
            text = part.strip()
            if len(text) >= 6 and any(w in text for w in words):
                yield Row(text, "relevant", str(rec["group"]), "zh", "cec")


def _zh_conversation_negatives(folder: Path, n: int) -> Iterator[Row]:
    # Everyday Chinese: n CLUE microblog posts (none naming a disaster) and n food-delivery
    # and product reviews, each a seeded sample.
    posts: list[Row] = []
    for rec in _read(folder, "clue_emotion"):
        text = str(rec["text"])
        if not any(w in text for w in DISASTER_WORDS):
            posts.append(
                Row(text, "not_relevant", f"clue_emotion/{_chunk(text)}", "zh", "clue_emotion")
            )
    reviews: list[Row] = []
    for ds in ("waimai_10k", "online_shopping_10_cats"):
        for rec in _read(folder, ds):
            text = str(rec["text"])
            reviews.append(Row(text, "not_relevant", f"{ds}/{_chunk(text)}", "zh", ds))
    for pool in (posts, reviews):
        random.Random(1).shuffle(pool)
        yield from pool[:n]


def relevance_rows(folder: Path) -> Iterator[Row]:
    """CrisisLex T6/T26 and CrisisNLP relevance; CEC sentences vs Chinese posts and reviews."""
    n_zh = 0
    for ds, rec in _crisis_rows(folder, ("crisislex_t6", "crisislex_t26", "crisisnlp_lrec2016")):
        raw = _label(rec)
        label = RELEVANCE.get(raw, "relevant" if ds == "crisisnlp_lrec2016" else None)
        if label:
            yield Row(str(rec["text"]), label, str(rec["group"]).lower(), str(rec["lang"]), ds)
    for row in _cec_sentences(folder):
        n_zh += 1
        yield row
    yield from _zh_conversation_negatives(folder, n_zh)


def crisis_type_rows(folder: Path) -> Iterator[Row]:
    """Each crisis's hazard type (CRISIS_TYPE) for related tweets, `not_crisis` for unrelated."""
    n_zh = 0
    datasets = ("crisislex_t6", "crisislex_t26", "crisisnlp_lrec2016")
    for ds, rec in _crisis_rows(folder, datasets):
        group = str(rec["group"]).lower()
        kind = CRISIS_TYPE.get(group)
        raw = _label(rec)
        if kind is None or raw == "Not applicable":
            continue
        unrelated = RELEVANCE.get(raw) == "not_relevant" or raw == "not_related_or_irrelevant"
        label = NOT_CRISIS if unrelated else kind
        yield Row(str(rec["text"]), label, group, str(rec["lang"]), ds)
    for row in _cec_rows(folder, CEC_TYPE.__getitem__):
        n_zh += 1
        yield row
    yield from _zh_negatives(folder, NOT_CRISIS, n_zh, seed=2)


def info_type_rows(folder: Path) -> Iterator[Row]:
    """CrisisLex T26 information type and CrisisNLP humanitarian categories (INFO_TYPE)."""
    for ds, rec in _crisis_rows(folder, ("crisislex_t26", "crisisnlp_lrec2016")):
        meta = rec.get("meta") or {}
        raw = _label(rec)
        if ds == "crisislex_t26":
            raw = raw if raw == "Not related" else str(meta.get("information_type", ""))
        label = INFO_TYPE.get(raw)
        if label:
            yield Row(str(rec["text"]), label, str(rec["group"]).lower(), str(rec["lang"]), ds)


def urgency_rows(folder: Path) -> Iterator[Row]:
    """disaster_response messages: `urgent` when any URGENT_NEEDS label is set, else not."""
    for rec in _read(folder, "disaster_response"):
        labels = set(rec.get("labels") or [])
        label = "urgent" if labels & set(URGENT_NEEDS) else "not_urgent"
        group = str(rec["group"])
        if group == "NULL":  # messages of no named event: stable chunks, not one huge group
            group = f"no_event/{_chunk(str(rec['id']), 5)}"
        yield Row(str(rec["text"]), label, group, str(rec["lang"]), "disaster_response")


def polarity_rows(folder: Path) -> Iterator[Row]:
    """waimai_10k and online_shopping_10_cats reviews: positive / negative."""
    for ds in ("waimai_10k", "online_shopping_10_cats"):
        for rec in _read(folder, ds):
            text = str(rec["text"])
            group = str(rec["group"]) if ds != "waimai_10k" else f"waimai_10k/{_chunk(text, 5)}"
            yield Row(text, _label(rec), group, str(rec["lang"]), ds)


def emotion_rows(folder: Path) -> Iterator[Row]:
    """CLUE Emotion posts: seven emotions."""
    for rec in _read(folder, "clue_emotion"):
        text = str(rec["text"])
        yield Row(
            text, _label(rec), f"clue_emotion/{_chunk(text)}", str(rec["lang"]), "clue_emotion"
        )


def relevance_external(folder: Path) -> Iterator[Row]:
    """Test only: "disasters on social media" tweets, informative (a real disaster) or not."""
    for rec in _read(folder, "crisis_misc"):
        if rec["meta"].get("dataset") == "disasters_on_social_media":
            label = "relevant" if _label(rec) == "True" else "not_relevant"
            yield Row(str(rec["text"]), label, "dsm", str(rec["lang"]), "crisis_misc")


def crisis_type_external(folder: Path) -> Iterator[Row]:
    """Test only: informative tweets of two unseen crises (Joplin tornado, Ecuador quake)."""
    kinds = {"tornado": "flood_storm", "earthquake": "earthquake"}
    for rec in _read(folder, "crisis_misc"):
        kind = kinds.get(str(rec["meta"].get("event_type")))
        if (
            kind
            and rec["meta"].get("dataset") != "disasters_on_social_media"
            and _label(rec) == "True"
        ):
            yield Row(str(rec["text"]), kind, str(rec["group"]), str(rec["lang"]), "crisis_misc")


# Unseen data for an external check of a default (no training, no C selection on it).
EXTERNAL_TESTS: dict[str, Callable[[Path], Iterator[Row]]] = {
    "relevance": relevance_external,
    "crisis-type": crisis_type_external,
}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "relevance",
            "is the message about an emergency",
            ("en", "zh"),
            (
                "crisislex_t6",
                "crisislex_t26",
                "crisisnlp_lrec2016",
                "cec",
                "waimai_10k",
                "online_shopping_10_cats",
                "clue_emotion",
            ),
            relevance_rows,
            30_000,
            (
                "Chinese positives are single sentences and titles of CEC news reports that "
                "name the event's hazard or harm/rescue (CEC_EVENT_WORDS, HARM_WORDS), grouped "
                "by document; still news wording, not first-person posts.",
                "Chinese negatives: as many CLUE Emotion microblog posts (none naming a "
                "disaster, DISASTER_WORDS) and as many food-delivery and product reviews as "
                "there are CEC sentences; no crisis-free news, so Chinese non-emergency news "
                "is out of distribution.",
                "English negatives are tweets posted during the crises that are off-topic "
                "or marked not related; every CrisisNLP category except "
                "not_related_or_irrelevant counts as relevant.",
            ),
        ),
        Recipe(
            "crisis-type",
            "hazard type of the crisis a message is about",
            ("en", "zh"),
            (
                "crisislex_t6",
                "crisislex_t26",
                "crisisnlp_lrec2016",
                "cec",
                "waimai_10k",
                "online_shopping_10_cats",
                "clue_emotion",
            ),
            crisis_type_rows,
            30_000,
            (
                "English labels come from the crisis a tweet was collected for (CRISIS_TYPE), "
                "not from reading each tweet: a tweet about the Boston marathon collected "
                "during the bombings is violence_terror.",
                "traffic_accident includes a train crash and a helicopter crash (English) and "
                "road accidents (CEC, Chinese); public_health is Ebola and MERS (English) and "
                "food poisoning (CEC).",
                "not_crisis: unrelated tweets of those crises, and Chinese reviews and posts.",
                "No data: infrastructure damage and missing/trapped people as crisis types "
                "(see info-type), so they are not claimed.",
            ),
        ),
        Recipe(
            "info-type",
            "humanitarian information type",
            ("en",),
            ("crisislex_t26", "crisisnlp_lrec2016"),
            info_type_rows,
            30_000,
            (
                "CrisisNLP's injured/dead, missing/trapped, displaced and affected people are "
                "merged into affected_people, matching CrisisLex T26's coarser type.",
            ),
        ),
        Recipe(
            "urgency",
            "does the message need action (a proxy)",
            ("en",),
            ("disaster_response",),
            urgency_rows,
            20_000,
            (
                "A proxy, not annotated urgency: urgent = the message has any of the needs "
                f"labels {', '.join(URGENT_NEEDS)}; everything else (including unrelated "
                "messages) is not_urgent.",
                "English text (translated from Haitian Kreyol/Urdu where applicable); 2,336 "
                "messages, mostly the 2010 Haiti earthquake.",
            ),
        ),
        Recipe(
            "polarity-zh",
            "review polarity",
            ("zh",),
            ("waimai_10k", "online_shopping_10_cats"),
            polarity_rows,
            30_000,
            ("Trained on reviews; posts about public matters are out of domain.",),
        ),
        Recipe(
            "emotion-zh",
            "emotion of a Chinese post",
            ("zh",),
            ("clue_emotion",),
            emotion_rows,
            20_000,
            ("3,966 posts (the CLUE validation split), seven emotions.",),
        ),
    )
}


def dedup_key(text: str) -> str:
    """What makes two messages the same: normalised text without leading retweet markers.

    Example:
        >>> dedup_key("RT @bob: Fire!  http://t.co/x") == dedup_key("fire! https://t.co/y")
        True
    """
    return _RT.sub("", " ".join(normalize(text).split())).strip()


def derive(name: str, folder: Path, out: Path, *, seed: int = 0, external: bool = False) -> Derived:
    """Write recipe `name`'s training rows from the imported JSONL in `folder` to `out`.

    `external`: its unseen test rows instead (EXTERNAL_TESTS), not capped.
    """
    recipe = RECIPES[name]
    make_rows = EXTERNAL_TESTS[name] if external else recipe.rows
    seen: set[str] = set()
    dropped = 0
    by_cell: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in make_rows(folder):
        if row.lang not in LANGS or not row.label:
            continue
        key = dedup_key(row.text)
        if not key or key in seen:
            dropped += 1
            continue
        seen.add(key)
        by_cell[(row.group, row.label)].append(row)
    rng = random.Random(seed)
    rows: list[Row] = []
    for cell in sorted(by_cell):
        items = by_cell[cell]
        if len(items) > CAP_PER_GROUP_LABEL and not external:
            items = rng.sample(items, CAP_PER_GROUP_LABEL)
        rows.extend(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            rec = {"id": f"{name}/{i}", "text": r.text, "labels": [r.label], "group": r.group}
            f.write(json.dumps({**rec, "lang": r.lang, "source": r.source}, ensure_ascii=False))
            f.write("\n")
    return Derived(
        name=name,
        n=len(rows),
        labels=dict(sorted(Counter(r.label for r in rows).items())),
        langs=dict(sorted(Counter(r.lang for r in rows).items())),
        sources=sorted({r.source for r in rows}),
        dropped_duplicates=dropped,
        notes=list(recipe.notes),
    )
