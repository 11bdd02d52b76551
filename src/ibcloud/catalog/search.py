"""Keyword search over projects and investors: the query language, its compilers, the index.

A query is words, "quoted phrases", ``AND`` / ``OR`` / ``NOT`` (also 与 / 或 / 非, and ``-word``),
parentheses; words side by side must all match. The user guide is ``docs/catalog-search.md``.

Every word or phrase is cut by :func:`ibcloud.catalog.segmentation.segment`, the same cutter that
filled ``search_text``, and matches as a phrase of its tokens: "云图智能" → 云图 智能 next to each
other. When a Chinese search word is cut into several pieces (or is one character), its last piece
also matches as a prefix ("云图智" finds "云图智能", "鼎信医疗" finds "鼎信医疗器械"); a single
whole word matches inside compounds through the sub-words ``search_text`` holds. A ``*`` after a
word asks for a prefix explicitly ("robot*").

The parse tree compiles to each database's own full text search over ``search_text``:

* SQLite: an FTS5 table ``<table>_fts`` (external content, rowid = id, ``unicode61``
  tokenizer), kept in step by triggers, so ``bulk_create`` and ``bulk_update`` are indexed too.
  The ingest pipeline writes its batches without them and indexes its rows in bulk
  (:func:`triggers_suspended`, :func:`index_rows`, :func:`reindex_rows`).
  Parts FTS5 cannot say (a ``NOT`` with nothing positive beside it) become SQL ``NOT IN``.
* PostgreSQL: a GIN index on ``to_tsvector('simple', search_text)`` and one ``tsquery`` (``<->``
  for phrases, ``:*`` for prefixes, ``!`` for NOT).

The compilers only ever pass the query to the database as a bound parameter, with every token
quoted, so no user input becomes SQL or FTS syntax.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import DatabaseError, NotSupportedError, connections
from django.db.models import IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.lookups import In
from django.db.models.sql.where import AND, WhereNode
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from rest_framework.response import Response

from ibcloud.catalog.segmentation import is_han, segment
from ibcloud.core.rest import Pagination

#: the longest query accepted (characters); longer input is a mistake or an attack
MAX_QUERY_LENGTH = 500
#: the most words and phrases in one query
MAX_TERMS = 32
#: how far the pager counts matches before it shows "more than N"
COUNT_LIMIT = 10_000


class QuerySyntaxError(ValueError):
    """A keyword query that cannot be parsed; ``str(error)`` says why, for the user."""


# --- The parse tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word or a quoted phrase: its tokens must appear next to each other, in order."""

    text: str
    tokens: tuple[str, ...]
    #: the last token matches as a prefix (Chinese words always; others when written ``word*``)
    prefix: bool = False


@dataclass(frozen=True)
class And:
    children: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Query, ...]


@dataclass(frozen=True)
class Not:
    child: Query


Query = Term | And | Or | Not


def query_terms(query: Query) -> list[Term]:
    """The words and phrases a query looks for (not those under ``NOT``), e.g. to highlight."""
    if isinstance(query, Term):
        return [query]
    if isinstance(query, Not):
        return []
    return [term for child in query.children for term in query_terms(child)]


# --- Parsing -------------------------------------------------------------------------------------

OPERATORS = {"and": "AND", "与": "AND", "or": "OR", "或": "OR", "not": "NOT", "非": "NOT"}
# Chinese and full-width quotation marks typed by Chinese input methods
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "『": '"', "』": '"'})
_SPECIAL = '()"'


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD, PHRASE, AND, OR, NOT, LPAREN, RPAREN
    text: str = ""
    prefix: bool = False


def _lex(q: str) -> list[_Token]:
    # NFKC turns （） and ＂ into ASCII; case is kept for messages, words are lowercased later
    text = unicodedata.normalize("NFKC", q).translate(_QUOTES)
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(_Token("LPAREN"))
            i += 1
        elif char == ")":
            tokens.append(_Token("RPAREN"))
            i += 1
        elif char == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(_("A quotation mark is not closed."))
            prefix = end + 1 < n and text[end + 1] == "*"
            tokens.append(_Token("PHRASE", text[i + 1 : end], prefix))
            i = end + 2 if prefix else end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            word = text[start:i]
            operator = OPERATORS.get(word.lower())
            if operator:
                tokens.append(_Token(operator, word))
            elif word.startswith("-") and len(word) > 1:
                # "-word" excludes, as in web search engines; "a-b" stays one word
                tokens.append(_Token("NOT", "-"))
                tokens.append(_Token("WORD", word[1:].rstrip("*"), word.endswith("*")))
            else:
                tokens.append(_Token("WORD", word.rstrip("*"), word.endswith("*")))
    return tokens


class _Parser:
    """Recursive descent: ``or := and (OR and)*``, ``and := unary ([AND] unary)*``,
    ``unary := NOT unary | '(' or ')' | word | phrase``."""

    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.pos = 0
        self.terms = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Query | None:
        if not self.tokens:
            return None
        node = self.parse_or()
        if self.peek() is not None:  # parse_or stops only at the end or at a ")"
            raise QuerySyntaxError(_('A closing parenthesis ")" has no opening one.'))
        return node

    def parse_or(self) -> Query | None:
        children = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            children.append(self.parse_and())
        return _combine(Or, children)

    def parse_and(self) -> Query | None:
        children = [self.parse_unary()]
        while (token := self.peek()) is not None and token.kind not in ("OR", "RPAREN"):
            if token.kind == "AND":
                self.take()
            children.append(self.parse_unary())
        return _combine(And, children)

    def parse_unary(self) -> Query | None:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError(_("The query ends with an operator: a word is missing."))
        if token.kind == "NOT":
            self.take()
            child = self.parse_unary()
            return Not(child) if child is not None else None
        if token.kind == "LPAREN":
            self.take()
            if (inner := self.peek()) is not None and inner.kind == "RPAREN":
                raise QuerySyntaxError(_("Empty parentheses: put words between them."))
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "RPAREN":
                raise QuerySyntaxError(_('An opening parenthesis "(" is not closed.'))
            self.take()
            return node
        if token.kind in ("WORD", "PHRASE"):
            self.take()
            return self.term(token)
        if token.kind == "RPAREN":
            raise QuerySyntaxError(_('A closing parenthesis ")" has no opening one.'))
        raise QuerySyntaxError(
            _("“%(operator)s” needs a word on each side.") % {"operator": token.text}
        )

    def term(self, token: _Token) -> Term | None:
        tokens = tuple(segment(token.text))
        if not tokens:
            return None  # punctuation only: nothing to look for
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QuerySyntaxError(
                _("Too many words: at most %(n)d in one search.") % {"n": MAX_TERMS}
            )
        # A Chinese word that runs on in the text ("鼎信医疗" against 鼎/信/医疗器械) or a word cut
        # short ("云图智") still matches: the last piece is a prefix. A single whole word needs no
        # prefix (the words inside compounds are indexed) and is much faster without one.
        last = tokens[-1]
        run_on = is_han(last) and (len(tokens) > 1 or len(last) == 1)
        return Term(token.text, tokens, prefix=token.prefix or run_on)


def _combine(kind: type[And] | type[Or], children: list[Query | None]) -> Query | None:
    """Flatten nested nodes of the same kind and drop empty ones."""
    kept: list[Query] = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, kind):
            kept.extend(child.children)
        else:
            kept.append(child)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kind(tuple(kept))


def parse_query(q: str) -> Query:
    """Parse a keyword query into its tree; :class:`QuerySyntaxError` says what is wrong.

    Raises for a blank query too: callers skip the search when there are no keywords.
    """
    if len(q or "") > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            _("The search is too long: at most %(n)d characters.") % {"n": MAX_QUERY_LENGTH}
        )
    query = _Parser(_lex(q or "")).parse()
    if query is None:
        raise QuerySyntaxError(_("There is no word to search for."))
    return query


# --- Compiling -----------------------------------------------------------------------------------


def _fts_phrase(term: Term) -> str:
    # Tokens are letters and digits only; quoting still keeps any FTS5 keyword inert.
    quoted = '"' + " ".join(t.replace('"', '""') for t in term.tokens) + '"'
    return quoted + (" *" if term.prefix else "")


def to_fts5(query: Query) -> str | None:
    """The FTS5 MATCH expression for ``query``, or None if FTS5 cannot express it alone
    (a NOT without a positive part beside it)."""
    if isinstance(query, Term):
        return _fts_phrase(query)
    if isinstance(query, Not):
        return None
    if isinstance(query, Or):
        parts = [to_fts5(child) for child in query.children]
        if any(part is None for part in parts):
            return None
        return "(" + " OR ".join(parts) + ")"
    positives = [c for c in query.children if not isinstance(c, Not)]
    negatives = [c.child for c in query.children if isinstance(c, Not)]
    pos = [to_fts5(c) for c in positives]
    neg = [to_fts5(c) for c in negatives]
    if not pos or any(p is None for p in pos) or any(n is None for n in neg):
        return None
    expression = "(" + " AND ".join(pos) + ")"
    if neg:
        expression += " NOT (" + " OR ".join(neg) + ")"
    return "(" + expression + ")"


def _sqlite_q(query: Query, table: str) -> Q:
    expression = to_fts5(query)
    if expression is not None:
        return Q(pk__in=FtsMatch(table, expression))
    if isinstance(query, Not):
        return ~_sqlite_q(query.child, table)
    if isinstance(query, Or):
        result = Q()
        for child in query.children:
            result |= _sqlite_q(child, table)
        return result
    # AND that FTS5 cannot say in one expression: keep what it can as one MATCH
    expressible = [c for c in query.children if to_fts5(c) is not None]
    result = Q()
    if len(expressible) > 1:
        result &= _sqlite_q(And(tuple(expressible)), table)
    elif expressible:
        result &= _sqlite_q(expressible[0], table)
    for child in query.children:
        if child not in expressible:
            result &= _sqlite_q(child, table)
    return result


def _ts_lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def to_tsquery(query: Query) -> str:
    """The PostgreSQL ``to_tsquery('simple', ...)`` text for ``query``."""
    if isinstance(query, Term):
        lexemes = [_ts_lexeme(t) for t in query.tokens]
        if query.prefix:
            lexemes[-1] += ":*"
        return "(" + " <-> ".join(lexemes) + ")"
    if isinstance(query, Not):
        return "!" + to_tsquery(query.child)
    joiner = " & " if isinstance(query, And) else " | "
    return "(" + joiner.join(to_tsquery(child) for child in query.children) + ")"


def keyword_filter(model, query: Query, using: str = "default") -> Q:
    """A ``Q`` selecting the rows of ``model`` (Project or Investor) that match ``query``."""
    vendor = connections[using].vendor
    table = model._meta.db_table
    if table not in INDEXED_TABLES:
        raise ValueError(f"{model.__name__} has no full-text index")
    if vendor == "sqlite":
        return _sqlite_q(query, table)
    if vendor == "postgresql":
        # the same expression as the GIN index, so the planner uses it
        sql = (
            f"SELECT id FROM {table} "  # noqa: S608
            "WHERE to_tsvector('simple'::regconfig, search_text) "
            "@@ to_tsquery('simple'::regconfig, %s)"
        )
        return Q(pk__in=RawSQL(sql, [to_tsquery(query)]))  # noqa: S611
    raise NotSupportedError(f"keyword search is not available on {vendor}")


def apply_keyword_search(queryset: QuerySet, q: str) -> QuerySet:
    """``queryset`` (projects or investors) narrowed to the rows matching the keyword query ``q``.

    A blank ``q`` returns ``queryset`` unchanged; a malformed one raises
    :class:`QuerySyntaxError`. The result composes with other filters, ordering, paging and
    :func:`ibcloud.core.scoping.restrict`.

    Projects found by keywords are listed newest in the catalog first (``-id``) instead of the
    model's ordering; a sort the user chooses (applied to the result) still wins. On SQLite
    that order lets a page read only the first matches of the full-text index instead of all
    of them (see :class:`KeywordSearchMixin`).
    """
    if not (q or "").strip():
        return queryset
    query = parse_query(q)
    searched = queryset.filter(keyword_filter(queryset.model, query, queryset.db))
    default = KEYWORD_ORDERING.get(queryset.model._meta.db_table)
    # The lists make the model's ordering explicit before filtering (core.scoping
    # .explicit_order) and apply the user's sort after: that ordering is nobody's choice.
    if default and tuple(searched.query.order_by) in ((), tuple(queryset.model._meta.ordering)):
        searched = searched.order_by(*default)
    return _with_search_mixin(searched)


# --- Reading a search fast (SQLite) ------------------------------------------------------------
#
# The keyword condition is ``id IN (SELECT rowid FROM <table>_fts WHERE ... MATCH ?)``. Left to
# itself SQLite evaluates that subquery whole: for a word in a third of a million records it
# collects ~300,000 ids before it can sort or count (0.3-1 s). FTS5 can also hand out its
# matches in rowid order, newest first, and stop whenever the reader stops; so when the list is
# ordered by id, a page walks the matches from the top and checks the other filters (scope,
# region, round...) on each walked match with a correlated EXISTS on the primary key, stopping
# after one page. The count walks at most COUNT_WALK matches the same way and extrapolates past
# them. A list the user sorted by a column walks that column's order instead and asks FTS5
# about each row, which is cheaper than collecting every match once the word is common.

#: the ordering of keyword results when the user has not chosen one, per table
KEYWORD_ORDERING = {"catalog_project": ("-id",)}
#: how many full-text matches the pager's count walks before it estimates
COUNT_WALK = 5_000
#: when fewer of the walked matches pass the filters, the count walks on (at most FULL_WALK)
FEW_PASSED = 25
FULL_WALK = 200_000
#: above this many matches, a list sorted by a column probes the index row by row
PROBE_ABOVE = 20_000


class FtsMatch(RawSQL):
    """The ids of the rows whose full-text index matches ``expression`` (right side of ``pk IN``).

    A class of its own so that :class:`KeywordSearchMixin` can find the condition in a query's
    WHERE clause and read the index in a better order than SQLite would.
    """

    def __init__(self, table: str, expression: str):
        self.table = table
        self.expression = expression
        # {table} is one of INDEXED_TABLES; the expression is a bound parameter
        super().__init__(
            f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH %s",  # noqa: S608
            [expression],
        )


def _is_match(child, query) -> bool:
    """Whether a WHERE child is ``<base table>.id IN FtsMatch``."""
    lhs = getattr(child, "lhs", None)
    return (
        isinstance(child, In)
        and isinstance(child.rhs, FtsMatch)
        and getattr(lhs, "target", None) == query.model._meta.pk
        and getattr(lhs, "alias", None) == query.base_table
    )


def _top_level_matches(node, query) -> list:
    """The FtsMatch conditions every row must meet (not under OR or NOT)."""
    if node.connector != AND or node.negated:
        return []
    found = []
    for child in node.children:
        if isinstance(child, WhereNode):
            found += _top_level_matches(child, query)
        elif _is_match(child, query):
            found.append(child)
    return found


def _without_matches(node, query) -> WhereNode:
    """A copy of an AND node without its top-level FtsMatch conditions."""
    children = []
    for child in node.children:
        if _is_match(child, query):
            continue
        if isinstance(child, WhereNode) and child.connector == AND and not child.negated:
            child = _without_matches(child, query)
        children.append(child)
    return WhereNode(children, AND)


@dataclass(frozen=True)
class MatchCount:
    """How many rows a search matches, as the pager tells it.

    ``count`` is exact when ``exact``; otherwise it is what the pager pages through (at most
    the count limit) and ``estimate``, when known, is about how many rows match in all.
    """

    count: int
    exact: bool
    estimate: int | None = None


def _round_estimate(value: float) -> int:
    """Two significant digits: an extrapolation is not more precise than that."""
    if value < 100:
        return max(1, round(value))
    digits = 10 ** (int(math.log10(value)) - 1)
    return int(round(value / digits) * digits)


class _FtsPlan:
    """How to read one keyword-searched queryset through its FTS5 table (SQLite)."""

    def __init__(self, queryset: QuerySet, expression: str, table: str):
        self.queryset = queryset
        self.expression = expression
        self.table = table
        self.connection = connections[queryset.db]

    @cached_property
    def rest(self) -> QuerySet:
        """The queryset without its keyword condition (the filters, scope and ordering)."""
        rest = self.queryset._chain()
        rest.__class__ = _plain_class(type(self.queryset))
        rest.query.where = _without_matches(rest.query.where, rest.query)
        return rest

    def exists_sql(self, rowid: str) -> tuple[str, list]:
        """``EXISTS (...)``: the row with id ``rowid`` passes every other filter."""
        inner = (
            self.rest.order_by()
            .filter(pk=RawSQL(rowid, [], output_field=IntegerField()))  # noqa: S611
            .values("pk")
        )
        sql, params = inner.query.sql_with_params()
        return f"EXISTS ({sql})", list(params)

    def _fetch(self, sql: str, params: list) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def walk_ids(
        self, start: int, stop: int | None, descending: bool, below: int | None = None
    ) -> list[int]:
        """The ids of one slice of the matches passing the filters, in id order (only ids
        below ``below`` if given: a walk continued)."""
        exists, params = self.exists_sql("kw.rowid")
        t = self.table
        bound = "" if below is None else "AND kw.rowid < %s "
        sql = (
            f"SELECT kw.rowid FROM {t}_fts kw WHERE kw.{t}_fts MATCH %s {bound}"  # noqa: S608
            f"AND {exists} ORDER BY kw.rowid {'DESC' if descending else 'ASC'} "
            "LIMIT %s OFFSET %s"
        )
        limit = -1 if stop is None else max(0, stop - start)
        bound_params = [] if below is None else [below]
        return [
            row[0]
            for row in self._fetch(sql, [self.expression, *bound_params, *params, limit, start])
        ]

    def walk_ids_after(self, walk: _Walk, start: int, stop: int | None) -> list[int]:
        """A slice of the matches newest first, reusing the ids the count's walk found."""
        if walk.complete or (stop is not None and stop <= len(walk.ids)):
            return walk.ids[start:stop]
        head = walk.ids[start:stop]
        offset = max(0, start - len(walk.ids))
        more_stop = None if stop is None else offset + (stop - start - len(head))
        return head + self.walk_ids(offset, more_stop, descending=True, below=walk.lowest)

    def count(self) -> int:
        """The exact number of matches passing the filters."""
        exists, params = self.exists_sql("kw.rowid")
        t = self.table
        sql = f"SELECT count(*) FROM {t}_fts kw WHERE kw.{t}_fts MATCH %s AND {exists}"  # noqa: S608
        return self._fetch(sql, [self.expression, *params])[0][0]

    def match_count(self, limit: int) -> int:
        """How many rows the keywords alone match, counting at most ``limit`` + 1."""
        t = self.table
        sql = (
            f"SELECT count(*) FROM (SELECT rowid FROM {t}_fts "  # noqa: S608
            f"WHERE {t}_fts MATCH %s LIMIT %s)"
        )
        return self._fetch(sql, [self.expression, limit + 1])[0][0]

    def probe_ids(self, ordering: list[str], start: int, stop: int | None) -> list[int] | None:
        """One slice of the ids in the order ``ordering``, found by reading the rows in that
        order (an index must give it; None otherwise) and asking the full-text index about each
        row that passes the filters (a correlated FTS5 lookup by rowid).

        The sorted read is a subquery with a LIMIT, so SQLite runs it as a co-routine that
        yields rows in its order and stops when the page is full.
        """
        t = self.table
        probe = (
            f"EXISTS (SELECT 1 FROM {t}_fts WHERE {t}_fts MATCH %s "  # noqa: S608
            f"AND {t}_fts.rowid = sorted.pk)"
        )
        # SQLite may read the filtered rows through a filter's index and sort them (the
        # department of a data scope: a quarter of the table, every row probed); then it is
        # told to read the sort column's index, where filters on that column still narrow
        # the range.
        filtered = self.rest.order_by(*ordering).values("pk")
        sorted_sql, sorted_params = filtered[: 10**15].query.sql_with_params()
        if self._sorts(sorted_sql, sorted_params):
            index = self._sort_index(ordering)
            if index is None:
                return None
            base = f'FROM "{t}"'
            if not sorted_sql.count(base):
                return None
            sorted_sql = sorted_sql.replace(base, f'{base} INDEXED BY "{index}"', 1)
            try:
                if self._sorts(sorted_sql, sorted_params):
                    return None
            except DatabaseError:  # the index is gone (a migration since it was read)
                _INDEXES.clear()
                return None
        sql = (
            f"SELECT sorted.pk FROM ({sorted_sql}) AS sorted "  # noqa: S608
            f"WHERE {probe} LIMIT %s OFFSET %s"
        )
        params = [*sorted_params, self.expression]
        limit = -1 if stop is None else max(0, stop - start)
        rows = self._fetch(sql, [*params, limit, start])
        return [row[0] for row in rows]

    def _sorts(self, sql: str, params) -> bool:
        """Whether SQLite would sort (a temporary B-tree) to run ``sql`` in its order."""
        plan = self._fetch("EXPLAIN QUERY PLAN " + sql, list(params))
        return any("TEMP B-TREE" in str(row[-1]) for row in plan)

    def _sort_index(self, ordering: list[str]) -> str | None:
        """The name of an index on the table whose first column is the leading sort column."""
        name = ordering[0].lstrip("-") if ordering else ""
        if not name or "__" in name:
            return None
        try:
            column = self.queryset.model._meta.get_field(name).column
        except FieldDoesNotExist:
            return None
        return _sqlite_indexes(self.connection, self.table).get(column)

    def _walk(self, limit: int, below: int | None = None) -> tuple[int, int, int, list[int]]:
        """Walk at most ``limit`` matches newest first (below id ``below``): how many were
        walked, the lowest and highest ids walked, the ids that passed the filters."""
        exists, params = self.exists_sql("walked.rowid")
        t = self.table
        bound = "" if below is None else "AND kw.rowid < %s "
        # one EXISTS per walked row, in one expression (SQLite could evaluate it twice if the
        # count of passing rows were a second aggregate)
        sql = (
            f"SELECT count(*), min(walked.rowid), max(walked.rowid), "  # noqa: S608
            f"group_concat(CASE WHEN {exists} THEN walked.rowid END) "
            f"FROM (SELECT kw.rowid AS rowid FROM {t}_fts kw WHERE kw.{t}_fts MATCH %s "
            f"{bound}ORDER BY kw.rowid DESC LIMIT %s) AS walked"
        )
        bound_params = [] if below is None else [below]
        walked, lowest, highest, ids = self._fetch(
            sql, [*params, self.expression, *bound_params, limit]
        )[0]
        ids = sorted((int(i) for i in ids.split(",")), reverse=True) if ids else []
        return walked, lowest, highest, ids

    def bounded_count(self, limit: int, walk: int) -> tuple[MatchCount, _Walk]:
        """Count by walking at most ``walk`` matches, newest first; estimate past them.

        Also returns the walk (the ids that passed), from which the first pages are read.
        """
        walked, lowest, highest, ids = self._walk(walk)
        if walked == walk and len(ids) < FEW_PASSED:
            # So few walked matches pass that the first page will walk on to the last match
            # anyway: walk on here, and the count is exact.
            more, more_lowest, _highest, more_ids = self._walk(FULL_WALK, below=lowest)
            walked, ids = walk + more, ids + more_ids
            lowest = more_lowest if more else lowest
            walk += FULL_WALK
        passed = len(ids)
        if walked < walk:
            return MatchCount(passed, True), _Walk(ids, True, lowest)
        t = self.table
        first = self._fetch(
            f"SELECT rowid FROM {t}_fts WHERE {t}_fts MATCH %s ORDER BY rowid LIMIT 1",  # noqa: S608
            [self.expression],
        )[0][0]
        if first >= lowest:  # the walk happened to end at the last match
            return MatchCount(passed, True), _Walk(ids, True, lowest)
        # Matches spread over ids about evenly (records arrive over time): scale what the walk
        # found over the ids it covered to all the ids the matches span.
        estimate = passed * (highest - first + 1) / (highest - lowest + 1)
        estimate = max(_round_estimate(estimate), passed + 1)
        return MatchCount(min(estimate, limit), False, estimate), _Walk(ids, False, lowest)


@dataclass(frozen=True)
class _Walk:
    """What the pager's count learned walking the matches newest first."""

    #: the ids of the walked matches that passed the filters, newest first
    ids: list[int]
    #: whether the walk reached the last match
    complete: bool
    #: the lowest id walked (a continued walk starts below it)
    lowest: int | None


_INDEXES: dict[tuple[str, str], dict[str, str]] = {}


def _sqlite_indexes(connection, table: str) -> dict[str, str]:
    """Leading column → name of a full (not partial) index on ``table``; read once per process
    (indexes change only with migrations, and a missing one makes the fast path fall back)."""
    key = (connection.alias, table)
    if key not in _INDEXES:
        indexes: dict[str, str] = {}
        with connection.cursor() as cursor:
            # the table is one of ours (INDEXED_TABLES), never user input
            cursor.execute(f'PRAGMA index_list("{table}")')
            listed = cursor.fetchall()  # seq, name, unique, origin, partial
            for _seq, index, _unique, _origin, partial in sorted(listed, key=lambda r: r[1]):
                if partial:
                    continue
                cursor.execute(f'PRAGMA index_info("{index}")')
                columns = [row[2] for row in sorted(cursor.fetchall())]
                if columns:
                    indexes.setdefault(columns[0], index)
        _INDEXES[key] = indexes
    return _INDEXES[key]


def _ordering(queryset: QuerySet) -> list:
    """The ORDER BY terms ``queryset`` will use."""
    query = queryset.query
    if query.order_by:
        return list(query.order_by)
    return list(queryset.model._meta.ordering) if query.default_ordering else []


def _plan_for(queryset: QuerySet) -> tuple[_FtsPlan | None, str]:
    """The FTS5 plan for ``queryset`` and its direction: "desc"/"asc" when ordered by id,
    "column" when ordered otherwise; (None, "") when the plain query must run."""
    query = queryset.query
    if (
        connections[queryset.db].vendor != "sqlite"
        or query.combinator
        or query.is_sliced
        or query.annotations
        or query.extra
        or query.distinct_fields
        or query.group_by is not None
    ):
        return None, ""
    matches = _top_level_matches(query.where, query)
    if not matches:
        return None, ""
    tables = {match.rhs.table for match in matches}
    if len(tables) != 1:
        return None, ""
    expression = " AND ".join(f"({match.rhs.expression})" for match in matches)
    plan = _FtsPlan(queryset, expression, tables.pop())
    ordering = _ordering(queryset)
    first = ordering[0] if ordering else None
    if first in ("-pk", "-id"):
        return plan, "desc"
    if first in ("pk", "id"):
        return plan, "asc"
    if all(isinstance(part, str) for part in ordering):
        return plan, "column"
    return None, ""


class KeywordSearchMixin:
    """Mixed into the querysets :func:`apply_keyword_search` returns: on SQLite, slicing and
    counting read the full-text index in the list's order instead of collecting every match.

    Everything else (iteration, ``values``, use as a subquery, PostgreSQL) is the ordinary
    query, which gives the same rows.
    """

    def __getitem__(self, k):
        if isinstance(k, slice) and self._result_cache is None and k.step is None:
            start, stop = k.start or 0, k.stop
            if start >= 0 and (stop is None or stop >= start):
                page = self._read_slice(start, stop)
                if page is not None:
                    return page
        return super().__getitem__(k)

    def _read_slice(self, start: int, stop: int | None):
        plan, direction = _plan_for(self)
        if plan is None:
            return None
        try:
            walk = self.__dict__.get("_keyword_walk")
            if direction == "desc" and walk is not None:
                ids = plan.walk_ids_after(walk, start, stop)
            elif direction in ("desc", "asc"):
                ids = plan.walk_ids(start, stop, descending=direction == "desc")
            elif plan.match_count(PROBE_ABOVE) > PROBE_ABOVE:
                ids = self._probe_ids(plan, start, stop)
                if ids is None:
                    return None  # no index gives the sort order: sorting the matches is cheaper
            else:
                return None  # few matches: collecting them all is the cheap way
        except EmptyResultSet:
            return self.none()
        return plan.rest.filter(pk__in=ids)

    def _probe_ids(self, plan: _FtsPlan, start: int, stop: int | None) -> list[int] | None:
        """Walk the user's sort order and ask the index about each row passing the filters."""
        return plan.probe_ids(_ordering(self), start, stop)

    def __reduce__(self):
        # the mixed class is made at run time: pickle the plain class, mix in when loading
        return _restore_search_queryset, (_plain_class(type(self)), self.__getstate__())

    def count(self) -> int:
        if self._result_cache is None:
            plan, _direction = _plan_for(self)
            if plan is not None:
                try:
                    return plan.count()
                except EmptyResultSet:
                    return 0
        return super().count()


_MIXED: dict[type, type] = {}


def _with_search_mixin(queryset: QuerySet) -> QuerySet:
    """``queryset`` as an instance of its class with :class:`KeywordSearchMixin` mixed in."""
    cls = type(queryset)
    if issubclass(cls, KeywordSearchMixin):
        return queryset
    mixed = _MIXED.get(cls)
    if mixed is None:
        mixed = _MIXED[cls] = type(f"KeywordSearch{cls.__name__}", (KeywordSearchMixin, cls), {})
    queryset = queryset._chain()
    queryset.__class__ = mixed
    return queryset


def _restore_search_queryset(cls: type, state: dict) -> QuerySet:
    """Unpickle a keyword-searched queryset (see ``KeywordSearchMixin.__reduce__``)."""
    queryset = cls.__new__(cls)
    queryset.__setstate__(state)
    queryset.__class__ = _with_search_mixin(queryset).__class__
    return queryset


def _plain_class(cls: type) -> type:
    """The queryset class without :class:`KeywordSearchMixin`."""
    if issubclass(cls, KeywordSearchMixin):
        return next(base for base in cls.__bases__ if base is not KeywordSearchMixin)
    return cls


# --- Paging ---------------------------------------------------------------------------------------


def count_matches(queryset: QuerySet, limit: int = COUNT_LIMIT) -> MatchCount:
    """How many rows ``queryset`` has, for the pager, at a bounded cost.

    A keyword search on SQLite walks at most :data:`COUNT_WALK` matches of the index (newest
    first), checking the other filters on each: exact when the walk reaches the last match,
    otherwise an estimate (the share of walked matches that pass, extrapolated over the ids
    the matches span; ``estimate`` rounded to two digits). Any other queryset is counted up to
    ``limit`` + 1 rows: exact up to ``limit``, else "more than ``limit``" (no estimate).
    """
    if isinstance(queryset, KeywordSearchMixin) and queryset._result_cache is None:
        plan, direction = _plan_for(queryset)
        if plan is not None:
            try:
                counted, walk = plan.bounded_count(limit, COUNT_WALK)
            except EmptyResultSet:
                return MatchCount(0, True)
            if direction == "desc":
                # the page that follows reads its rows from the walk (same queryset object:
                # the list page and the API count, then slice, the one queryset)
                queryset._keyword_walk = walk
            return counted
    counted = queryset.order_by()[: limit + 1].count()
    if counted > limit:
        return MatchCount(limit, False)
    return MatchCount(counted, True)


def capped_count(queryset: QuerySet, limit: int = COUNT_LIMIT) -> tuple[int, bool]:
    """``(count, exact)`` of :func:`count_matches`: the pager pages through ``count`` rows and
    writes "more than" (or "about", with the estimate) when not ``exact``.

    Counting every match of a common word among a million records costs more than the page.
    """
    counted = count_matches(queryset, limit)
    return counted.count, counted.exact


class CappedPaginator(Paginator):
    """A Django paginator that counts with :func:`count_matches` (pages beyond ``count`` are
    not offered); ``count_is_exact`` and ``count_estimate`` tell the template what to write."""

    count_limit = COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        counted = count_matches(self.object_list, self.count_limit)
        self.count_is_exact = counted.exact
        self.count_estimate = counted.estimate
        return counted.count


class SearchPaginator(Paginator):
    """The API's paginator: an exact count, except for a keyword search that
    :func:`count_matches` estimates (then ``count`` is the estimate)."""

    @cached_property
    def count(self) -> int:
        self.count_is_exact, self.count_estimate = True, None
        queryset = self.object_list
        if isinstance(queryset, KeywordSearchMixin) and _plan_for(queryset)[0] is not None:
            counted = count_matches(queryset, COUNT_LIMIT)
            if not counted.exact and counted.estimate is not None:
                self.count_is_exact, self.count_estimate = False, counted.estimate
                return counted.estimate
            if counted.exact:
                return counted.count
        return super().count


class SearchPagination(Pagination):
    """The catalog API's pages (``pagination_class`` of the project and investor viewsets):
    they say whether ``count`` is exact (``count_is_exact``: False for a keyword search on
    SQLite whose count :func:`count_matches` estimated)."""

    django_paginator_class = SearchPaginator

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count,
                "count_is_exact": paginator.count_is_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_exact"] = {"type": "boolean", "example": True}
        return response


@dataclass
class SearchPage:
    """One page of a keyword + filter search, as the catalog lists show it."""

    rows: list
    number: int
    per_page: int
    #: matches counted (see :func:`count_matches`)
    count: int
    #: False when ``count`` is a lower bound or an estimate
    count_is_exact: bool
    #: about how many rows match, when the count is an estimate
    count_estimate: int | None = None

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.count / self.per_page))


def page_of(
    queryset: QuerySet,
    q: str = "",
    *,
    page: int = 1,
    per_page: int = 25,
    order_by: Sequence[str] = (),
    count_limit: int = COUNT_LIMIT,
) -> SearchPage:
    """One page of ``queryset`` (already scoped and filtered) matching ``q``, with the count
    the pager shows: the same queries as the catalog list page and the API. Raises
    :class:`QuerySyntaxError` for a malformed ``q``.

    ``order_by`` defaults to the search's ordering (see :func:`apply_keyword_search`), else the
    model's. Pages past the counted ones are empty.
    """
    queryset = apply_keyword_search(queryset, q)
    if order_by:
        queryset = queryset.order_by(*order_by)
    elif not queryset.query.order_by:
        queryset = queryset.order_by(*(queryset.model._meta.ordering or ["pk"]))
    counted = count_matches(queryset, count_limit)
    page = max(1, page)
    start = (page - 1) * per_page
    rows = list(queryset[start : start + per_page]) if start < counted.count or page == 1 else []
    return SearchPage(rows, page, per_page, counted.count, counted.exact, counted.estimate)


# --- The index -----------------------------------------------------------------------------------

#: the tables with a ``search_text`` column and a full-text index over it
INDEXED_TABLES = ("catalog_project", "catalog_investor")


# {table} is one of INDEXED_TABLES, never user input. 'optimize' merges the index into one
# segment after the rebuild: a lookup by rowid (sorted lists probe each row) then reads one
# b-tree instead of one per segment (3-5x faster over a million rows).
# unicode61 cuts on the spaces search_text holds and keeps CJK runs whole; diacritics are kept,
# as PostgreSQL's simple configuration keeps them.
_SQLITE_INDEX = """
CREATE VIRTUAL TABLE IF NOT EXISTS {table}_fts USING fts5(
    search_text, content='{table}', content_rowid='id',
    tokenize='unicode61 remove_diacritics 0')

CREATE TRIGGER IF NOT EXISTS {table}_fts_insert AFTER INSERT ON {table} BEGIN
    INSERT INTO {table}_fts(rowid, search_text) VALUES (new.id, new.search_text);
END

CREATE TRIGGER IF NOT EXISTS {table}_fts_delete AFTER DELETE ON {table} BEGIN
    INSERT INTO {table}_fts({table}_fts, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
END

CREATE TRIGGER IF NOT EXISTS {table}_fts_update AFTER UPDATE OF search_text ON {table} BEGIN
    INSERT INTO {table}_fts({table}_fts, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
    INSERT INTO {table}_fts(rowid, search_text) VALUES (new.id, new.search_text);
END

INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')

INSERT INTO {table}_fts({table}_fts) VALUES ('optimize')
"""
_SQLITE_DROP = """
DROP TRIGGER IF EXISTS {table}_fts_insert

DROP TRIGGER IF EXISTS {table}_fts_delete

DROP TRIGGER IF EXISTS {table}_fts_update

DROP TABLE IF EXISTS {table}_fts
"""
_POSTGRESQL_INDEX = """
CREATE INDEX IF NOT EXISTS {table}_search_gin ON {table}
USING gin (to_tsvector('simple'::regconfig, search_text))
"""
_POSTGRESQL_DROP = "DROP INDEX IF EXISTS {table}_search_gin"


def _statements(template: str, table: str) -> list[str]:
    """The template's statements (separated by blank lines) for one table."""
    return [part.strip() for part in template.format(table=table).split("\n\n") if part.strip()]


def create_index(connection) -> None:
    """Create the full-text index and its triggers (idempotent) and index existing rows."""
    _run(connection, {"sqlite": _SQLITE_INDEX, "postgresql": _POSTGRESQL_INDEX})


def drop_index(connection) -> None:
    """Remove the full-text index and its triggers."""
    _run(connection, {"sqlite": _SQLITE_DROP, "postgresql": _POSTGRESQL_DROP})


def _run(connection, templates: dict[str, str]) -> None:
    template = templates.get(connection.vendor)
    if template is None:
        return  # no full-text index on other databases
    with connection.cursor() as cursor:
        for table in INDEXED_TABLES:
            for statement in _statements(template, table):
                cursor.execute(statement)


def index_is_complete(connection) -> bool:
    """Whether every indexed table has its FTS table and triggers (SQLite; always True
    elsewhere). Django rebuilds a SQLite table to alter it, which drops its triggers."""
    if connection.vendor != "sqlite":
        return True
    expected = set()
    for table in INDEXED_TABLES:
        expected.add(f"{table}_fts")
        expected.update(f"{table}_fts_{suffix}" for suffix in ("insert", "delete", "update"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
    return expected <= present


def repair_index(using: str = "default", **kwargs) -> None:
    """After ``migrate``: re-create triggers a table rebuild dropped and re-index (SQLite).

    Connected to ``post_migrate``; a no-op when the index is complete.
    """
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if not set(INDEXED_TABLES) <= tables:
        return  # catalog not migrated (yet) on this database
    if not index_is_complete(connection):
        create_index(connection)


# --- Bulk index maintenance (the ingest pipeline) ------------------------------------------------

#: the triggers a bulk writer takes over (the delete trigger stays: the pipeline deletes nothing)
_BULK_TRIGGERS = ("insert", "update")


@contextmanager
def triggers_suspended(connection, table: str) -> Iterator[None]:
    """Inside the current transaction, write ``table`` without its full-text triggers (SQLite).

    The caller indexes the rows it writes itself (:func:`index_rows`, :func:`reindex_rows`): fed
    one row at a time by a trigger, FTS5 flushes its pending terms at every statement, which cost
    about as much as the rest of inserting a record; one ``executemany`` into the FTS table does
    not. The triggers are dropped and re-created inside the caller's transaction, so no other
    connection ever sees them missing (SQLite DDL is transactional, and the writer holds the write
    lock), and a rollback restores them. Elsewhere (PostgreSQL's GIN index follows the table by
    itself) this does nothing.
    """
    if connection.vendor != "sqlite" or table not in INDEXED_TABLES:
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("triggers_suspended needs a transaction (transaction.atomic)")
    creates = {
        suffix: statement
        for statement in _statements(_SQLITE_INDEX, table)
        for suffix in _BULK_TRIGGERS
        if statement.startswith(f"CREATE TRIGGER IF NOT EXISTS {table}_fts_{suffix} ")
    }
    with connection.cursor() as cursor:
        for suffix in _BULK_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for suffix in _BULK_TRIGGERS:
                cursor.execute(creates[suffix])


def index_rows(connection, table: str, rows: Sequence[tuple[int, str]]) -> None:
    """Index new rows ``(id, search_text)`` written under :func:`triggers_suspended`."""
    if connection.vendor != "sqlite" or not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table}_fts(rowid, search_text) VALUES (%s, %s)",  # noqa: S608
            list(rows),
        )


def reindex_rows(connection, table: str, rows: Sequence[tuple[int, str, str]]) -> None:
    """Re-index rows ``(id, old search_text, new search_text)`` whose text changed under
    :func:`triggers_suspended` (the old text must be what the index holds: the row's before)."""
    if connection.vendor != "sqlite" or not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table}_fts({table}_fts, rowid, search_text)"  # noqa: S608
            " VALUES ('delete', %s, %s)",
            [(row_id, old) for row_id, old, _new in rows],
        )
    index_rows(connection, table, [(row_id, new) for row_id, _old, new in rows])
