"""Pull places, times and casualty counts out of Chinese and English messages (rules, no model).

Chinese places are jieba's place-name tokens (POS `ns`) and words ending in an
administrative or facility suffix (县, 路, 大厦, 医院...), merged when adjacent
("荆州市" + "公安县" + "甘家厂乡"). English places are gazetteer-free patterns:
"in/at/near <Capitalised words>" and street names ("Main Street", "5th Ave",
911-style "REINDEER CT"). Times are dates, clock times and relative words
("昨日中午11时45分左右", "5月12日", "3:40 pm", "yesterday morning").
Casualties are counts next to a kind: dead, injured, missing, trapped
("造成3人死亡", "死亡人数升至三十二人", "2死5伤", "at least five people were
killed", "killing 12", "death toll rose to 32"). Chinese numerals (三十二,
两百, 1万) and English number words (twelve, a dozen) are read.

These are patterns, not a trained recogniser: see docs/text.md for measured
precision and recall on the CEC gold annotations. Runs on masked text only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from citysentinel.events.payloads import Extracted

MAX_ITEMS = 50  # the payload keeps at most this many places and times
KINDS = ("dead", "injured", "missing", "trapped")

# -- numbers ----------------------------------------------------------------
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_ZH_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
ZH_NUM = r"[0-9０-９]+万?|[零〇一二两三四五六七八九十百千万]+"  # 3万: thirty thousand
_EN_SMALL = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_EN_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EN_WORDS = {w: i for i, w in enumerate(_EN_SMALL)} | {
    w: 20 + 10 * i for i, w in enumerate(_EN_TENS)
}
EN_WORDS |= {"a dozen": 12, "dozen": 12, "hundred": 100, "a hundred": 100}
_EN_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_EN_WORD_NUM = "|".join(sorted((w for w in EN_WORDS if " " not in w), key=len, reverse=True))
# Not a year (1800-2099) nor a piece of a phone number, date, time or code
# ("in 2015 three died", "555-1234", "COVID-19"): a casualty count stands alone.
EN_NUM = (
    r"(?<![\w,./:-])(?!(?:1[89]|20)\d\d\b)(?:\d{1,3}(?:,\d{3})+|\d+)(?![,./:-]?\d|-)"
    rf"|(?:a|{_EN_UNITS})[- ]hundred|(?:"
    + "|".join(sorted(EN_WORDS, key=len, reverse=True))
    + rf")(?:[- ](?:{_EN_UNITS}))?"
)


def parse_number(text: str) -> int | None:
    """An Arabic, full-width, Chinese (三十二, 两百零五, 1万) or English (twenty-one) number.

    Example:
        >>> [parse_number(s) for s in ["32", "三十二", "两百零五", "3万", "two hundred"]]
        [32, 32, 205, 30000, 200]
    """
    s = text.strip().lower().replace(",", "")
    s = s.translate({0xFF10 + i: 0x30 + i for i in range(10)})
    if s.isdigit():
        return int(s)
    if s in EN_WORDS:
        return EN_WORDS[s]
    if s.endswith("hundred") and s[:-7].strip(" -") in EN_WORDS | {"a": 1}:
        return 100 * (EN_WORDS | {"a": 1})[s[:-7].strip(" -")]
    m = re.fullmatch(r"([a-z]+)[- ]([a-z]+)", s)
    if m and m[1] in EN_WORDS and m[2] in EN_WORDS:
        return EN_WORDS[m[1]] + EN_WORDS[m[2]]
    if "万" in s:
        head, _, tail = s.partition("万")
        high = parse_number(head) if head else 1
        low = parse_number(tail) if tail else 0
        return None if high is None or low is None else high * 10_000 + low
    return _zh_small(s)


def _zh_small(s: str) -> int | None:
    total, digit = 0, None
    for ch in s:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            total += (1 if digit is None else digit) * _ZH_UNITS[ch]
            digit = None
        elif ch.isdigit():
            digit = (digit or 0) * 10 + int(ch)
        else:
            return None
    if not s:
        return None
    return total + (digit or 0)


# -- casualties ---------------------------------------------------------------
_ZH_KIND = {
    "dead": "死亡|遇难|身亡|丧生|罹难|死|殒命|丧命",
    "injured": "受伤|伤|重伤|轻伤",
    "missing": "失踪|失联",
    "trapped": "被困",
}
_EN_KIND = {
    "dead": "killed|dead|died|perished",
    "injured": "injured|hurt|wounded",
    "missing": "missing|unaccounted for",
    "trapped": "trapped|stranded",
}
_EN_VERB = {"killing": "dead", "injuring": "injured", "wounding": "injured", "trapping": "trapped"}
_ZH_KINDS = "|".join(f"(?P<{k}>{v})" for k, v in _ZH_KIND.items())
_EN_KINDS = "|".join(f"(?P<{k}>{v})" for k, v in _EN_KIND.items())
_ZH_PEOPLE = rf"(?P<n>{ZH_NUM})(?:余|多)?(?P<unit>名|人|位)"
_ZH_CASUALTY = [
    # 3人死亡, 4人因抢救无效死亡, 造成2名工人受伤
    re.compile(rf"{_ZH_PEOPLE}[^，。；！？,.;\d]{{0,6}}?(?:{_ZH_KINDS})"),
    # 死亡人数已升至32人, 受伤5人
    re.compile(
        rf"(?:{_ZH_KINDS})(?:人数|者|人员)?(?:已)?(?:上升|升|增加|增|达到|达)?(?:至|到|为)?"
        rf"(?P<n>{ZH_NUM})(?:余|多)?(?:名|人)"
    ),
    # 2死5伤: each count directly followed by its kind
    re.compile(rf"(?P<n>{ZH_NUM})(?:{_ZH_KINDS})(?=[\d零〇一二两三四五六七八九十、，。,]|$)"),
]
_EN_CASUALTY = [
    re.compile(
        # Up to two words between count and kind ("5 people were killed"), but not
        # another count: "On March 3 two were killed" is two dead, not three.
        rf"\b(?P<n>{EN_NUM})\s+(?:(?!{_EN_WORD_NUM}\b)[a-z]+\s+){{0,2}}?"
        rf"(?:(?:were|are|was|have been|had been|got"
        rf"|reported|are reported|were reported)\s+)?(?:{_EN_KINDS})\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?P<verb>{'|'.join(_EN_VERB)})\s+(?:at least\s+|more than\s+|about\s+)?"
        rf"(?P<n>{EN_NUM})\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\bdeath toll\s+(?:\w+\s+){{0,3}}?(?:to|at|of|is|was|reached)\s+(?:at least\s+)?"
        rf"(?P<n>{EN_NUM})\b",
        re.IGNORECASE,
    ),
]
_EN_PEOPLE = re.compile(
    rf"\b(?P<n>{EN_NUM})\s+(?:people|persons|residents|workers|passengers|children|students"
    r"|victims|firefighters|officers|soldiers|patients|others)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Casualty:
    """One casualty mention: a kind (dead, injured, missing, trapped), a count, the words."""

    kind: str
    count: int
    text: str


@dataclass(frozen=True)
class Extraction:
    """Everything found in one text, in order of appearance (duplicates kept).

    `people` holds every "N people" count (CEC annotates them as participants),
    casualty or not.

    Example:
        >>> x = extract("昨日中午11时45分左右，荆州市公安县发生食物中毒，两人当场死亡", "zh")
        >>> x.times, x.locations, x.payload().casualties
        (('昨日中午11时45分左右',), ('荆州市公安县',), {'dead': 2})
    """

    locations: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    casualties: tuple[Casualty, ...] = ()
    people: tuple[int, ...] = ()

    def payload(self) -> Extracted:
        """The event payload's `extracted`: unique places and times, the largest count per kind.

        A report restates counts as they grow ("2 died at the scene ... the toll
        rose to 6"), so the largest figure per kind is kept, not the sum.
        """
        counts: dict[str, int] = {}
        for c in self.casualties:
            counts[c.kind] = max(c.count, counts.get(c.kind, 0))
        return Extracted(
            locations=[s[:200] for s in _unique(self.locations)][:MAX_ITEMS],
            times=[s[:100] for s in _unique(self.times)][:MAX_ITEMS],
            casualties=counts,
        )


def extract(text: str, lang: str) -> Extraction:
    """Places, times and casualty counts of a (masked) text; `lang` is `zh`, `en` or other.

    Languages other than zh and en get the English patterns, which need
    capitalised words and digits, so they rarely fire on other scripts.

    Example:
        >>> extract("Fire at Oak Street at 3:40 pm, two people injured", "en").payload()
        Extracted(locations=['Oak Street'], times=['3:40 pm'], casualties={'injured': 2})
    """
    if lang == "zh":
        return Extraction(
            _zh_locations(text), _zh_times(text), _casualties(text, _ZH_CASUALTY), _zh_people(text)
        )
    return Extraction(
        _en_locations(text), _en_times(text), _casualties(text, _EN_CASUALTY), _en_people(text)
    )


def _casualties(text: str, patterns: list[re.Pattern[str]]) -> tuple[Casualty, ...]:
    found: dict[tuple[int, int], Casualty] = {}
    for pattern in patterns:
        for m in pattern.finditer(text):
            span = m.span("n")
            if any(a <= span[0] < b for a, b in found):
                continue  # the same count read by an earlier pattern
            count = parse_number(m["n"])
            groups = m.groupdict()
            verb = groups.get("verb")
            kind = (
                _EN_VERB[verb.lower()]
                if verb
                else next((k for k in KINDS if groups.get(k)), "dead")
            )
            if count is not None and count < 1_000_000:
                found[span] = Casualty(kind, count, m[0])
    return tuple(found[s] for s in sorted(found))


def _zh_people(text: str) -> tuple[int, ...]:
    nums = (parse_number(m["n"]) for m in re.finditer(_ZH_PEOPLE, text))
    return tuple(n for n in nums if n is not None)


def _en_people(text: str) -> tuple[int, ...]:
    nums = (parse_number(m["n"]) for m in _EN_PEOPLE.finditer(text))
    return tuple(n for n in nums if n is not None)


# -- times ----------------------------------------------------------------
_ZH_T = r"[0-9０-９]{1,4}|[零〇一二两三四五六七八九十]{1,3}"
_ZH_REL = (
    "今天|今日|昨天|昨日|前天|明天|当天|当日|当晚|次日|今晨|昨晨|今晚|昨晚|昨夜|今年|去年|"
    "目前|日前|近日|刚刚|此前|凌晨|清晨|早晨|早上|上午|中午|下午|傍晚|晚上|晚间|夜间|深夜|午后"
)
_ZH_TIME = re.compile(
    rf"(?:(?:{_ZH_T})年(?:{_ZH_T})月(?:(?:{_ZH_T})[日号])?|(?:{_ZH_T})月(?:{_ZH_T})[日号]"
    rf"|(?<![0-9月])(?:{_ZH_T})日|{_ZH_REL}|(?:{_ZH_T})[时点](?:(?:{_ZH_T})分|半)?(?:(?:{_ZH_T})秒)?"
    rf"|(?:许|左右|前后))+"
)
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_EN_TIME = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}})?)?"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?::\d{{2}})?\s?(?:a\.m\.|p\.m\.|am|pm)(?![a-z])|\d{{1,2}}:\d{{2}}"
    rf"|(?:this|yesterday|tomorrow|last|early|late)\s+(?:morning|afternoon|evening|night)"
    rf"|today|tonight|yesterday|(?:last\s+|on\s+)?(?:{_DAYS}))\b",
    re.IGNORECASE,
)


def _zh_times(text: str) -> tuple[str, ...]:
    out = []
    for m in _ZH_TIME.finditer(text):
        span = m[0].strip()
        if span and span not in {"许", "左右", "前后"}:
            out.append(span)
    return tuple(out)


def _en_times(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"^(?i:on)\s+", "", m[0]) for m in _EN_TIME.finditer(text))


# -- places ---------------------------------------------------------------
_ADMIN = "省市县区镇乡村州旗盟"
_FACILITY = (
    "路|街|道|大道|巷|弄|桥|大桥|隧道|高速|公路|国道|站|车站|机场|码头|港|小区|大厦|大楼|广场|"
    "商场|市场|医院|学校|中学|小学|大学|酒店|宾馆|公园|工厂|厂|矿|煤矿|山|河|湖|江"
)
_FACILITY_RE = re.compile(rf"(?:{_FACILITY})$")
_GLUE = {"n", "nz", "nr", "vn", "ns", "nt", "m", "j"}


@cache
def _jieba() -> object:
    import jieba  # type: ignore[import-untyped]  # jieba ships no stubs; loads late (1 s)
    import jieba.posseg  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def _placey(word: str, flag: str) -> bool:
    if flag == "ns":
        return True
    if len(word) < 2 or flag not in _GLUE:
        return False
    return (word[-1] in _ADMIN and flag != "m") or bool(_FACILITY_RE.search(word))


def _zh_locations(text: str) -> tuple[str, ...]:
    posseg = _jieba()
    tokens = [(p.word, p.flag) for p in posseg.cut(text)]  # type: ignore[attr-defined]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i][1] == "m" or not _placey(*tokens[i]):
            i += 1
            continue
        j = i + 1
        while j < len(tokens):
            # Glue up to two nouns when a place word follows: 中环 + 国际 + 大厦.
            ahead = next(
                (k for k in range(j, min(j + 3, len(tokens))) if _placey(*tokens[k])), None
            )
            if ahead is None or any(tokens[k][1] not in _GLUE for k in range(j, ahead)):
                break
            j = ahead + 1
        out.append("".join(w for w, _ in tokens[i:j]))
        i = j
    return tuple(s for s in out if len(s) >= 2)


_CAP = r"[A-Z][\w'’.-]*[\w]"
_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Highway|Hwy|Bridge|Park|"
    r"Square|Sq|Station|Court|Ct|Place|Pl|Way|Pike|Parkway|Pkwy|Terrace|Circle|Route"
)
_EN_STREET = re.compile(
    rf"\b(?:\d+(?:st|nd|rd|th)\s+(?:{_CAP}\s+){{0,2}}|(?:\d+\s+)?(?:{_CAP}\s+){{1,3}})"
    rf"(?:{_STREET})\b\.?"
    r"|\b(?:[A-Z0-9]{2,}\s+){1,3}(?:ST|AVE|RD|PIKE|LN|DR|CT|BLVD|HWY|WAY|PL|CIR|TPKE)\b"
)
_EN_PREP = re.compile(
    rf"\b(?:in|at|near|outside|across|off|on|from|to|toward|towards)\s+(?:the\s+)?"
    rf"((?:{_CAP})(?:\s+(?:of\s+|de\s+|la\s+)?(?:{_CAP}))*)"
)
_NOT_PLACES = frozenset(
    f"{_MONTHS}|{_DAYS}|I|The|A|An|This|That|We|He|She|They|It|My|Our|Your|Breaking|RT|"
    "Twitter|Facebook|PHONE|EMAIL|ID|SSN|URL|USER".split("|")
)


def _en_locations(text: str) -> tuple[str, ...]:
    spans: list[tuple[int, str]] = [(m.start(), m[0].strip()) for m in _EN_STREET.finditer(text)]
    for m in _EN_PREP.finditer(text):
        name = m[1]
        words = name.split()
        if words[0] in _NOT_PLACES or any(s <= m.start(1) < s + len(t) for s, t in spans):
            continue
        spans.append((m.start(1), name))
    return tuple(s.rstrip(".") for _, s in sorted(spans))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
