"""Masking, cleaning and language detection tables, and bad input that must never crash."""

from __future__ import annotations

import os

import pytest

from citysentinel.text.clean import clean_text, detect_lang
from citysentinel.text.pii import mask_pii
from citysentinel.text.records import make_record


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("call 13812345678 now", "call [PHONE] now"),
        ("UK mobile 07700 900123 please", "UK mobile [PHONE] please"),
        ("ring +44 20 7946 0958", "ring [PHONE]"),
        ("01 23 45 67 89 merci", "[PHONE] merci"),
        ("Berlin 030 1234567", "Berlin [PHONE]"),
        ("on 01.02.2024 at 12:30, 3 injured", "on 01.02.2024 at 12:30, 3 injured"),
        ("150000 people, order 0123", "150000 people, order 0123"),
        ("电话：138-1234-5678。", "电话：[PHONE]。"),
        ("+86 139 1234 5678", "[PHONE]"),
        ("座机 021-64381234", "座机 [PHONE]"),
        ("call (555) 123-4567", "call [PHONE]"),
        ("555.123.4567 or +1 555-123-4567", "[PHONE] or [PHONE]"),
        ("mail jane.doe+x@example.co.uk!", "mail [EMAIL]!"),
        ("身份证号11010119900307123X", "身份证号[ID]"),
        ("id 440301200012311234 ok", "id [ID] ok"),
        ("ssn 123-45-6789", "ssn [SSN]"),
        ("M5.8 quake at 2014-04-15, 120 dead", "M5.8 quake at 2014-04-15, 120 dead"),
        ("tweet 262596552399396864 stays", "tweet 262596552399396864 stays"),
        ("no pii here", "no pii here"),
    ],
)
def test_mask_pii(raw: str, expected: str) -> None:
    assert mask_pii(raw).text == expected


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("上海永嘉路老式洋房突发火灾", "zh"),
        ("RT @x: 地震了！earthquake", "zh"),
        ("Explosion at the marathon finish line", "en"),
        ("Flood warning #yyc", "en"),
        ("Terremoto en la ciudad, hay muertos", "other"),
        ("Взрыв метеорита над Челябинском, это ужас", "other"),
        ("", "und"),
        ("12:30 !!! 😀", "und"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


@pytest.mark.parametrize(
    ("raw", "text", "flags"),
    [
        ("Fire &amp; smoke &lt;3", "Fire & smoke <3", ()),
        ("  \n\t ", "", ("empty",)),
        ("", "", ("empty",)),
        ("Terremoto HaitÃ­ 2010", "Terremoto Haití 2010", ("mojibake_repaired",)),
        (b"caf\xe9 fire", "caf\ufffd fire", ("decode_replaced",)),
        ("fire\x00 alarm\x07 ringing", "fire alarm ringing", ()),
    ],
)
def test_clean_text(raw: str | bytes, text: str, flags: tuple[str, ...]) -> None:
    cleaned = clean_text(raw)
    assert (cleaned.text, cleaned.flags) == (text, flags)


def test_a_megabyte_message_is_truncated_and_flagged() -> None:
    rec = make_record("big", "火灾 fire " * 120_000)
    assert len(rec.text) <= 10_000
    assert "truncated" in rec.flags
    assert rec.lang == "zh"


def test_binary_garbage_is_flagged_not_fatal() -> None:
    rec = make_record("bin", os.urandom(4096))
    assert "binary" in rec.flags or "decode_replaced" in rec.flags
    assert "\x00" not in rec.text


def test_records_are_masked_before_they_exist() -> None:
    rec = make_record("1", "Trapped at 12 Elm St, call 555-123-4567 or bob@mail.com")
    assert "555" not in rec.text and "bob@" not in rec.text
    assert "pii_masked" in rec.flags
