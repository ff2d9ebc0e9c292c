"""Portable TF-IDF + linear format: same features and scores as scikit-learn, no pickle."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

from citysentinel.text import portable
from citysentinel.text.classify import MODEL_FILE, TextClassifier, TrainConfig, train_classifier
from citysentinel.text.encoders import TfidfEncoderConfig, build_encoder
from citysentinel.text.encoders.tfidf import TfidfEncoder, normalize

ODD = [
    "Fire!!  at   the  Main St. depot",
    "a I x",
    "上海市浦东新区发生火灾 fire",
    "RT @bob: flood http://t.co/x #flood",
    "",
    "   ",
    "don't panic, it's fine",
    "\u5927\u706b\n\n\t\u6d2a\u6c34",
]


def _corpus(n: int = 240, seed: int = 0) -> tuple[list[str], list[tuple[str, ...]], list[str]]:
    # Templates with shared filler words, so classes overlap like real messages do.
    rng = random.Random(seed)
    cues = {
        "fire": ["fire", "smoke", "blaze", "火灾", "浓烟"],
        "flood": ["flood", "water rising", "river", "洪水", "暴雨"],
        "quake": ["earthquake", "tremor", "magnitude", "地震", "余震"],
    }
    filler = ["near", "the", "station", "people", "now", "street", "小区", "附近", "please", "help"]
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    groups: list[str] = []
    for i in range(n):
        label = list(cues)[i % 3]
        words = [*rng.sample(filler, 4), rng.choice(cues[label]), rng.choice(cues[label])]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append((label,))
        groups.append(f"event{i % 8}")
    return texts, labels, groups


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-class model trained once and saved portably; tests copy the directory."""
    texts, labels, groups = _corpus(90)
    out = tmp_path_factory.mktemp("portable") / "m"
    train_classifier(texts, labels, groups, TrainConfig(c_grid=(1.0,))).save(out)
    return out


@pytest.mark.parametrize("text", ODD)
def test_analyzers_match_scikit_learn(text: str) -> None:
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), preprocessor=normalize)
    assert portable.char_wb_ngrams(normalize(text), 2, 4) == chars.build_analyzer()(text)
    from citysentinel.text.encoders.tfidf import words

    wv = TfidfVectorizer(
        analyzer="word",
        tokenizer=words,
        token_pattern=None,
        lowercase=False,
        preprocessor=normalize,
        ngram_range=(1, 2),
    )
    assert portable.word_ngrams(words(normalize(text)), 1, 2) == wv.build_analyzer()(text)


def test_portable_encoder_equals_tfidf_encoder() -> None:
    texts, _, _ = _corpus()
    enc = build_encoder(TfidfEncoderConfig(min_df=1)).fit(texts)
    assert isinstance(enc, TfidfEncoder)
    again = portable.PortableTfidf.from_encoder(enc)
    probe = texts[:30] + ODD
    diff = enc.encode(probe) - again.encode(probe)
    assert abs(diff).max() < 1e-6


@pytest.mark.parametrize(
    ("kind", "multi_label", "labels_of"),
    [
        ("binary", False, lambda lab: ("fire" if lab == "fire" else "other",)),
        ("ovr", False, lambda lab: (lab,)),
        ("ovr_multilabel", True, lambda lab: (lab, "any") if lab != "quake" else (lab,)),
    ],
)
def test_round_trip_scores_equal_the_sklearn_model(
    tmp_path: Path, kind: str, multi_label: bool, labels_of: object
) -> None:
    texts, labels, groups = _corpus()
    labels = [labels_of(lab[0]) for lab in labels]  # type: ignore[operator]
    config = TrainConfig(
        encoder=TfidfEncoderConfig(min_df=1), c_grid=(1.0,), multi_label=multi_label
    )
    clf = train_classifier(texts, labels, groups, config)
    clf.save(tmp_path / "m")
    assert not (tmp_path / "m" / MODEL_FILE).exists()  # no pickle written
    meta = json.loads((tmp_path / "m" / portable.JSON_FILE).read_text())
    assert meta["linear"] == kind and meta["labels"] == clf.labels
    with np.load(tmp_path / "m" / portable.NPZ_FILE, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    again = TextClassifier.load(tmp_path / "m")
    probe = texts[:60] + ODD
    a, b = clf.scores(probe), again.scores(probe)
    assert a.shape == b.shape and np.abs(a - b).max() < 2e-3  # float16 coefficients
    assert again.predict(probe) == clf.predict(probe)
    assert again.multi_label is multi_label and again.card == clf.card


def test_pruned_training_keeps_max_terms_and_round_trips(tmp_path: Path) -> None:
    texts, labels, groups = _corpus()
    config = TrainConfig(encoder=TfidfEncoderConfig(min_df=1), c_grid=(1.0,), max_terms=150)
    clf = train_classifier(texts, labels, groups, config)
    assert isinstance(clf.encoder, portable.PortableTfidf)
    assert clf.encoder.n_features == 150
    kept = set(clf.encoder.parts[0].terms) | set(clf.encoder.parts[1].terms)
    assert {"fire", "flood", "火灾"} <= kept  # the class cues survive chi2 selection
    assert clf.card["validation"]["macro_f1"] > 0.9
    clf.save(tmp_path / "m")
    again = TextClassifier.load(tmp_path / "m")
    assert np.abs(again.scores(texts[:50]) - clf.scores(texts[:50])).max() < 2e-3


def test_old_joblib_model_directories_still_load(tmp_path: Path) -> None:
    texts, labels, groups = _corpus()
    clf = train_classifier(texts, labels, groups, TrainConfig(c_grid=(1.0,)))
    tmp_path.joinpath("old").mkdir()
    joblib.dump(
        {"encoder": clf.encoder, "model": clf.model, "labels": clf.labels, "multi_label": False},
        tmp_path / "old" / MODEL_FILE,
    )
    again = TextClassifier.load(tmp_path / "old")
    assert np.array_equal(again.scores(texts[:10]), clf.scores(texts[:10]))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.json").write_text("{not json"), "model.json"),
        (lambda d: (d / "model.json").write_text('{"format": "other/9"}'), "format"),
        (lambda d: (d / "model.npz").write_bytes(b"garbage"), "model"),
        (lambda d: (d / "model.npz").unlink(), "model.npz"),
        (lambda d: (d / "model.json").write_text("[1]"), "not a JSON object"),
        (lambda d: _edit_meta(d, labels=5), "labels is not a list"),
        (lambda d: _edit_meta(d, labels=["a", "b", "c", "d"]), "4 labels but 3"),
        (lambda d: _cut(d, keep=0.5), "not a zip file"),  # truncated download
        (lambda d: _cut(d, keep=1.0, flip=True), "model"),  # corrupt compressed bytes
        (lambda d: _edit_npz(d, coef=lambda a: a.ravel()), "disagree"),
    ],
)
def test_damaged_portable_model_is_a_clear_error(
    tmp_path: Path, small_model: Path, damage: object, message: str
) -> None:
    shutil.copytree(small_model, tmp_path / "m")
    damage(tmp_path / "m")  # type: ignore[operator]
    with pytest.raises(portable.PortableFormatError, match=message):
        TextClassifier.load(tmp_path / "m")


def _edit_meta(d: Path, **changes: object) -> None:
    meta = json.loads((d / portable.JSON_FILE).read_text())
    (d / portable.JSON_FILE).write_text(json.dumps({**meta, **changes}))


def _cut(d: Path, keep: float, flip: bool = False) -> None:
    raw = bytearray((d / portable.NPZ_FILE).read_bytes())
    raw = raw[: int(len(raw) * keep)]
    if flip:  # inside the first member's compressed data, after its local header
        raw[100:300] = bytes(b ^ 0xFF for b in raw[100:300])
    (d / portable.NPZ_FILE).write_bytes(bytes(raw))


def _edit_npz(d: Path, **changes: Any) -> None:
    with np.load(d / portable.NPZ_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    for k, f in changes.items():
        arrays[k] = f(arrays[k])
    np.savez_compressed(d / portable.NPZ_FILE, **arrays)


def test_size_mismatch_is_refused(tmp_path: Path, small_model: Path) -> None:
    shutil.copytree(small_model, tmp_path / "m")
    with np.load(tmp_path / "m" / portable.NPZ_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["coef"] = arrays["coef"][:-3]
    np.savez_compressed(tmp_path / "m" / portable.NPZ_FILE, **arrays)
    with pytest.raises(portable.PortableFormatError, match="disagree"):
        TextClassifier.load(tmp_path / "m")
