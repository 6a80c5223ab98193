"""Validators for Chinese identifiers used across the apps."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput

# GB 32100-2015 统一社会信用代码: 18 characters from this alphabet, the last a check character.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_CODE_RE = re.compile(rf"^[{CREDIT_CODE_ALPHABET}]{{18}}$")


def credit_code_check_character(first17: str) -> str:
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(raw: str) -> str:
    """Upper-case, strip spaces, and check a unified social credit code; '' stays ''."""
    code = re.sub(r"\s+", "", raw or "").upper()
    if not code:
        return ""
    if not CREDIT_CODE_RE.match(code):
        raise InvalidInput(
            "invalid_credit_code",
            _(
                "A unified social credit code has 18 characters: digits and upper-case letters "
                "except I, O, S, V and Z."
            ),
            fields={"credit_code": [_("Wrong length or characters.")]},
        )
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        raise InvalidInput(
            "invalid_credit_code",
            _("The check character of this credit code should be %(expected)s, not %(given)s."),
            fields={"credit_code": [_("Wrong check character.")]},
            params={"expected": expected, "given": code[17]},
        )
    return code
