"""The patent rules of open-license-rules.md §2: numbers, check digits, types, IPC, terms, dates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from marketplace.errors import InvalidInput
from marketplace.patents.cleaning import clean_patent, iter_fields
from marketplace.patents.ipc import normalise_ipc_prefix, parse_ipc
from marketplace.patents.numbers import parse_application_number
from marketplace.patents.terms import expiry_date, patent_year

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "canonical", "patent_type", "is_pct"),
    [
        ("202110123456.7", "202110123456.7", "invention", False),
        ("200710308494.X", "200710308494.X", "invention", False),
        ("201921898050.0", "201921898050.0", "utility_model", False),
        ("CN 2019 2 1898050.0", "201921898050.0", "utility_model", False),
        ("ZL200710308494.x", "200710308494.X", "invention", False),
        ("99123456.1", "99123456.1", "invention", False),
    ],
)
def test_valid_application_numbers_are_normalised(
    raw: str, canonical: str, patent_type: str, is_pct: bool
) -> None:
    number = parse_application_number(raw)
    assert (number.canonical, number.patent_type, number.is_pct) == (canonical, patent_type, is_pct)
    assert number.patent_number == f"ZL{canonical}"


def test_short_form_year_maps_85_to_99_into_the_1900s() -> None:
    assert parse_application_number("99123456.1").year == 1999


def test_wrong_check_digit_names_the_expected_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_application_number("202210123456.7")
    assert caught.value.code == "application_number_check_digit"
    assert caught.value.render_message() == ("The check digit of 202210123456 should be 1, not 7.")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("2021101234", "application_number_format"),
        ("20211012345A.7", "application_number_format"),
        ("202140123456.0", "application_number_type_digit"),
        ("199910123456.0", "application_number_year"),
        ("50123456.0", "application_number_year"),
    ],
)
def test_malformed_application_numbers_are_refused_with_their_code(raw: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_application_number(raw)
    assert caught.value.code == code


def test_pct_type_digits_are_national_phase_inventions_and_utility_models() -> None:
    from tests.factories import application_number

    assert parse_application_number(application_number(2020, "8", 1)).patent_type == "invention"
    assert parse_application_number(application_number(2020, "9", 1)).is_pct is True


@pytest.mark.parametrize(
    ("raw", "canonical", "prefixes"),
    [
        ("H01M 10/052", "H01M 10/052", ["H", "H01", "H01M", "H01M10", "H01M10/052"]),
        ("h01m10/052", "H01M 10/052", ["H", "H01", "H01M", "H01M10", "H01M10/052"]),
        ("G06F 0017/30", "G06F 17/30", ["G", "G06", "G06F", "G06F17", "G06F17/30"]),
    ],
)
def test_ipc_symbols_are_normalised(raw: str, canonical: str, prefixes: list[str]) -> None:
    symbol = parse_ipc(raw)
    assert symbol.canonical == canonical
    assert symbol.prefixes == prefixes


@pytest.mark.parametrize("raw", ["H01M", "I01M 10/05", "H1M 10/05", "H01M 10", "H01M 10/5", ""])
def test_malformed_ipc_symbols_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_ipc(raw)
    assert caught.value.code == "invalid_ipc"


def test_ipc_filter_prefixes_at_every_level() -> None:
    assert [normalise_ipc_prefix(v) for v in ["h", "H01", "H01M", "H01M 10", "H01M 10/052"]] == [
        "H",
        "H01",
        "H01M",
        "H01M10",
        "H01M10/052",
    ]
    assert normalise_ipc_prefix("Z9") is None


@pytest.mark.parametrize(
    ("patent_type", "filed", "expires"),
    [
        ("invention", date(2010, 3, 15), date(2030, 3, 14)),
        ("utility_model", date(2019, 1, 1), date(2028, 12, 31)),
        ("design", date(2021, 6, 1), date(2036, 5, 31)),
        ("design", date(2021, 5, 31), date(2031, 5, 30)),
        ("invention", date(2012, 2, 29), date(2032, 2, 28)),
    ],
)
def test_expiry_follows_type_and_filing_date(patent_type: str, filed: date, expires: date) -> None:
    assert expiry_date(patent_type, filed) == expires


def test_patent_years_count_from_the_filing_date() -> None:
    filed = date(2010, 3, 15)
    assert patent_year(filed, date(2010, 3, 15)) == 1
    assert patent_year(filed, date(2011, 3, 14)) == 1
    assert patent_year(filed, date(2021, 3, 15)) == 12


def _codes(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        clean_patent(data, today=date(2026, 11, 21))
    return {field: code for field, code, _message in iter_fields(caught.value)}


BASE = {
    "application_number": "202110123456.7",
    "title": "一种电池",
    "main_ipc": "H01M 10/052",
    "filing_date": "2021-03-15",
}


def test_declared_type_must_match_the_number() -> None:
    assert _codes({**BASE, "patent_type": "实用新型"}) == {"patent_type": "patent_type_mismatch"}


def test_filing_year_must_match_the_number() -> None:
    assert _codes({**BASE, "filing_date": "2020-12-31"}) == {
        "filing_date": "filing_date_year_mismatch"
    }


def test_grant_cannot_precede_filing_nor_lie_in_the_future() -> None:
    assert _codes({**BASE, "grant_date": "2021-01-01"}) == {"grant_date": "grant_before_filing"}
    assert _codes({**BASE, "grant_date": "2027-01-01"}) == {"grant_date": "date_in_future"}


def test_every_problem_of_a_record_is_reported_at_once() -> None:
    codes = _codes(
        {
            "application_number": "202210123456.7",
            "title": "",
            "main_ipc": "battery",
            "further_ipcs": "H01M 10/052; nonsense",
            "filing_date": "15/03/2021",
            "publication_numbers": "CN11A",
        }
    )
    assert codes == {
        "application_number": "application_number_check_digit",
        "title": "required",
        "main_ipc": "invalid_ipc",
        "further_ipcs": "invalid_ipc",
        "filing_date": "invalid_date",
        "publication_numbers": "invalid_publication_number",
    }


def test_clean_patent_computes_expiry_tokens_and_prefixes() -> None:
    values = clean_patent(
        {**BASE, "further_ipcs": "H01M 4/525；H01M 10/052", "grant_date": "2023/6/20"},
        today=date(2026, 11, 21),
    )
    assert values["expiry_date"] == date(2041, 3, 14)
    assert values["further_ipcs"] == ["H01M 4/525"]
    assert values["grant_date"] == date(2023, 6, 20)
    assert "H01M4/525" in values["ipc_prefixes"] and "H01M10/052" in values["ipc_prefixes"]
    assert values["title_tokens"] == "电池"
