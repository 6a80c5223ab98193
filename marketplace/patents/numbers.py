"""Chinese patent application numbers (专利申请号): normalising, check digits, the type digit.

Since October 2003: YYYY + type digit + 7-digit serial + '.' + check digit (202110123456.7).
Before: YY + type digit + 5-digit serial + '.' + check digit (YY 85-99 → 19YY, 00-03 → 20YY).
The check digit weights the digits before the dot left to right with 2,3,4,5,6,7,8,9,2,3,4,5
(2..9 for the short form); the sum modulo 11 is the check digit, 10 written as X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput

LONG_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
SHORT_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9)

INVENTION = "invention"
UTILITY_MODEL = "utility_model"
DESIGN = "design"

# Type digit → (patent type, entered the national phase of a PCT application).
TYPE_DIGITS: dict[str, tuple[str, bool]] = {
    "1": (INVENTION, False),
    "2": (UTILITY_MODEL, False),
    "3": (DESIGN, False),
    "8": (INVENTION, True),
    "9": (UTILITY_MODEL, True),
}


@dataclass(frozen=True)
class ApplicationNumber:
    """A checked application number; `canonical` is the form stored and shown."""

    digits: str  # the digits before the dot
    check: str  # 0-9 or X
    year: int
    patent_type: str
    is_pct: bool

    @property
    def canonical(self) -> str:
        return f"{self.digits}.{self.check}"

    @property
    def patent_number(self) -> str:
        return f"ZL{self.canonical}"


def check_digit(digits: str) -> str:
    weights = LONG_WEIGHTS if len(digits) == 12 else SHORT_WEIGHTS
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def _error(code: str, message: object, **params: object) -> InvalidInput:
    return InvalidInput(
        code,
        message,  # type: ignore[arg-type]
        fields={"application_number": [message]},  # type: ignore[list-item]
        params=params,
    )


def parse_application_number(raw: str) -> ApplicationNumber:
    """Normalise (strip CN/ZL, spaces, the dot; upper-case x) and check an application number."""
    if not isinstance(raw, str):
        raise _error("application_number_format", _("The application number must be text."))
    text = re.sub(r"[\s.]", "", raw.strip().upper())
    text = re.sub(r"^(CN|ZL)+", "", text)
    if not re.fullmatch(r"[0-9]{12}[0-9X]|[0-9]{8}[0-9X]", text):
        raise _error(
            "application_number_format",
            _(
                "An application number has 12 digits and a check digit (e.g. 202110123456.7), "
                "or 8 digits and a check digit before October 2003 (e.g. 99123456.X); got "
                "%(given)s."
            ),
            given=raw[:40],
        )
    digits, check = text[:-1], text[-1]
    if len(digits) == 12:
        year = int(digits[:4])
        type_digit = digits[4]
        if not 2003 <= year <= 2099:
            raise _error(
                "application_number_year",
                _("The year %(year)s in this application number is not possible."),
                year=year,
            )
    else:
        short_year = int(digits[:2])
        if 85 <= short_year <= 99:
            year = 1900 + short_year
        elif short_year <= 3:
            year = 2000 + short_year
        else:
            raise _error(
                "application_number_year",
                _("The year %(year)s in this application number is not possible."),
                year=digits[:2],
            )
        type_digit = digits[2]
    if type_digit not in TYPE_DIGITS:
        raise _error(
            "application_number_type_digit",
            _(
                "The type digit %(digit)s is not one of 1 (invention), 2 (utility model), "
                "3 (design), 8 (PCT invention) or 9 (PCT utility model)."
            ),
            digit=type_digit,
        )
    expected = check_digit(digits)
    if check != expected:
        raise _error(
            "application_number_check_digit",
            _("The check digit of %(digits)s should be %(expected)s, not %(given)s."),
            digits=digits,
            expected=expected,
            given=check,
        )
    patent_type, is_pct = TYPE_DIGITS[type_digit]
    return ApplicationNumber(digits, check, year, patent_type, is_pct)
