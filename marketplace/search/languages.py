"""Across languages: the term list's forms of a query term, and which language a hit matched by.

An English query word also meets its Chinese terms (battery → 电池, through the bilingual term
list of marketplace/search/vocabulary.py) and a Chinese one its English terms; a Chinese term is
met by its word or all its parts (as a Chinese query word is), an English one by all its words.

Each hit says how it was found (`matched`): `zh` — Chinese words of the query, its synonyms or
its translations are in the patent's text; `en` — Latin-script words (English terms,
abbreviations such as OLED); `meaning` — the sentence embedding put it among the query's
nearest patents; `number` — the query was its number. Which words a patent holds is asked of
its search vector in the statement that fetches the page (no statement of its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import BooleanField, ExpressionWrapper, Q, TextChoices, Value
from django.utils.translation import gettext_lazy as _

from marketplace.search.segment import QueryTerm, segment, term_parts

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORDS = re.compile(r"[0-9a-z]+")
_QUERY_WORDS = re.compile(r"[0-9a-z]+|[\u3400-\u9fff\uf900-\ufaff]+")


class MatchedBy(TextChoices):
    ZH = "zh", _("Chinese words")
    EN = "en", _("English words")
    MEANING = "meaning", _("similar meaning")
    NUMBER = "number", _("patent or declaration number")


def _quote(token: str) -> str:
    # A lexeme in single quotes, with quotes and backslashes escaped, is never an operator.
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _all(words: Iterable[str]) -> str:
    quoted = [_quote(word) for word in dict.fromkeys(words) if word]
    return quoted[0] if len(quoted) == 1 else "(" + " & ".join(quoted) + ")"


def term_forms(text: str) -> list[tuple[str, ...]]:
    """The ways the index can hold a term, each a tuple of words that must all be there:
    Chinese, the term itself or all its parts (增材制造技术 → 增材制造 & 技术); English, all its
    words (waste water → waste & water)."""
    text = text.strip().lower()
    if not _HAN.search(text):
        words = tuple(_LATIN_WORDS.findall(text))
        return [words] if words else []
    forms: list[tuple[str, ...]] = [(text,)]
    parts = term_parts(text) or tuple(word for word in segment(text) if word != text)
    if parts:
        forms.append(parts)
    return forms


def _option(form: tuple[str, ...]) -> str:
    # A Chinese term of one character (lithium → 锂, steel → 钢) is rarely a word of its own in
    # the index (磷酸铁锂 is cut 磷酸 铁 锂, but 钢板 stays one word): it meets the words that
    # begin with it.
    if len(form) == 1 and len(form[0]) == 1 and _HAN.match(form[0]):
        return _quote(form[0]) + ":*"
    return _all(form)


def translation_options(term: QueryTerm) -> list[str]:
    """tsquery alternatives that meet a term by its translations."""
    return [_option(form) for text in term.translations for form in term_forms(text)]


def _language_of(form: tuple[str, ...]) -> str:
    return MatchedBy.ZH if any(_HAN.search(word) for word in form) else MatchedBy.EN


def _synonym_form(text: str) -> tuple[str, ...]:
    # As query._alternative spells a synonym: all its words when it has several, else itself.
    words = _QUERY_WORDS.findall(text.lower())
    return tuple(words) if len(words) > 1 else (text.lower(),)


def language_queries(terms: Iterable[QueryTerm]) -> dict[str, str]:
    """Per language, a tsquery met by any form of any term in that language, spelt as the
    search's own query spells it (query._term_query): its word, all its parts, a synonym, a
    translation."""
    found: dict[str, list[str]] = {MatchedBy.ZH: [], MatchedBy.EN: []}
    for term in terms:
        own = [(term.word,), *([term.parts] if term.parts else [])]
        own += [_synonym_form(synonym) for synonym in term.synonyms]
        options = [(form, _all(form)) for form in own]
        options += [
            (form, _option(form)) for text in term.translations for form in term_forms(text)
        ]
        for form, option in dict.fromkeys(options):
            found[_language_of(form)].append(option)
    return {language: " | ".join(options) for language, options in found.items() if options}


def matched_annotations(terms: Iterable[QueryTerm]) -> dict[str, Any]:
    """Annotations matched_zh / matched_en for the statement that fetches a page of hits."""
    queries = language_queries(terms)
    return {
        f"matched_{language}": ExpressionWrapper(
            Q(search_vector=SearchQuery(queries[language], config="simple", search_type="raw"))
            if language in queries
            else Value(False),
            output_field=BooleanField(),
        )
        for language in (MatchedBy.ZH, MatchedBy.EN)
    }


def attach_matched(
    patents: Iterable[Any],
    *,
    mode: str,
    lexical_ids: frozenset[int] = frozenset(),
    meaning_ids: frozenset[int] = frozenset(),
) -> None:
    """Give each hit of a page its `matched` list: [{"value", "label"}] in the reader's
    language, in the order zh, en, meaning (number alone for a number lookup)."""
    for patent in patents:
        found: list[str] = []
        if mode == "number":
            found = [MatchedBy.NUMBER]
        else:
            if getattr(patent, "matched_zh", False):
                found.append(MatchedBy.ZH)
            if getattr(patent, "matched_en", False):
                found.append(MatchedBy.EN)
            if not found and patent.pk in lexical_ids:
                # Met by a form this module does not spell (a channel of the words' query of
                # its own): the words were the query's, in its script.
                found.append(MatchedBy.ZH)
            if patent.pk in meaning_ids:
                found.append(MatchedBy.MEANING)
        labels = dict(MatchedBy.choices)
        patent.matched = [{"value": str(value), "label": str(labels[value])} for value in found]
