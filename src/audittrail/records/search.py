"""The record list's `search`: its syntax, and the full-text condition it becomes on each database.

    refund            records with the word (whole: "refund", not "refunded")
    refund*           words starting with it
    "card declined"   the words in this order, next to each other
    -test             without the word (also -"a phrase", -pref*)
    INV-1042          several words: all of them must be there

A term made of several words (an identifier: `INV-1042`, `alice@example.com`, `10.0.0.7`, a
UUID) is a phrase of its words, split as the records' words are (search_words.py): it finds the
identifier whole, and each of its words alone finds it by its parts. Terms without a word (`-`,
`***`, `--`) are dropped; a search with none left is no filter. An unclosed quote is a 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    cast,
    func,
    literal_column,
    not_,
    select,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from audittrail import search_words
from audittrail.db import fts5
from audittrail.db.models import SEARCH_VECTOR, Record
from audittrail.errors import FieldProblem, Unprocessable

# A bare term runs to a space or a quote; a minus just before a quote starts an exclusion.
TERM = re.compile(
    r'(?P<exclude>-)?(?:"(?P<phrase>[^"]*)"(?P<quoted_prefix>\*)?|(?P<bare>(?:[^\s"-]|-(?!"))+))'
)


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    prefix: bool  # the last word may be the start of a longer one


@dataclass(frozen=True)
class Search:
    required: tuple[Term, ...]
    excluded: tuple[Term, ...]


def parse(text: str | None) -> Search | None:
    """The search, or None if it has no word to look for."""
    if not text:
        return None
    if text.count('"') % 2:
        problem = FieldProblem(
            "query.search", "INVALID_SEARCH", 'has a quote (") that is not closed.'
        )
        raise Unprocessable(
            'Invalid query parameter search: a quote (") is not closed.', details=[problem]
        )
    required: list[Term] = []
    excluded: list[Term] = []
    for match in TERM.finditer(text):
        if match["phrase"] is not None:
            term = Term(tuple(search_words.words(match["phrase"])), bool(match["quoted_prefix"]))
        else:
            bare = match["bare"]
            term = Term(tuple(search_words.words(bare)), bare.endswith("*"))
        if term.words:
            (excluded if match["exclude"] else required).append(term)
    if not required and not excluded:
        return None
    return Search(tuple(required), tuple(excluded))


def condition(search: Search, dialect: str) -> ColumnElement[bool]:
    """The records the search finds, through each database's full-text index."""
    if dialect == "postgresql":
        return _postgres(search)
    return _sqlite(search)


def _postgres(search: Search) -> ColumnElement[bool]:
    """Every required word by the GIN index of the words (a prefix as `'word':*`); the order of a
    phrase's words and the exclusions by a pattern over the words between spaces, which the
    index narrowed down to few rows (or, with nothing required, every row)."""
    where: list[ColumnElement[bool]] = []
    lexemes = [
        f"'{word}'" + (":*" if term.prefix and last else "")
        for term in search.required
        for last, word in _with_last(term.words)
    ]
    if lexemes:
        # Words are letters, digits and marks only: no quote can end a lexeme early.
        where.append(SEARCH_VECTOR.bool_op("@@")(cast(" & ".join(lexemes), TSQUERY)))
    spaced = literal_column("' '").concat(Record.search_text).concat(literal_column("' '"))
    where.extend(spaced.like(_pattern(term)) for term in search.required if len(term.words) > 1)
    where.extend(not_(spaced.like(_pattern(term))) for term in search.excluded)
    return and_(*where)


def _with_last(words: tuple[str, ...]) -> list[tuple[bool, str]]:
    return [(index == len(words) - 1, word) for index, word in enumerate(words)]


def _pattern(term: Term) -> str:
    """LIKE over ' ' + search_text + ' ': the term's words next to each other, the last whole or,
    for a prefix, begun. Words hold no % or _, so nothing needs escaping."""
    return "% " + " ".join(term.words) + ("%" if term.prefix else " %")


def _sqlite(search: Search) -> ColumnElement[bool]:
    query = fts5_query(search)
    if query is None:
        excluded = " OR ".join(_fts5_phrase(term) for term in search.excluded)
        return not_(Record.seq.in_(fts5_seqs(excluded)))
    return Record.seq.in_(fts5_seqs(query))


def fts5_query(search: Search) -> str | None:
    """The search as an FTS5 query; None if it only excludes (FTS5 finds only what matches)."""
    if not search.required:
        return None
    query = " AND ".join(_fts5_phrase(term) for term in search.required)
    if search.excluded:
        query += " NOT (" + " OR ".join(_fts5_phrase(term) for term in search.excluded) + ")"
    return query


def fts5_count(query: str) -> Select[int]:
    """How many records the FTS5 query finds, from its index alone (a row per record)."""
    return (
        select(func.count()).select_from(fts5.TABLE).where(fts5.TABLE.c.records_search.match(query))
    )


def fts5_seqs(query: str) -> Select[tuple[Any]]:
    """The seqs of the records the FTS5 query finds (its rowids: `fts5.TABLE.c.rowid` to order
    or bound them)."""
    return select(fts5.TABLE.c.rowid).where(fts5.TABLE.c.records_search.match(query))


def _fts5_phrase(term: Term) -> str:
    # An FTS5 string: its words in order; `*` after it makes the last a prefix.
    return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")
