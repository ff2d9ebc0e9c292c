"""Make raw message text safe: decode, unescape, strip garbage, truncate, detect language."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

MAX_CHARS = 10_000  # longer messages are truncated and flagged; a 1 MB post is not a message

# Flags a cleaned message can carry; stored with the record so analysts can see what was done.
FLAG_EMPTY = "empty"
FLAG_TRUNCATED = "truncated"
FLAG_DECODE_REPLACED = "decode_replaced"
FLAG_BINARY = "binary"
FLAG_MOJIBAKE_REPAIRED = "mojibake_repaired"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Frequent function words; English ones exclude words shared with Spanish/Italian/French.
_EN_WORDS = frozenset(
    [
        "the",
        "and",
        "is",
        "are",
        "was",
        "were",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "this",
        "that",
        "it",
        "be",
        "have",
        "has",
        "had",
        "not",
        "you",
        "your",
        "we",
        "our",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "my",
        "i",
        "me",
        "will",
        "would",
        "can",
        "could",
        "should",
        "what",
        "when",
        "where",
        "who",
        "how",
        "all",
        "just",
        "about",
        "after",
        "before",
        "more",
        "now",
        "out",
        "up",
        "so",
        "if",
        "or",
        "but",
        "an",
        "as",
        "rt",
    ]
)
_OTHER_WORDS = frozenset(
    [
        "de",
        "la",
        "el",
        "los",
        "las",
        "en",
        "y",
        "que",
        "del",
        "por",
        "para",
        "con",
        "una",
        "un",
        "es",
        "se",
        "al",
        "lo",
        "su",
        "como",
        "mas",
        "pero",
        "sus",
        "le",
        "les",
        "des",
        "et",
        "est",
        "une",
        "dans",
        "pour",
        "pas",
        "qui",
        "il",
        "di",
        "che",
        "non",
        "per",
        "della",
        "sono",
        "nel",
        "alla",
        "ha",
        "ma",
        "na",
        "od",
        "za",
        "je",
        "se",
        "da",
        "ne",
        "и",
        "в",
        "не",
        "на",
        "что",
        "с",
        "по",
        "это",
        "как",
    ]
)
_MOJIBAKE = re.compile(
    r"[ÃÂâ][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2122]"
)


@dataclass(frozen=True)
class Cleaned:
    """Cleaned text and what cleaning had to do (`flags`)."""

    text: str
    flags: tuple[str, ...] = ()


def decode(raw: bytes) -> Cleaned:
    """Decode bytes as UTF-8; undecodable bytes become U+FFFD and the result is flagged.

    Example:
        >>> decode("火灾".encode()).text
        '火灾'
        >>> decode(b"caf\\xe9").flags
        ('decode_replaced',)
    """
    try:
        return Cleaned(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return Cleaned(raw.decode("utf-8", errors="replace"), (FLAG_DECODE_REPLACED,))


def clean_text(raw: str | bytes, *, max_chars: int = MAX_CHARS, unescape: bool = True) -> Cleaned:
    """Decode, unescape HTML entities, repair UTF-8 mojibake, drop control characters, truncate.

    Never raises on any input; check `flags` for `empty`, `binary`, `truncated`,
    `decode_replaced` and `mojibake_repaired`.

    Example:
        >>> clean_text("Fire &amp; smoke\\x00 on Main St").text
        'Fire & smoke on Main St'
        >>> clean_text("x" * 20, max_chars=5).flags
        ('truncated',)
    """
    flags: list[str] = []
    if isinstance(raw, bytes):
        decoded = decode(raw[: max_chars * 4 + 4])  # at most 4 bytes a character
        text, flags = decoded.text, list(decoded.flags)
    else:
        text = raw
    if len(text) > max_chars:
        text = text[:max_chars]
        flags.append(FLAG_TRUNCATED)
    if unescape and "&" in text:
        text = html.unescape(text)
    if _MOJIBAKE.search(text):
        repaired = _repair_mojibake(text)
        if repaired != text:
            text = repaired
            flags.append(FLAG_MOJIBAKE_REPAIRED)
    bad = len(_CONTROL.findall(text)) + text.count("\ufffd")
    if text and bad / len(text) > 0.3:
        flags.append(FLAG_BINARY)
    if FLAG_DECODE_REPLACED not in flags and "\ufffd" in text:
        flags.append(FLAG_DECODE_REPLACED)
    text = _CONTROL.sub(" ", text).replace("\ufeff", "")
    text = "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines())
    text = re.sub(r"\n{2,}", "\n", text).strip()
    if not text:
        flags.append(FLAG_EMPTY)
    return Cleaned(text, tuple(flags))


def _repair_mojibake(text: str) -> str:
    # UTF-8 read as cp1252/latin-1 ("HaitÃ­"): re-encode and decode; keep the original if it fails.
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return text


def detect_lang(text: str) -> str:
    """Language of `text`: 'zh', 'en', 'other' or 'und' (no letters).

    The method: 'zh' when CJK ideographs make at least 20% of the letters, each
    ideograph weighted as three Latin letters (a Chinese word is about 1.5
    characters, an English one about 5); otherwise,
    among Latin-script text, 'en' when English function words outnumber those of
    Spanish, French, Italian, Portuguese and Russian (a fixed list of about 150
    words), else 'other'; text with no letters is 'und'. Good enough to route
    messages and to report per-language figures, not a general identifier.

    Example:
        >>> detect_lang("上海永嘉路老式洋房突发火灾"), detect_lang("Fire on the bridge")
        ('zh', 'en')
        >>> detect_lang("Terremoto en la ciudad de Iquique"), detect_lang("12:30 !!")
        ('other', 'und')
    """
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters:
        return "und"
    cjk = len(_CJK.findall(text))
    if 3 * cjk / (3 * cjk + letters - cjk) >= 0.2:
        return "zh"
    lowered = unicodedata.normalize("NFKC", text).lower()
    words = _LATIN_WORD.findall(lowered) + re.findall(r"[а-яё]+", lowered)
    en = sum(w in _EN_WORDS for w in words)
    other = sum(w in _OTHER_WORDS for w in words)
    ascii_letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if en > other or (en == other == 0 and ascii_letters / letters > 0.9):
        return "en"
    return "other"
