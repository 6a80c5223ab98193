"""Checking and normalising patent data from the API or an import row, all errors at once."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput, Message
from marketplace.patents.ipc import parse_ipc
from marketplace.patents.numbers import ApplicationNumber, parse_application_number
from marketplace.patents.terms import expiry_date
from marketplace.search.segment import index_grams, index_tokens

TYPE_ALIASES = {
    "invention": "invention",
    "发明": "invention",
    "utility_model": "utility_model",
    "utility model": "utility_model",
    "实用新型": "utility_model",
    "design": "design",
    "外观设计": "design",
}
STATUS_ALIASES = {
    "in_force": "in_force",
    "in force": "in_force",
    "有效": "in_force",
    "terminated": "terminated",
    "终止": "terminated",
    "expired": "expired",
    "期满": "expired",
    "期限届满": "expired",
    "invalidated": "invalidated",
    "全部无效": "invalidated",
}
PUBLICATION_RE = re.compile(r"^CN[0-9]{7,9}[A-Z][0-9]?$")
LIMITS = {"title": 500, "abstract": 10_000, "claims": 100_000}
MAX_FURTHER_IPCS = 50


@lru_cache(maxsize=1)
def _known_subclasses() -> frozenset[str]:
    from marketplace.models import IpcClass

    return frozenset(IpcClass.objects.filter(level="subclass").values_list("symbol", flat=True))


def known_subclasses_cache_clear() -> None:
    _known_subclasses.cache_clear()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [_text(item) for item in value if _text(item)]
    return [part.strip() for part in re.split(r"[;,；，、\n]", _text(value)) if part.strip()]


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    match = re.fullmatch(r"([0-9]{4})[-./年]([0-9]{1,2})[-./月]([0-9]{1,2})日?", text)
    if not match:
        raise ValueError(text)
    return date(int(match[1]), int(match[2]), int(match[3]))


class Errors:
    """Collects (field, code, message) so a caller sees every problem in one answer."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, field: str, code: str, message: Message, **params: Any) -> None:
        text = str(message)
        self.items.append((field, code, text % params if params else text))

    def add_error(self, field: str, error: InvalidInput) -> None:
        self.items.append((field, error.code, error.render_message()))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        fields: dict[str, list[Message | tuple[str, Message]]] = {}
        for field, code, message in self.items:
            fields.setdefault(field, []).append((code, message))
        _field, first_code, first_message = self.items[0]
        error = InvalidInput(first_code, first_message, fields=fields)
        error.items = list(self.items)  # type: ignore[attr-defined]
        raise error


@dataclass
class _Record:
    """One record being cleaned: the input, the patent it updates (None: a new patent), the
    errors found so far and the model values produced so far.

    An update cleans only the fields it gives and keeps the patent's other values; a new
    patent cleans every field (`cleans`), so a missing required one is reported.
    """

    data: Mapping[str, Any]
    partial_of: Any
    today: date
    errors: Errors = dataclasses.field(default_factory=Errors)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    def given(self, name: str) -> bool:
        return name in self.data and self.data[name] not in (None, "")

    def cleans(self, name: str) -> bool:
        return name in self.data or self.partial_of is None

    def current(self, name: str) -> Any:
        return getattr(self.partial_of, name) if self.partial_of is not None else None

    def required(self, name: str) -> None:
        self.errors.add(name, "required", _("This field is required."))


def clean_patent(
    data: Mapping[str, Any], *, today: date | None = None, partial_of: Any = None
) -> dict[str, Any]:
    """Validate patent fields; returns model field values (with tokens and expiry).

    `partial_of` is an existing patent whose values fill in fields not given (for updates).
    Every section reports into one error list, so a caller sees every problem at once (in
    the sections' order: the first is the answer's `code`).
    """
    record = _Record(data, partial_of, today or timezone.localdate())
    number = clean_identity(record)
    clean_texts(record)
    clean_classification(record)
    clean_dates(record, number)
    clean_publications(record)
    clean_legal_status(record)
    record.errors.raise_if_any()
    values = record.values
    values["title_tokens"], values["body_tokens"], values["gram_tokens"] = patent_tokens(
        values["title"], values["abstract"], values["claims"]
    )
    return values


def clean_identity(record: _Record) -> ApplicationNumber | None:
    """Application number, type and PCT flag (fixed once the patent exists); returns the
    parsed number the dates are checked against (None when it is missing or invalid)."""
    data, errors, values = record.data, record.errors, record.values
    number = None
    if record.partial_of is not None:
        values["application_number"] = record.partial_of.application_number
        values["patent_type"] = record.partial_of.patent_type
        values["is_pct"] = record.partial_of.is_pct
        number = parse_application_number(record.partial_of.application_number)
    elif not record.given("application_number"):
        record.required("application_number")
    else:
        try:
            number = parse_application_number(_text(data["application_number"]))
        except InvalidInput as error:
            errors.add_error("application_number", error)
        else:
            values.update(
                application_number=number.canonical,
                patent_type=number.patent_type,
                is_pct=number.is_pct,
            )
    if record.given("patent_type") and record.partial_of is None:
        declared = TYPE_ALIASES.get(_text(data["patent_type"]).lower())
        if declared is None:
            errors.add(
                "patent_type",
                "invalid_patent_type",
                _(
                    "The type must be invention, utility_model or design "
                    "(发明, 实用新型, 外观设计)."
                ),
            )
        elif number is not None and declared != number.patent_type:
            errors.add(
                "patent_type",
                "patent_type_mismatch",
                _(
                    "The application number %(number)s is a %(derived)s application, "
                    "not a %(declared)s."
                ),
                number=number.canonical,
                derived=number.patent_type,
                declared=declared,
            )
    return number


def clean_texts(record: _Record) -> None:
    """Title (required), abstract and claims, each within its length limit."""
    for name, limit in LIMITS.items():
        if not record.cleans(name):
            record.values[name] = record.current(name)
            continue
        text = _text(record.data.get(name))
        if name == "title" and not text:
            record.required("title")
        elif len(text) > limit:
            record.errors.add(
                name,
                "too_long",
                _("At most %(limit)d characters; this has %(length)d."),
                limit=limit,
                length=len(text),
            )
        record.values[name] = text


def clean_classification(record: _Record) -> None:
    """Main IPC (required) and further IPCs: well formed, of a known subclass, the further
    ones without repeats or the main one; and the prefixes the IPC filter matches."""
    data, errors, values = record.data, record.errors, record.values
    subclasses = _known_subclasses()
    main = None
    if record.cleans("main_ipc"):
        if not record.given("main_ipc"):
            record.required("main_ipc")
        else:
            try:
                main = parse_ipc(_text(data["main_ipc"]), "main_ipc")
            except InvalidInput as error:
                errors.add_error("main_ipc", error)
    else:
        main = parse_ipc(record.partial_of.main_ipc)
    further_raw = (
        _list(data.get("further_ipcs"))
        if record.cleans("further_ipcs")
        else list(record.current("further_ipcs"))
    )
    further = []
    if len(further_raw) > MAX_FURTHER_IPCS:
        errors.add(
            "further_ipcs",
            "too_many",
            _("At most %(limit)d further IPC symbols."),
            limit=MAX_FURTHER_IPCS,
        )
    for raw in further_raw[:MAX_FURTHER_IPCS]:
        try:
            further.append(parse_ipc(raw, "further_ipcs"))
        except InvalidInput as error:
            errors.add_error("further_ipcs", error)
    for symbol, name in [(main, "main_ipc"), *((f, "further_ipcs") for f in further)]:
        if symbol is not None and subclasses and symbol.subclass not in subclasses:
            errors.add(
                name,
                "unknown_ipc_subclass",
                _("%(subclass)s is not an IPC subclass."),
                subclass=symbol.subclass,
            )
    if main is None:
        return
    canonical_further: list[str] = []
    for symbol in further:
        if symbol.canonical != main.canonical and symbol.canonical not in canonical_further:
            canonical_further.append(symbol.canonical)
    values["main_ipc"] = main.canonical
    values["further_ipcs"] = canonical_further
    prefixes: dict[str, None] = {}
    for symbol in [main, *further]:
        for prefix in symbol.prefixes:
            prefixes.setdefault(prefix, None)
    values["ipc_prefixes"] = list(prefixes)


def clean_dates(record: _Record, number: ApplicationNumber | None) -> None:
    """Filing (required) and grant dates: real dates, not in the future, the grant not before
    the filing, the filing in the number's year (PCT numbers carry the national-phase year);
    and the expiry date, from the type and the filing date."""
    data, errors, values = record.data, record.errors, record.values
    for name in ("filing_date", "grant_date"):
        if not record.cleans(name):
            values[name] = record.current(name)
            continue
        if not record.given(name):
            if name == "filing_date":
                record.required(name)
            values[name] = None
            continue
        try:
            parsed = parse_date(data[name])
        except (ValueError, TypeError):
            errors.add(
                name,
                "invalid_date",
                _("%(given)s is not a date; write it as YYYY-MM-DD."),
                given=_text(data[name])[:30],
            )
            continue
        if parsed > record.today:
            errors.add(name, "date_in_future", _("This date is in the future."))
        values[name] = parsed
    filing, grant = values.get("filing_date"), values.get("grant_date")
    if filing and grant and grant < filing:
        errors.add(
            "grant_date", "grant_before_filing", _("The grant date is before the filing date.")
        )
    if filing and number is not None and not number.is_pct and filing.year != number.year:
        errors.add(
            "filing_date",
            "filing_date_year_mismatch",
            _("The application number says %(year)d but the filing date is in %(filing)d."),
            year=number.year,
            filing=filing.year,
        )
    if filing and "patent_type" in values:
        values["expiry_date"] = expiry_date(values["patent_type"], filing)


def clean_publications(record: _Record) -> None:
    """CN publication numbers, upper-cased without spaces, without repeats."""
    if not record.cleans("publication_numbers"):
        return
    publications = [
        p.upper().replace(" ", "") for p in _list(record.data.get("publication_numbers"))
    ]
    for publication in publications:
        if not PUBLICATION_RE.match(publication):
            record.errors.add(
                "publication_numbers",
                "invalid_publication_number",
                _("%(given)s is not a CN publication number such as CN114123456A."),
                given=publication[:30],
            )
    record.values["publication_numbers"] = list(dict.fromkeys(publications))


def clean_legal_status(record: _Record) -> None:
    """The legal-status facts an import may carry: the status and the last patent year whose
    annual fee is paid (both only when given)."""
    data, errors, values = record.data, record.errors, record.values
    if record.given("legal_status"):
        status = STATUS_ALIASES.get(_text(data["legal_status"]).lower())
        if status is None:
            errors.add(
                "legal_status",
                "invalid_legal_status",
                _("The legal status must be in_force, terminated, expired or invalidated."),
            )
        else:
            values["legal_status"] = status
    if record.given("annual_fees_paid_through"):
        try:
            year = int(_text(data["annual_fees_paid_through"]))
        except ValueError:
            year = -1
        if not 1 <= year <= 20:
            errors.add(
                "annual_fees_paid_through",
                "invalid_patent_year",
                _("A patent year between 1 and 20."),
            )
        else:
            values["annual_fees_paid_through"] = year


def patent_tokens(title: str, abstract: str, claims: str) -> tuple[str, str, str]:
    """The segmented title and body a patent's search vector is built from, and the bigrams of
    its title and abstract (the bigram vector's; claims left out: they would multiply the
    index for text a searcher rarely means)."""
    return (
        index_tokens(title),
        index_tokens(f"{abstract}\n{claims[:5000]}"),
        index_grams(f"{title}\n{abstract}"),
    )


def iter_fields(error: InvalidInput) -> Iterable[tuple[str, str, str]]:
    """(field, code, message) of every problem an InvalidInput from clean_patent carries."""
    items = getattr(error, "items", None)
    if items:
        yield from items
        return
    for field, messages in error.fields.items():
        for message in messages:
            yield field, error.code, str(message)
