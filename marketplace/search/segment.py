"""Chinese and English segmentation with jieba (the rjieba binding of jieba-rs), the same for the
index and for queries.

PostgreSQL has no Chinese parser here, so text is cut into words in Python and stored
space-joined; the 'simple' configuration then indexes each word as it is. rjieba cuts the same
way as jieba with the same bundled dictionary and runs ~40x faster (measured: 25 M chars/s
against 0.65 M chars/s on this machine), which keeps bulk import and indexing cheap.

Index and query go through one cut (`segment`: jieba's search mode, which also emits the
dictionary words inside a longer word, 锂离子 → 离子). jieba's cut depends on the context, so a
query word is matched as a group: the word itself, or all its parts together, or a synonym
(`query_terms`): 降解塑料 in a query meets 可 降解 塑料 in the index. Technical terms of the synonym
table join jieba's dictionary, so 锂离子电池 is one word wherever it appears.

Beside the words, a second, lower-weighted channel: the character bigrams of a text (`grams`),
the index's from the title and abstract, the query's from the query, by the same function. They
meet what jieba cuts differently in a query and in a document (查破洞 → 查破 洞 in a query, 破洞 in
the document) and documents holding only part of a compound (降解塑料 → 降解). A bigram never spans
a stop word, a function character or punctuation, and a lone character makes none: 可 or 的
alone are no grams, so they match nothing.

The synonyms a query uses, and the bilingual term list that lets an English query word also
meet its Chinese term (battery → 电池) and a Chinese one its English term, are the maintained
tables of marketplace/search/vocabulary.py, re-read without a restart when they change; the
dictionary is fed from the shipped synonyms.tsv only, so the index is cut alike everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import rjieba

from marketplace.search import vocabulary as vocabulary_module
from marketplace.search.vocabulary import Vocabulary, english_key, vocabulary

SYNONYMS_FILE = Path(__file__).with_name("synonyms.tsv")

# Words so common in patent text that they only slow ranking down and match everything.
STOPWORDS = frozenset(
    [
        "本发明",
        "本实用新型",
        "一种",
        "一",
        "种",
        "及其",
        "及",
        "其",
        "和",
        "与",
        "或",
        "的",
        "之",
        "用于",
        "用",
        "于",
        "所述",
        "该",
        "本",
        "发明",
        "实用新型",
        "公开",
        "了",
        "包括",
        "包含",
        "方法",
        "装置",
        "系统",
        "设备",
        "结构",
        "组件",
        "模块",
        "单元",
        "制备",
        "方法及",
        "以及",
        "以",
        "在",
        "为",
        "是",
        "由",
        "中",
        "上",
        "下",
        "对",
        "将",
        "等",
        # Function characters: alone they match nearly every abstract (可 in 可以, 可靠, 可降解).
        "可",
        "可以",
        "能",
        "能够",
        "使",
        "使得",
        "被",
        "从",
        "并",
        "且",
        "而",
        "则",
        "也",
        "又",
        "把",
        "所",
        "个",
        "其中",
        "通过",
        "具有",
        "进行",
        "涉及",
        "提供",
        "采用",
        "实现",
        "设有",
        "至少",
        "多个",
        "若干",
        "所述的",
        "一个",
        # How people ask rather than what they ask about (colloquial queries): pronouns,
        # question words and sentence particles. No patent is about them.
        "我",
        "我们",
        "你",
        "你们",
        "自己",
        "怎么",
        "怎么办",
        "怎样",
        "如何",
        "什么",
        "哪些",
        "哪个",
        "哪里",
        "为什么",
        "是否",
        "有没有",
        "能不能",
        "可不可以",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "请问",
        "a",
        "an",
        "and",
        "or",
        "of",
        "the",
        "for",
        "to",
        "in",
        "on",
        "with",
        "by",
        "from",
        "as",
        "at",
        "is",
        "are",
        "be",
        "that",
        "this",
        "which",
        "its",
        "into",
        "method",
        "methods",
        "device",
        "devices",
        "system",
        "systems",
        "apparatus",
        "use",
        "using",
        "used",
        "thereof",
    ]
)
_WORD = re.compile(r"[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
MAX_QUERY_TOKENS = 12
# Bigrams of a query kept (a query of 24 Chinese characters has 23).
MAX_QUERY_GRAMS = 24


def _keep(token: str) -> bool:
    return bool(_WORD.search(token)) and token not in STOPWORDS


@lru_cache(maxsize=1)
def shipped_synonym_groups() -> dict[str, tuple[str, ...]]:
    """term (lower case) → the other terms of its synonym group, from the shipped synonyms.tsv
    (the dictionary's words; queries read the maintained table, synonym_groups())."""
    groups: dict[str, tuple[str, ...]] = {}
    for line in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        terms = [term.strip().lower() for term in line.split("\t") if term.strip()]
        for term in terms:
            groups[term] = tuple(other for other in terms if other != term)
    return groups


def synonym_groups() -> dict[str, tuple[str, ...]]:
    """term (lower case) → the other terms of its synonym group, from the maintained table."""
    return vocabulary().synonyms


def _load_dictionary() -> None:
    for term in shipped_synonym_groups():
        if re.search(r"[\u3400-\u9fff]", term) and not rjieba.has_word(term):
            rjieba.add_word(term, 2000, None)


_load_dictionary()


def segment(text: str) -> list[str]:
    """The words of a text, index and query alike: search-mode cut, lower case, no stop words
    or function characters."""
    words = (token.strip().lower() for token in rjieba.cut_for_search(text or ""))
    return [word for word in words if _keep(word)]


def index_tokens(text: str) -> str:
    """Words for the index (space-joined for the 'simple' text-search configuration)."""
    return " ".join(segment(text)) if text else ""


def grams(text: str) -> list[str]:
    """The distinct character bigrams of a text's Chinese runs, in order of first appearance.

    A run is a stretch of Chinese characters between stop words (jieba's accurate cut: 的, 可,
    一种, 方法, …), punctuation, spaces, Latin letters and digits; a run of one character makes no
    bigram. Index and query alike: `index_grams` and the query's grams call this.
    """
    # Stop words become a separator; every other character that is not Chinese (spaces,
    # punctuation, Latin, digits) ends a run by itself. One pass of jieba without its HMM (it
    # only guesses words outside the dictionary, and no stop word is one; ~25 % faster).
    tokens = rjieba.cut(text.lower(), False)
    joined = "".join("|" if token in STOPWORDS else token for token in tokens)
    return list(
        dict.fromkeys(
            run[at : at + 2] for run in _HAN.findall(joined) for at in range(len(run) - 1)
        )
    )


def index_grams(text: str) -> str:
    """Bigrams for the index (space-joined for the 'simple' configuration)."""
    return " ".join(grams(text)) if text else ""


def query_grams(text: str) -> list[str]:
    """The bigrams of a query (at most MAX_QUERY_GRAMS)."""
    return grams(text)[:MAX_QUERY_GRAMS]


@dataclass(frozen=True)
class QueryTerm:
    """One word of a query and what else meets it: its parts (all of them together) and its
    synonyms (each on its own)."""

    word: str
    parts: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    # The term in the other language (the term list: battery → 电池), each on its own.
    translations: tuple[str, ...] = ()

    def lexemes(self) -> list[str]:
        """Every form of the term, for highlighting."""
        return list(dict.fromkeys([self.word, *self.parts, *self.synonyms, *self.translations]))


def _parts(word: str) -> tuple[str, ...]:
    """The search-mode words inside `word` that cover it, without those inside another part
    (锂离子电池 → 锂离子, 电池); () when they leave a character uncovered."""
    inner = [part for part in segment(word) if part != word]
    inner = [
        part for part in dict.fromkeys(inner) if not any(part != o and part in o for o in inner)
    ]
    inner.sort(key=word.find)
    covered = set()
    for part in inner:
        at = word.find(part)
        covered |= set(range(at, at + len(part))) if at >= 0 else set()
    return tuple(inner) if len(inner) > 1 and covered == set(range(len(word))) else ()


def query_terms(text: str) -> list[QueryTerm]:
    """The terms of a query, in order, without duplicates, stop words or function characters
    (at most a dozen)."""
    words = vocabulary()
    synonyms = words.synonyms
    seen: dict[str, QueryTerm] = {}
    for token in rjieba.cut(text or ""):
        word = token.strip().lower()
        if not _keep(word) or word in seen:
            continue
        parts = _parts(word)
        if not parts and word not in synonyms:
            # A word jieba's search mode splits further: the query meets it in either form.
            inner = segment(word)
            if inner and word not in inner:
                for part in inner:
                    seen.setdefault(part, QueryTerm(part, (), synonyms.get(part, ())))
                continue
        seen[word] = QueryTerm(word, parts, synonyms.get(word, ()))
    return _across_languages(list(seen.values()), words)[:MAX_QUERY_TOKENS]


def _across_languages(terms: list[QueryTerm], words: Vocabulary) -> list[QueryTerm]:
    """Words that make a known term of several words become one term (waste water → 废水: the
    phrase by all its words, or its synonyms, or its translation; 钠 电池 → 钠电池 when the
    synonym table has it); then every term gets its translations. Nothing when
    vocabulary.ACROSS_LANGUAGES is off (a benchmark's baseline)."""
    if not vocabulary_module.ACROSS_LANGUAGES:
        return terms
    merged: list[QueryTerm] = []
    at = 0
    while at < len(terms):
        for size in range(min(4, len(terms) - at), 1, -1):
            run = terms[at : at + size]
            parts = tuple(term.word for term in run)
            if all(word.isascii() for word in parts):
                phrase = " ".join(parts)
                known = english_key(phrase) in words.phrases
            else:
                # A Chinese term of the tables that jieba's dictionary does not hold (added in
                # the admin), cut into pieces: 钠电池 → 钠 电池.
                phrase = "".join(parts)
                known = not any(word.isascii() for word in parts) and (
                    phrase in words.synonyms or bool(words.translations_of(phrase))
                )
            if known:
                merged.append(QueryTerm(phrase, parts, words.synonyms_of(phrase)))
                at += size
                break
        else:
            merged.append(terms[at])
            at += 1
    return [replace(term, translations=_translations(term, words)) for term in merged]


def _translations(term: QueryTerm, words: Vocabulary) -> tuple[str, ...]:
    """The term's own translations; for a Chinese word without any whose parts all have one,
    theirs together (污水处理 → sewage treatment)."""
    found = words.translations_of(term.word)
    if found or not term.parts or term.word.isascii():
        return found
    each = [words.translations_of(part) for part in term.parts]
    if all(each) and all(options[0].isascii() for options in each):
        return (" ".join(options[0] for options in each),)
    return ()


def term_parts(word: str) -> tuple[str, ...]:
    """The search-mode words that cover `word` (see _parts), for the term list's terms."""
    return _parts(word)


def query_tokens(text: str) -> list[str]:
    """The words of a query (each term's own word), in order."""
    return [term.word for term in query_terms(text)]


def title_words_tsquery(text: str) -> str:
    """Every word of `text` as the index holds a title's words (the word, or all its
    search-mode parts; weight A, the title's), as a tsquery over Patent.search_vector; "" when
    `text` has no word the index keeps (single characters, stop words, punctuation).

    Literal: no synonyms or translations. A filter by title words narrows by it through the
    patents' GIN index, then checks the title itself (the register's ?q=: a walk of every
    declaration otherwise, 1.5 s at 1,000,000 patents for a word that matches nothing)."""
    options: dict[str, str] = {}
    for token in rjieba.cut(text or ""):
        word = token.strip().lower()
        if not _keep(word) or word in options:
            continue
        inner = segment(word)
        parts = _parts(word)
        if not parts and inner and word not in inner:
            # The index holds only the word's parts (as query_terms reads it).
            for part in inner:
                options.setdefault(part, _title(part))
            continue
        forms = [_title(word)]
        if parts:
            forms.append("(" + " & ".join(_title(part) for part in parts) + ")")
        options[word] = "(" + " | ".join(forms) + ")" if len(forms) > 1 else forms[0]
    return " & ".join(list(options.values())[:MAX_QUERY_TOKENS])


def _title(word: str) -> str:
    # A lexeme in single quotes (quotes and backslashes escaped) of the title's weight.
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':A"
