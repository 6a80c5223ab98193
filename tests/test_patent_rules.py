"""The patent rules of open-license-rules.md §2: numbers, check digits, types, IPC, terms, dates."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
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


# One test per section of clean_patent (identity, texts, classification, dates, publication
# numbers, legal status) for what the tests above leave out.


def test_identity_takes_type_and_pct_from_the_number_and_accepts_a_chinese_type_name() -> None:
    values = clean_patent({**BASE, "patent_type": "发明"}, today=date(2026, 11, 21))
    assert (values["application_number"], values["patent_type"], values["is_pct"]) == (
        "202110123456.7",
        "invention",
        False,
    )
    assert _codes({**BASE, "patent_type": "gadget"}) == {"patent_type": "invalid_patent_type"}
    assert _codes({key: value for key, value in BASE.items() if key != "application_number"}) == {
        "application_number": "required"
    }


def test_texts_are_stripped_and_each_has_its_length_limit() -> None:
    values = clean_patent(
        {**BASE, "title": "  一种电池 ", "abstract": None}, today=date(2026, 11, 21)
    )
    assert (values["title"], values["abstract"], values["claims"]) == ("一种电池", "", "")
    assert _codes({**BASE, "title": "题" * 501, "claims": "x" * 100_001}) == {
        "title": "too_long",
        "claims": "too_long",
    }


def test_classification_drops_repeats_and_the_main_symbol_and_limits_further_symbols() -> None:
    values = clean_patent(
        {**BASE, "further_ipcs": ["H01M 10/052", "H01M 4/525", "H01M4/525", "H02J 7/00"]},
        today=date(2026, 11, 21),
    )
    assert values["main_ipc"] == "H01M 10/052"
    assert values["further_ipcs"] == ["H01M 4/525", "H02J 7/00"]
    assert _codes({**BASE, "further_ipcs": ["H01M 4/525"] * 51}) == {"further_ipcs": "too_many"}
    assert _codes({**BASE, "main_ipc": ""}) == {"main_ipc": "required"}


def test_dates_accept_chinese_writing_and_an_absent_grant() -> None:
    values = clean_patent({**BASE, "filing_date": "2021年3月15日"}, today=date(2026, 11, 21))
    assert (values["filing_date"], values["grant_date"]) == (date(2021, 3, 15), None)
    assert _codes({**BASE, "filing_date": ""}) == {"filing_date": "required"}


def test_publication_numbers_are_upper_cased_without_spaces_or_repeats() -> None:
    values = clean_patent(
        {**BASE, "publication_numbers": "cn 114123456a; CN114123456A，CN114123456B"},
        today=date(2026, 11, 21),
    )
    assert values["publication_numbers"] == ["CN114123456A", "CN114123456B"]


def test_legal_status_facts_are_taken_only_when_given_and_valid() -> None:
    values = clean_patent(
        {**BASE, "legal_status": "期限届满", "annual_fees_paid_through": 5.0},
        today=date(2026, 11, 21),
    )
    assert (values["legal_status"], values["annual_fees_paid_through"]) == ("expired", 5)
    assert "legal_status" not in clean_patent(BASE, today=date(2026, 11, 21))
    assert _codes({**BASE, "legal_status": "dormant", "annual_fees_paid_through": "21"}) == {
        "legal_status": "invalid_legal_status",
        "annual_fees_paid_through": "invalid_patent_year",
    }


def test_an_update_cleans_only_the_fields_it_gives_and_keeps_the_others() -> None:
    patent = SimpleNamespace(
        application_number="202110123456.7",
        patent_type="invention",
        is_pct=False,
        title="一种电池",
        abstract="旧摘要",
        claims="旧权利要求",
        main_ipc="H01M 10/052",
        further_ipcs=["H01M 4/525"],
        filing_date=date(2021, 3, 15),
        grant_date=None,
    )
    values = clean_patent(
        {"abstract": "新摘要", "patent_type": "design", "application_number": "x"},
        partial_of=patent,
        today=date(2026, 11, 21),
    )
    assert values["application_number"] == "202110123456.7"  # fixed once the patent exists
    assert (values["title"], values["abstract"], values["claims"]) == (
        "一种电池",
        "新摘要",
        "旧权利要求",
    )
    assert (values["main_ipc"], values["further_ipcs"]) == ("H01M 10/052", ["H01M 4/525"])
    assert values["expiry_date"] == date(2041, 3, 14)
    assert "publication_numbers" not in values
