"""Parse a Logs Insights query into commands and expressions.

Supported commands: ``fields``, ``display``, ``filter``, ``stats … [by …]``, ``sort``, ``limit``,
``parse`` (glob or named-group regex), ``dedup``. Anything else raises QueryError with the
position of the offending token. Expression grammar (loosest first): ``or``; ``and``; ``not``;
comparisons ``= != < <= > >= =~``, ``[not] like "text"|/re/``, ``[not] in [..]``; ``+ -``;
``* / %``; ``^``; unary ``-``; atoms (field, string, number, duration, regex, call, ``(…)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import QueryError
from pipeline.query.logs_insights.lexer import Token, tokenize

COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup")
KNOWN_UNSUPPORTED = ("pattern", "diff", "anomaly", "unmask", "unnest", "lookup", "filterindex", "source")


@dataclass
class Expr:
    """An expression node; ``text`` is its source text (used to name unaliased columns)."""

    kind: str                      # field|str|num|regex|duration|call|star|unary|binary|in|like
    value: str = ""
    args: list[Expr] = field(default_factory=list)
    pos: int = 0
    text: str = ""
    negated: bool = False


@dataclass
class Command:
    """One pipeline stage. ``items`` are ``(expr, alias)``; ``by`` the stats group keys."""

    name: str
    pos: int
    items: list[tuple[Expr, str | None]] = field(default_factory=list)
    by: list[tuple[Expr, str | None]] = field(default_factory=list)
    expr: Expr | None = None
    desc: list[bool] = field(default_factory=list)
    limit: int = 0
    names: list[str] = field(default_factory=list)


def parse(text: str) -> list[Command]:
    """Commands of ``text`` in order; raises QueryError (with position) on any syntax problem."""
    if len(text) > 10_000:
        raise QueryError("query longer than 10,000 characters", query=text, position=10_000)
    p = _Parser(text, tokenize(text))
    commands = []
    while True:
        commands.append(p.command())
        tok = p.next()
        if tok.kind == "EOF":
            break
        if not (tok.kind == "PUNCT" and tok.value == "|"):
            raise p.error(tok, f"expected '|' or end of query, got {tok.value!r}")
    return commands


class _Parser:
    def __init__(self, text: str, tokens: list[Token]):
        self.text, self.tokens, self.i = text, tokens, 0

    # -- token helpers ---------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def error(self, tok: Token, reason: str) -> QueryError:
        return QueryError(f"{reason} (at {self.text[tok.pos:tok.pos + 20]!r})" if tok.kind != "EOF"
                          else f"{reason} (at end of query)", query=self.text, position=tok.pos)

    def expect(self, kind: str, value: str | None = None) -> Token:
        tok = self.next()
        if tok.kind != kind or (value is not None and tok.value.lower() != value):
            raise self.error(tok, f"expected {value or kind.lower()!r}, got {tok.value or 'end'!r}")
        return tok

    def at_punct(self, value: str) -> bool:
        tok = self.peek()
        return tok.kind == "PUNCT" and tok.value == value

    def at_end(self) -> bool:
        return self.peek().kind == "EOF" or self.at_punct("|")

    # -- commands --------------------------------------------------------------------------
    def command(self) -> Command:
        tok = self.next()
        name = tok.value.lower()
        if tok.kind != "IDENT" or name not in COMMANDS:
            what = "unsupported command" if name in KNOWN_UNSUPPORTED else "unknown command"
            raise self.error(tok, f"{what} {tok.value!r} (supported: {', '.join(COMMANDS)})")
        cmd = Command(name, tok.pos)
        if name in ("fields", "display"):
            cmd.items = self.items()
        elif name == "filter":
            cmd.expr = self.expr()
        elif name == "stats":
            cmd.items = self.items()
            if self.peek().is_kw("by"):
                self.next()
                cmd.by = self.items()
        elif name == "sort":
            while True:
                e = self.expr()
                desc = False
                if self.peek().is_kw("asc", "desc"):
                    desc = self.next().value.lower() == "desc"
                cmd.items.append((e, None))
                cmd.desc.append(desc)
                if not self.at_punct(","):
                    break
                self.next()
        elif name == "limit":
            num = self.expect("NUMBER")
            if "." in num.value or not 1 <= int(num.value) <= 10_000:
                raise self.error(num, "limit must be a whole number from 1 to 10000")
            cmd.limit = int(num.value)
        elif name == "parse":
            self.parse_cmd(cmd)
        elif name == "dedup":
            cmd.items = [(self.atom(), None)]
            while self.at_punct(","):
                self.next()
                cmd.items.append((self.atom(), None))
        if not self.at_end():
            raise self.error(self.peek(), f"unexpected {self.peek().value!r} in {name}")
        return cmd

    def parse_cmd(self, cmd: Command) -> None:
        if self.peek().kind in ("STRING", "REGEX"):
            cmd.expr = Expr("field", "@message", pos=self.peek().pos, text="@message")
        else:
            cmd.expr = self.atom()
            if cmd.expr.kind != "field":
                raise self.error(self.tokens[self.i - 1], "parse needs a field name")
        pat = self.next()
        if pat.kind not in ("STRING", "REGEX"):
            raise self.error(pat, "parse needs a \"glob * pattern\" or a /regex/")
        cmd.items = [(Expr("regex" if pat.kind == "REGEX" else "str", pat.value, pos=pat.pos), None)]
        if pat.kind == "STRING":
            self.expect("IDENT", "as")
            cmd.names.append(self.expect("IDENT").value)
            while self.at_punct(","):
                self.next()
                cmd.names.append(self.expect("IDENT").value)
            if len(cmd.names) != pat.value.count("*"):
                raise self.error(pat, f"the glob has {pat.value.count('*')} '*' but {len(cmd.names)} names follow")

    def items(self) -> list[tuple[Expr, str | None]]:
        out: list[tuple[Expr, str | None]] = []
        while True:
            e = self.expr()
            alias = None
            if self.peek().is_kw("as"):
                self.next()
                alias = self.expect("IDENT").value
            out.append((e, alias))
            if not self.at_punct(","):
                return out
            self.next()

    # -- expressions -----------------------------------------------------------------------
    def expr(self) -> Expr:
        return self.or_()

    def _span(self, e: Expr, start: int) -> Expr:
        end = self.tokens[self.i - 1].end
        e.pos, e.text = start, " ".join(self.text[start:end].split())
        return e

    def or_(self) -> Expr:
        start = self.peek().pos
        left = self.and_()
        while self.peek().is_kw("or"):
            self.next()
            left = self._span(Expr("binary", "or", [left, self.and_()]), start)
        return left

    def and_(self) -> Expr:
        start = self.peek().pos
        left = self.not_()
        while self.peek().is_kw("and"):
            self.next()
            left = self._span(Expr("binary", "and", [left, self.not_()]), start)
        return left

    def not_(self) -> Expr:
        start = self.peek().pos
        if self.peek().is_kw("not"):
            self.next()
            return self._span(Expr("unary", "not", [self.not_()]), start)
        return self.comparison()

    def comparison(self) -> Expr:
        start = self.peek().pos
        left = self.additive()
        tok = self.peek()
        negated = False
        if tok.is_kw("not") and self.peek(1).is_kw("like", "in"):
            self.next()
            negated, tok = True, self.peek()
        if tok.kind == "OP" and tok.value in ("=", "!=", "<>", "<", "<=", ">", ">=", "=~"):
            self.next()
            op = "!=" if tok.value == "<>" else tok.value
            right = self.additive()
            if op == "=~" and right.kind not in ("regex", "str"):
                raise self.error(tok, "=~ needs a /regex/ or a string")
            return self._span(Expr("binary", op, [left, right]), start)
        if tok.is_kw("like"):
            self.next()
            pat = self.next()
            if pat.kind not in ("STRING", "REGEX"):
                raise self.error(pat, "like needs a \"string\" or a /regex/")
            kind = "regex" if pat.kind == "REGEX" else "str"
            return self._span(Expr("like", "", [left, Expr(kind, pat.value, pos=pat.pos)], negated=negated), start)
        if tok.is_kw("in"):
            self.next()
            self.expect("PUNCT", "[")
            items = [self.additive()]
            while self.at_punct(","):
                self.next()
                items.append(self.additive())
            self.expect("PUNCT", "]")
            return self._span(Expr("in", "", [left, *items], negated=negated), start)
        return left

    def additive(self) -> Expr:
        start = self.peek().pos
        left = self.term()
        while self.peek().kind == "OP" and self.peek().value in ("+", "-"):
            op = self.next().value
            left = self._span(Expr("binary", op, [left, self.term()]), start)
        return left

    def term(self) -> Expr:
        start = self.peek().pos
        left = self.power()
        while self.peek().kind == "OP" and self.peek().value in ("*", "/", "%"):
            op = self.next().value
            left = self._span(Expr("binary", op, [left, self.power()]), start)
        return left

    def power(self) -> Expr:
        start = self.peek().pos
        left = self.unary()
        if self.peek().kind == "OP" and self.peek().value == "^":
            self.next()
            return self._span(Expr("binary", "^", [left, self.power()]), start)
        return left

    def unary(self) -> Expr:
        start = self.peek().pos
        if self.peek().kind == "OP" and self.peek().value == "-":
            self.next()
            return self._span(Expr("unary", "-", [self.unary()]), start)
        return self.atom()

    def atom(self) -> Expr:
        tok = self.next()
        start = tok.pos
        if tok.kind == "PUNCT" and tok.value == "(":
            e = self.expr()
            self.expect("PUNCT", ")")
            return self._span(Expr(e.kind, e.value, e.args, negated=e.negated), start)
        if tok.kind == "STRING":
            return self._span(Expr("str", tok.value), start)
        if tok.kind == "NUMBER":
            return self._span(Expr("num", tok.value), start)
        if tok.kind == "DURATION":
            return self._span(Expr("duration", tok.value), start)
        if tok.kind == "REGEX":
            return self._span(Expr("regex", tok.value), start)
        if tok.kind == "OP" and tok.value == "*":
            return self._span(Expr("star", "*"), start)
        if tok.kind == "IDENT" and tok.value.lower() not in ("and", "or", "not", "in", "like", "as", "by"):
            if self.at_punct("("):
                self.next()
                args: list[Expr] = []
                if not self.at_punct(")"):
                    args.append(self.expr())
                    while self.at_punct(","):
                        self.next()
                        args.append(self.expr())
                self.expect("PUNCT", ")")
                return self._span(Expr("call", tok.value, args), start)
            return self._span(Expr("field", tok.value), start)
        raise self.error(tok, f"unexpected {tok.value or 'end of query'!r}")
