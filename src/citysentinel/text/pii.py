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
    return Masked(text, dict(counts))
