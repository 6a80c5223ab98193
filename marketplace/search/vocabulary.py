"""Search's maintained vocabulary: synonym groups and the bilingual term list, from the database.

Both are reference data (marketplace.models.search_terms), seeded from the shipped files
(marketplace/search/synonyms.tsv and marketplace/reference_data/search_terms.csv) by migration,
re-imported with `manage.py import_search_terms`, edited in the admin. Every query reads them
through `vocabulary()`, an in-process copy stamped with a generation kept in Redis: a change
bumps the generation when its transaction commits, and each process compares its copy's stamp
with Redis at most once per CHECK_SECONDS, so an edit takes effect in every web and worker
process within a second, without a restart. Without Redis (or before the first change) the
copy is also re-read every MAX_AGE_SECONDS.

The jieba dictionary is not fed from here: it is fed from the shipped synonyms.tsv when
segment.py is imported, so the index is cut the same way in every process whatever the table
holds (a term added in the admin is found through its parts: marketplace/search/segment.py).
"""

from __future__ import annotations

import csv
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from marketplace.cache import UNREACHABLE

SYNONYMS_FILE = Path(__file__).with_name("synonyms.tsv")
TERMS_FILE = Path(__file__).resolve().parent.parent / "reference_data" / "search_terms.csv"
SOURCES_FILE = TERMS_FILE.with_name("sources.json")
GENERATION_KEY = "search-vocabulary:generation"
CHECK_SECONDS = 1.0
MAX_AGE_SECONDS = 300.0
TERM_COLUMNS = ("term_en", "term_zh", "sources")
# Reference-table keys (ReferenceTable.key) and their sources.json entries.
SYNONYMS_TABLE = ("synonyms", "synonyms.tsv")
TERMS_TABLE = ("search_terms", "search_terms.csv")
MAX_PHRASE_WORDS = 4
# Queries use the term list and keep English terms of several words together (segment.py);
# False gives search as it was without them, for bench/search_judged.py's comparison.
ACROSS_LANGUAGES = True

_LATIN_WORD = re.compile(r"[0-9a-z]+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def english_key(text: str) -> str:
    """An English term as lookups compare it: lower case, words only, each singular
    ("Lithium-ion batteries" → "lithium ion battery")."""
    return " ".join(singular(word) for word in _LATIN_WORD.findall(text.lower()))


def singular(word: str) -> str:
    """A plural English word's singular by the regular rules (batteries → battery, fibres →
    fibre); other words unchanged."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def term_key(term: str) -> str:
    """A term as the vocabulary looks it up: Chinese (or mixed) as written, lower case; English
    by english_key."""
    term = term.strip().lower()
    return term if _HAN.search(term) or not term.isascii() else english_key(term)


@dataclass(frozen=True)
class Vocabulary:
    """The synonym groups and translations as a query reads them."""

    # term (lower case) → the other terms of its group, as synonyms.tsv has always been read.
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # term_key → the terms in the other language (battery → 电池; 电池 → battery).
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # English terms of several words (their english_key) that a query keeps together.
    phrases: frozenset[str] = frozenset()
    # english_key of an English synonym of several words → the term as the group writes it
    # ("lithium ion battery" → "lithium-ion battery").
    written: dict[str, str] = field(default_factory=dict)

    def synonyms_of(self, word: str) -> tuple[str, ...]:
        found = self.synonyms.get(word.lower())
        if found is None and word.isascii() and " " in word:
            found = self.synonyms.get(self.written.get(english_key(word), ""))
        return found or ()

    def translations_of(self, word: str) -> tuple[str, ...]:
        return self.translations.get(term_key(word), ())


def build_vocabulary(
    groups: Iterable[Iterable[str]], translations: Iterable[tuple[str, str]]
) -> Vocabulary:
    """A Vocabulary from synonym groups (each a list of terms) and (English, Chinese) pairs."""
    synonyms: dict[str, tuple[str, ...]] = {}
    phrases: set[str] = set()
    written: dict[str, str] = {}
    for group in groups:
        terms = [term.strip().lower() for term in group if term.strip()]
        for term in terms:
            synonyms[term] = tuple(other for other in terms if other != term)
            if term.isascii() and len(english_key(term).split()) > 1:
                phrases.add(english_key(term))
                written[english_key(term)] = term
    across: dict[str, list[str]] = {}
    for english, chinese in translations:
        english, chinese = english.strip().lower(), chinese.strip()
        if not english or not chinese:
            continue
        across.setdefault(english_key(english), []).append(chinese)
        across.setdefault(term_key(chinese), []).append(english)
        if len(english_key(english).split()) > 1:
            phrases.add(english_key(english))
    return Vocabulary(
        synonyms=synonyms,
        translations={key: tuple(dict.fromkeys(values)) for key, values in across.items()},
        phrases=frozenset(phrase for phrase in phrases if phrase.count(" ") < MAX_PHRASE_WORDS),
        written=written,
    )


# ---- the shipped files --------------------------------------------------------------------


def read_synonym_lines(text: str) -> list[list[str]]:
    """Groups of a synonyms file: one a line, terms separated by tabs, '#' starts a comment."""
    groups = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        terms = list(dict.fromkeys(term.strip() for term in line.split("\t") if term.strip()))
        if len(terms) >= 2:
            groups.append(terms)
    return groups


def read_term_rows(text: str) -> list[dict[str, str]]:
    """Rows of a term-list CSV (term_en, term_zh, sources); ValueError on other columns."""
    reader = csv.DictReader(text.lstrip("\ufeff").splitlines())
    if tuple(reader.fieldnames or ()) != TERM_COLUMNS:
        raise ValueError(f"columns {tuple(reader.fieldnames or ())} != {TERM_COLUMNS}")
    return [dict(row) for row in reader]


def shipped_vocabulary() -> Vocabulary:
    """The vocabulary of the shipped files (what the migration loads), for a process without a
    database (segmentation tools, benchmarks on files)."""
    rows = read_term_rows(TERMS_FILE.read_text(encoding="utf-8")) if TERMS_FILE.exists() else []
    return build_vocabulary(
        read_synonym_lines(SYNONYMS_FILE.read_text(encoding="utf-8")),
        [(row["term_en"], row["term_zh"]) for row in rows],
    )


# ---- loading and importing ----------------------------------------------------------------


def _record_table(
    get_model: Callable[[str], Any], table: tuple[str, str], raw: bytes, row_count: int
) -> None:
    import json

    key, file_name = table
    source = json.loads(SOURCES_FILE.read_text(encoding="utf-8"))[file_name]
    get_model("ReferenceTable").objects.update_or_create(
        key=key,
        defaults={
            "standard": source["standard"],
            "title_zh": source["title_zh"],
            "title_en": source["title_en"],
            "version": source["version"],
            "source": source["source"],
            "notes": "\n".join(source.get("notes", [])),
            "notes_zh": "\n".join(source.get("notes_zh", [])),
            "row_count": row_count,
            "checksum": hashlib.sha256(raw).hexdigest(),
            "loaded_at": timezone.now(),
        },
    )


def _import_groups(
    get_model: Callable[[str], Any], groups: list[list[str]], source: str, replace: bool
) -> int:
    model = get_model("SynonymGroup")
    keys = []
    for terms in groups:
        key = terms[0].strip().lower()[:100]
        keys.append(key)
        model.objects.update_or_create(key=key, defaults={"terms": terms, "source": source})
    if replace:
        model.objects.exclude(key__in=keys).delete()
    return len(groups)


def _import_translations(
    get_model: Callable[[str], Any], rows: list[dict[str, str]], replace: bool
) -> int:
    model = get_model("TermTranslation")
    pairs = []
    for row in rows:
        english, chinese = row["term_en"].strip().lower(), row["term_zh"].strip()
        if not english or not chinese:
            raise ValueError(f"a row needs both terms: {row!r}")
        pairs.append((english, chinese))
        model.objects.update_or_create(
            term_en=english, term_zh=chinese, defaults={"sources": row["sources"].strip()[:300]}
        )
    if replace:
        kept = set(pairs)
        stale = [
            pk
            for pk, english, chinese in model.objects.values_list("pk", "term_en", "term_zh")
            if (english, chinese) not in kept
        ]
        model.objects.filter(pk__in=stale).delete()
    return len(pairs)


def search_vocabulary_load_shipped(get_model: Callable[[str], Any] | None = None) -> int:
    """(Re)load both shipped files, replacing the tables' rows; the migration calls it with its
    historical models. Returns the rows loaded."""
    get_model = get_model or (lambda name: apps.get_model("marketplace", name))
    with transaction.atomic():
        synonyms_raw = SYNONYMS_FILE.read_bytes()
        groups = read_synonym_lines(synonyms_raw.decode("utf-8"))
        count = _import_groups(get_model, groups, "synonyms.tsv", replace=True)
        _record_table(get_model, SYNONYMS_TABLE, synonyms_raw, len(groups))
        terms_raw = TERMS_FILE.read_bytes()
        rows = read_term_rows(terms_raw.decode("utf-8"))
        count += _import_translations(get_model, rows, replace=True)
        _record_table(get_model, TERMS_TABLE, terms_raw, len(rows))
        vocabulary_changed()
    return count


def synonym_groups_import(*, text: str, source: str, replace: bool = False) -> int:
    """Import synonym groups from a synonyms file's text (one group a line, tab-separated);
    with replace, groups not in the file are removed. Returns the groups imported."""
    groups = read_synonym_lines(text)
    if not groups:
        raise ValueError("no group of two or more terms")
    with transaction.atomic():
        count = _import_groups(
            lambda name: apps.get_model("marketplace", name), groups, source, replace
        )
        vocabulary_changed()
    return count


def term_translations_import(*, text: str, replace: bool = False) -> int:
    """Import term pairs from a CSV (term_en, term_zh, sources); with replace, pairs not in the
    file are removed. Returns the pairs imported."""
    rows = read_term_rows(text)
    with transaction.atomic():
        count = _import_translations(
            lambda name: apps.get_model("marketplace", name), rows, replace
        )
        vocabulary_changed()
    return count


# ---- the in-process copy ------------------------------------------------------------------


@dataclass
class _Copy:
    vocabulary: Vocabulary
    generation: Any
    loaded_at: float
    checked_at: float


_lock = threading.Lock()
_copy: _Copy | None = None


def _bump() -> None:
    global _copy
    _copy = None
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # no counter yet (or evicted): any new value tells the others
            cache.set(GENERATION_KEY, time.time_ns(), timeout=None)
    except (RedisError, *UNREACHABLE):
        # Without Redis the other processes re-read within MAX_AGE_SECONDS.
        pass


def vocabulary_changed() -> None:
    """Synonyms or translations changed: every process re-reads them once this commits."""
    transaction.on_commit(_bump)


def _on_change(sender: Any, **kwargs: Any) -> None:
    vocabulary_changed()


def watch_vocabulary(*models: Any) -> None:
    """Any save or delete of these models (an edit in the admin) tells every process (apps'
    ready())."""
    from django.db.models.signals import post_delete, post_save

    for model in models:
        uid = f"search-vocabulary:{model._meta.label}"
        post_save.connect(_on_change, sender=model, dispatch_uid=f"{uid}:save")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"{uid}:delete")


def vocabulary_reset() -> None:
    """Forget this process's copy (tests whose rolled-back rows it may have read)."""
    global _copy
    _copy = None


def _from_database() -> Vocabulary | None:
    try:
        groups = list(
            apps.get_model("marketplace", "SynonymGroup").objects.values_list("terms", flat=True)
        )
        pairs = list(
            apps.get_model("marketplace", "TermTranslation").objects.values_list(
                "term_en", "term_zh"
            )
        )
    except (DatabaseError, ImproperlyConfigured, AppRegistryNotReady, LookupError, RuntimeError):
        # No database here (a tool, or a test without one: pytest-django's RuntimeError).
        return None
    if not groups and not pairs:
        return None  # not loaded yet (a database migrated without data): the shipped files
    return build_vocabulary(groups, pairs)


def vocabulary() -> Vocabulary:
    """The current vocabulary (see the module docstring for how fresh it is)."""
    global _copy
    now = time.monotonic()
    current = _copy
    if current is not None and now - current.checked_at < CHECK_SECONDS:
        return current.vocabulary
    try:
        generation = cache.get(GENERATION_KEY)  # None while Redis is unreachable
    except ImproperlyConfigured:  # segmentation used without Django settings
        generation = None
    with _lock:
        current = _copy
        if (
            current is None
            or generation != current.generation
            or now - current.loaded_at >= MAX_AGE_SECONDS
        ):
            found = _from_database()
            current = _Copy(found or shipped_vocabulary(), generation, now, now)
            if found is None:  # no table yet: try the database again on the next check
                current.loaded_at = now - MAX_AGE_SECONDS
            _copy = current
        current.checked_at = now
        return current.vocabulary
