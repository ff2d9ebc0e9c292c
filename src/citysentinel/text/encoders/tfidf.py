"""TF-IDF encoder: char n-grams plus word n-grams (jieba words for Chinese, regex words else)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse  # type: ignore[import-untyped]  # scipy ships no stubs
from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]  # no stubs
    TfidfVectorizer,
)

_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_CJK_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|#\w+|\[[A-Z]+\]", re.UNICODE)


class TfidfEncoderConfig(BaseModel):
    """TF-IDF settings; the defaults suit tweets, calls and short Chinese posts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tfidf"] = Field(default="tfidf", description="Encoder backend.")
    char_ngrams: tuple[int, int] = Field(default=(2, 4), description="Character n-gram range.")
    word_ngrams: tuple[int, int] = Field(default=(1, 2), description="Word n-gram range.")
    min_df: int = Field(default=2, ge=1, description="Ignore terms in fewer documents.")
    max_features: int = Field(default=200_000, ge=100, description="Vocabulary cap per part.")


def normalize(text: str) -> str:
    """Lower-case and replace URLs and @mentions with placeholders (they name no event type).

    Example:
        >>> normalize("RT @bob Fire! http://t.co/x")
        'rt @user fire! url'
    """
    return _USER.sub("@user", _URL.sub("url", text)).lower()


def words(text: str) -> list[str]:
    """Word tokens: jieba's words for runs of Chinese characters, regex words elsewhere.

    Example:
        >>> words("上海发生火灾 fire downtown")  # doctest: +SKIP
        ['上海', '发生', '火灾', 'fire', 'downtown']
    """
    out: list[str] = []
    for i, part in enumerate(_CJK_RUN.split(text)):
        if i % 2:  # odd parts are the captured Chinese runs
            out.extend(w for w in _jieba().lcut(part) if w.strip())
        else:
            out.extend(_WORD.findall(part))
    return out


_JIEBA: Any = None


def _jieba() -> Any:
    global _JIEBA  # loaded once: building jieba's prefix dictionary takes about a second
    if _JIEBA is None:
        import jieba  # type: ignore[import-untyped]  # jieba ships no stubs

        jieba.setLogLevel(logging.WARNING)
        _JIEBA = jieba
    return _JIEBA


class TfidfEncoder:
    """Sparse TF-IDF features: char n-grams (within word boundaries) stacked with word n-grams.

    Example:
        >>> enc = TfidfEncoder(TfidfEncoderConfig(min_df=1)).fit(["大火 fire", "flood 洪水"])
        >>> enc.encode(["fire 洪水"]).shape[0]
        1
    """

    name = "tfidf"

    def __init__(self, config: TfidfEncoderConfig | None = None) -> None:
        self.config = config or TfidfEncoderConfig()
        common: dict[str, Any] = {
            "min_df": self.config.min_df,
            "max_features": self.config.max_features,
            "sublinear_tf": True,
            "dtype": np.float32,
            "preprocessor": normalize,
        }
        self._chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.config.char_ngrams, **common
        )
        self._words = TfidfVectorizer(
            analyzer="word",
            tokenizer=words,
            token_pattern=None,
            lowercase=False,
            ngram_range=self.config.word_ngrams,
            **common,
        )

    def fit(self, texts: Sequence[str]) -> TfidfEncoder:
        """Learn both vocabularies and IDF weights from `texts`."""
        self._chars.fit(texts)
        self._words.fit(texts)
        return self

    @property
    def parts(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        """The fitted (char, word) vectorizers, e.g. to export vocabulary and IDF portably."""
        return self._chars, self._words

    def encode(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Rows of [char | word] TF-IDF features, each part L2-normalised."""
        parts = [self._chars.transform(texts), self._words.transform(texts)]
        return sparse.hstack(parts, format="csr")
