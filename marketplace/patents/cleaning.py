"""Checking and normalising patent data from the API or an import row, all errors at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput, Message
from marketplace.patents.ipc import parse_ipc
from marketplace.patents.numbers import parse_application_number
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


def clean_patent(
    data: Mapping[str, Any], *, today: date | None = None, partial_of: Any = None
) -> dict[str, Any]:
    """Validate patent fields; returns model field values (with tokens and expiry).

    `partial_of` is an existing patent whose values fill in fields not given (for updates).
    """
    today = today or timezone.localdate()
    errors = Errors()
    values: dict[str, Any] = {}

    def given(name: str) -> bool:
        return name in data and data[name] not in (None, "")

    def current(name: str) -> Any:
        return getattr(partial_of, name) if partial_of is not None else None

    # Application number and type.
    number = None
    if partial_of is not None:
        values["application_number"] = partial_of.application_number
        values["patent_type"] = partial_of.patent_type
        values["is_pct"] = partial_of.is_pct
        number = parse_application_number(partial_of.application_number)
    elif not given("application_number"):
        errors.add("application_number", "required", _("This field is required."))
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
    if given("patent_type") and partial_of is None:
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

    # Texts.
    for name, limit in LIMITS.items():
        if name in data or partial_of is None:
            text = _text(data.get(name))
            if name == "title" and not text:
                errors.add("title", "required", _("This field is required."))
            elif len(text) > limit:
                errors.add(
                    name,
                    "too_long",
                    _("At most %(limit)d characters; this has %(length)d."),
                    limit=limit,
                    length=len(text),
                )
            values[name] = text
        else:
            values[name] = current(name)

    # IPC.
    subclasses = _known_subclasses()
    main = None
    if "main_ipc" in data or partial_of is None:
        if not given("main_ipc"):
            errors.add("main_ipc", "required", _("This field is required."))
        else:
            try:
                main = parse_ipc(_text(data["main_ipc"]), "main_ipc")
            except InvalidInput as error:
                errors.add_error("main_ipc", error)
    else:
        main = parse_ipc(partial_of.main_ipc)
    further_raw = (
        _list(data.get("further_ipcs"))
        if "further_ipcs" in data or partial_of is None
        else list(current("further_ipcs"))
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
    for symbol, field in [(main, "main_ipc"), *((f, "further_ipcs") for f in further)]:
        if symbol is not None and subclasses and symbol.subclass not in subclasses:
            errors.add(
                field,
                "unknown_ipc_subclass",
                _("%(subclass)s is not an IPC subclass."),
                subclass=symbol.subclass,
            )
    if main is not None:
        canonical_further = []
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

    # Dates.
    filing = grant = None
    for name in ("filing_date", "grant_date"):
        if name in data or partial_of is None:
            if not given(name):
                if name == "filing_date":
                    errors.add(name, "required", _("This field is required."))
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
            if parsed > today:
                errors.add(name, "date_in_future", _("This date is in the future."))
            values[name] = parsed
        else:
            values[name] = current(name)
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

    # Publication numbers.
    if "publication_numbers" in data or partial_of is None:
        publications = [p.upper().replace(" ", "") for p in _list(data.get("publication_numbers"))]
        for publication in publications:
            if not PUBLICATION_RE.match(publication):
                errors.add(
                    "publication_numbers",
                    "invalid_publication_number",
                    _("%(given)s is not a CN publication number such as CN114123456A."),
                    given=publication[:30],
                )
        values["publication_numbers"] = list(dict.fromkeys(publications))

    # Legal-status facts that an import may carry.
    if given("legal_status"):
        status = STATUS_ALIASES.get(_text(data["legal_status"]).lower())
        if status is None:
            errors.add(
                "legal_status",
                "invalid_legal_status",
                _("The legal status must be in_force, terminated, expired or invalidated."),
            )
        else:
            values["legal_status"] = status
    if given("annual_fees_paid_through"):
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

    errors.raise_if_any()
    values["title_tokens"], values["body_tokens"], values["gram_tokens"] = patent_tokens(
        values["title"], values["abstract"], values["claims"]
    )
    return values


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
