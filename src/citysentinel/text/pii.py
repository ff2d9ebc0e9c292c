"""Mask personal data (phones, e-mails, Chinese ID numbers, US SSNs) before text is stored."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# Digit look-arounds keep a pattern from matching inside a longer number.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    # Resident ID: 6-digit area, birth date 18xx-20xx, 3-digit sequence, check digit or X.
    (
        "ID",
        re.compile(
            r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
            r"\d{3}[\dXx](?![\dA-Za-z])"
        ),
    ),
    ("SSN", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")),
    # Chinese mobile: 1[3-9]x xxxx xxxx, optional +86, optional - or space groups.
    ("PHONE", re.compile(r"(?<![\d+])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")),
    # Chinese landline: 0xx(x)-xxxxxxx(x).
    ("PHONE", re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")),
    # North American: (555) 123-4567, 555-123-4567, 555.123.4567, +1 555 123 4567.
    (
        "PHONE",
        re.compile(r"(?<![\d+])(?:\+?1[-. ]?)?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}(?!\d)"),
    ),
)


# Other countries: a number written with a + country code or a 0 trunk prefix, in
# groups separated by spaces, dots, dashes or brackets, holding 9 to 15 digits
# (UK 07700 900123, +44 20 7946 0958, FR 01 23 45 67 89, DE 030 1234567). Short
# numbers (counts, years, dates such as 01.02.2024) have fewer digits and stay.
_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|0)[\d ().-]{7,22}\d(?!\w)")


def _mask_international(text: str) -> tuple[str, int]:
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        digits = sum(ch.isdigit() for ch in m.group(0))
        if 9 <= digits <= 15:
            n += 1
            return "[PHONE]"
        return m.group(0)

    return _INTERNATIONAL.sub(repl, text), n


@dataclass(frozen=True)
class Masked:
    """Masked text and how many of each kind of personal data were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


def mask_pii(text: str) -> Masked:
    """Replace phone numbers, e-mails, Chinese ID numbers and SSNs with `[PHONE]`-style tags.

    Example:
        >>> mask_pii("call 138-1234-5678 or a@b.cn").text
        'call [PHONE] or [EMAIL]'
        >>> mask_pii("身份证110101199003071234").counts
        {'ID': 1}
    """
    counts: Counter[str] = Counter()
    for tag, pattern in _PATTERNS:
        text, n = pattern.subn(f"[{tag}]", text)
        if n:
            counts[tag] += n
    text, n = _mask_international(text)
    if n:
        counts["PHONE"] += n
    return Masked(text, dict(counts))
