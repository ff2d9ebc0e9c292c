"""Every text encoder honours the protocol; e5 and MiniLM give sensible frozen embeddings."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from citysentinel.text.classify import TextClassifier, TrainConfig, train_classifier
from citysentinel.text.encoders import (
    CONFIGS,
    ENCODERS,
    E5EncoderConfig,
    TextEncoder,
    build_encoder,
    encoder_config,
)
from citysentinel.text.encoders.cache import cached_encode, embedding_cache

TEXTS = ["上海浦东发生火灾", "fire on main street", "the river flooded the park", ""]
FIRE = ["big fire downtown", "smoke and flames at the market", "building on fire", "火灾 浓烟"]
FLOOD = ["the street is flooded", "water rising in the park", "flood near the river", "洪水 积水"]


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def encoder(request: pytest.FixtureRequest) -> TextEncoder:
    config = encoder_config(request.param)
    if request.param == "tfidf":
        config = config.model_copy(update={"min_df": 1})
    return build_encoder(config).fit(TEXTS)


def test_every_encoder_gives_one_row_per_text_in_order(encoder: TextEncoder) -> None:
    assert isinstance(encoder, TextEncoder)
    full = encoder.encode(TEXTS)
    assert full.shape[0] == len(TEXTS)
    one = encoder.encode(TEXTS[1:2])
    dense = full.toarray() if hasattr(full, "toarray") else np.asarray(full)
    row = one.toarray() if hasattr(one, "toarray") else np.asarray(one)
    # Dynamic int8 quantization scales activations per batch: close, not bit-equal.
    assert np.allclose(dense[1], row[0], atol=0.05)
    if encoder.name != "tfidf":  # scikit-learn refuses an empty batch
        assert encoder.encode([]).shape[0] == 0


@pytest.mark.parametrize("name", ["e5", "minilm"])
def test_frozen_embeddings_are_unit_vectors_that_group_meanings(name: str) -> None:
    enc = build_encoder(encoder_config(name)).fit([])
    x = np.asarray(enc.encode(["fire in the building", "the building is burning", "lunch menu"]))
    assert x.shape == (3, 384)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-3)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.1


def test_e5_reads_chinese_and_pickles_without_its_engine() -> None:
    enc = build_encoder(E5EncoderConfig(batch_size=2))
    x = np.asarray(
        enc.encode(["仓库起火，浓烟滚滚", "warehouse fire with thick smoke", "今天天气很好"])
    )
    assert x[0] @ x[1] > x[0] @ x[2]  # same event across languages beats same language
    blob = pickle.dumps(enc)
    assert len(blob) < 2000
    assert np.allclose(pickle.loads(blob).encode(["仓库起火，浓烟滚滚"])[0], x[0], atol=1e-5)


@pytest.mark.parametrize("name", ["e5", "minilm"])
def test_a_head_on_frozen_embeddings_trains_saves_and_loads(name: str, tmp_path: Path) -> None:
    texts, labels = FIRE + FLOOD, [("fire",)] * 4 + [("flood",)] * 4
    groups = [f"g{i % 4}" for i in range(len(texts))]
    config = TrainConfig(encoder=encoder_config(name), c_grid=(10.0,))
    clf = train_classifier(texts, labels, groups, config)
    assert clf.card["encoder"]["type"] == name
    clf.save(tmp_path / "m")
    again = TextClassifier.load(tmp_path / "m")
    assert again.predict(["flames and smoke", "water everywhere in the street"]) == [
        ("fire",),
        ("flood",),
    ]


def test_embedding_cache_encodes_each_text_once_and_persists(tmp_path: Path) -> None:
    calls: list[int] = []

    def fake(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        calls.append(len(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    assert cached_encode("k", ["a"], fake).shape == (1, 2) and calls == [1]  # no cache active
    with embedding_cache(tmp_path):
        first = cached_encode("k", ["ab", "c", "ab"], fake)
        second = cached_encode("k", ["c", "d"], fake)
    assert calls == [1, 2, 1]
    assert first[:, 0].tolist() == [2, 1, 2] and second[:, 0].tolist() == [1, 1]
    with embedding_cache(tmp_path):
        assert cached_encode("k", ["ab", "d"], fake)[:, 0].tolist() == [2, 1]
    assert calls == [1, 2, 1]  # served from the files
    with embedding_cache(None):
        cached_encode("k", ["ab"], fake)
    assert calls == [1, 2, 1, 1]


def test_unknown_encoder_names_are_refused() -> None:
    assert set(ENCODERS) == set(CONFIGS) == {"tfidf", "e5", "minilm"}
    with pytest.raises(ValueError, match="unknown encoder 'bert'"):
        encoder_config("bert")


def test_an_inner_memory_cache_uses_the_outer_file_cache(tmp_path: Path) -> None:
    def fake(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.ones((len(texts), 2), dtype=np.float32)

    with embedding_cache(tmp_path), embedding_cache(None):
        cached_encode("k", ["a"], fake)
    assert (tmp_path / "k.npy").is_file()
