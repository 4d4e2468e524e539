"""Translate parsed Logs Insights commands into one DuckDB SELECT over a lake view.

Each command becomes a CTE stage. Fields resolve against the source (:class:`Source`): system
fields (``@timestamp``, ``@message``, ``@logStream``, ``@log``, ``@ingestionTime``), top-level
columns, struct paths (``userIdentity.sessionContext.sessionIssuer.arn``) and JSON-text paths
(``requestParameters.bucketName``, ``responseElements.ConsoleLogin``, ``field.0.sub`` for array
elements), and for ``logs`` JSON fields discovered in ``@message``. Ephemeral fields (``fields …
as``, ``parse``) and ``stats`` outputs shadow source fields by name.

Semantics chosen where AWS leaves room (documented in the README): without ``stats`` and
``sort`` rows come newest first; ``stats`` output has the group keys first, then the
aggregates, named by their source text unless aliased; ``sort`` defaults to ascending;
``count_distinct`` is exact; ``pct`` is the nearest-rank percentile (``quantile_disc``); a string
field compared with a number is compared numerically; ``like "text"`` is a substring match;
``dedup`` keeps the first row of each key in the current order and never drops rows whose key
has a null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from pipeline.errors import QueryError
from pipeline.query.logs_insights.parser import Command, Expr
from pipeline.query.logs_insights.sources import (
    SOURCES,
    Source,
    event_json,
    floor_time,
    glob_to_regex,
    json_path,
    lit,
    named_regex,
    seconds,
)

AGGREGATES = {"count", "count_distinct", "sum", "avg", "min", "max", "pct", "stddev", "earliest",
              "latest", "sortsfirst", "sortslast"}


@dataclass
class _Value:
    sql: str
    kind: str = "any"  # num | str (literal) | text (string column) | json (JSON/parsed text) | bool | time | any


@dataclass
class _State:
    ctes: list[tuple[str, str]] = field(default_factory=list)
    stage: str = "src"
    symbols: dict[str, str] = field(default_factory=dict)   # visible name → column on the stage
    kinds: dict[str, str] = field(default_factory=dict)     # visible name → value kind
    aggregated: bool = False
    outputs: list[str] = field(default_factory=list)          # stats outputs, in order
    fields: list[str] = field(default_factory=list)
    display: list[str] | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)
    counter: int = 0


def translate(commands: list[Command], query: str, source: str = "cloudtrail", *,
              start: datetime | None = None, end: datetime | None = None, max_rows: int = 10_000) -> str:
    """DuckDB SQL equivalent to ``commands`` over ``source`` within ``[start, end]``."""
    if source not in SOURCES:
        raise QueryError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")
    return _Translator(SOURCES[source], query).run(commands, start, end, max_rows)


class _Translator:
    def __init__(self, src: Source, query: str):
        self.src, self.query, self.st = src, query, _State()

    def err(self, pos: int, reason: str) -> QueryError:
        return QueryError(f"{reason} (at {self.query[pos:pos + 20]!r})", query=self.query, position=pos)

    # -- stages ------------------------------------------------------------------------------
    def run(self, commands: list[Command], start: datetime | None, end: datetime | None, max_rows: int) -> str:
        t = self.src.time_col
        conds = ([f"\"{t}\" >= TIMESTAMPTZ '{start.isoformat()}'"] if start else []) + \
                ([f"\"{t}\" <= TIMESTAMPTZ '{end.isoformat()}'"] if end else [])
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        message = ""
        plain = not any(c.name in ("fields", "display", "stats") for c in commands)
        if self.src.system["@message"] == '"__message"' and ("@message" in self.query or plain):
            message = f", {event_json(self.src)} AS __message"
        self.st.ctes.append(("src", f'SELECT *{message} FROM "{self.src.view}"{where}'))
        for cmd in commands:
            getattr(self, f"c_{cmd.name}")(cmd)
        return self.final(max_rows)

    def push(self, body: str) -> None:
        name = f"s{len(self.st.ctes)}"
        self.st.ctes.append((name, body.replace("{prev}", self.st.stage)))
        self.st.stage = name

    def new_col(self) -> str:
        self.st.counter += 1
        return f"__c{self.st.counter}"

    def c_fields(self, cmd: Command) -> None:
        adds = []
        for e, alias in cmd.items:
            name = alias or e.text
            value = self.expr(e)  # resolves (and so validates) every field now
            if alias or e.kind != "field":
                col = self.new_col()
                adds.append(f'{value.sql} AS "{col}"')
                self.st.symbols[name] = col
                self.st.kinds[name] = value.kind
            if name not in self.st.fields:
                self.st.fields.append(name)
        if adds:
            self.push(f"SELECT *, {', '.join(adds)} FROM {{prev}}")

    def c_display(self, cmd: Command) -> None:
        self.c_fields(Command("fields", cmd.pos, [(e, a) for e, a in cmd.items if a or e.kind != "field"]))
        self.st.display = [a or e.text for e, a in cmd.items]

    def c_filter(self, cmd: Command) -> None:
        assert cmd.expr is not None
        self.push(f"SELECT * FROM {{prev}} WHERE {self.expr(cmd.expr).sql}")

    def c_stats(self, cmd: Command) -> None:
        groups, aggs, names = [], [], []
        for e, alias in cmd.by:
            col = self.new_col()
            groups.append((self.expr(e, group=True).sql, col))
            names.append((alias or e.text, col))
        for e, alias in cmd.items:
            col = self.new_col()
            aggs.append(f'{self.expr(e, agg=True).sql} AS "{col}"')
            names.append((alias or e.text, col))
        select = [f'{sql} AS "{col}"' for sql, col in groups] + aggs
        group_by = f" GROUP BY {', '.join(str(i + 1) for i in range(len(groups)))}" if groups else ""
        self.push(f"SELECT {', '.join(select)} FROM {{prev}}{group_by}")
        self.st.aggregated = True
        self.st.symbols = dict(names)
        self.st.kinds = {}
        self.st.outputs = [n for n, _ in names]
        self.st.order = [(f'"{col}"', False) for _, col in groups]
        self.st.fields, self.st.display = [], None

    def c_sort(self, cmd: Command) -> None:
        self.st.order = [(self.expr(e).sql, d) for (e, _), d in zip(cmd.items, cmd.desc)]
        self.push(f"SELECT * FROM {{prev}} ORDER BY {self.order_sql()}")

    def c_limit(self, cmd: Command) -> None:
        order = f" ORDER BY {self.order_sql()}" if self.order_sql() else ""
        self.push(f"SELECT * FROM {{prev}}{order} LIMIT {cmd.limit}")

    def c_dedup(self, cmd: Command) -> None:
        keys = [self.expr(e).sql for e, _ in cmd.items]
        order = self.order_sql() or "1"
        nulls = " OR ".join(f"({k}) IS NULL" for k in keys)
        self.push(f"SELECT * FROM {{prev}} QUALIFY {nulls} OR row_number() OVER "
                  f"(PARTITION BY {', '.join(keys)} ORDER BY {order}) = 1")

    def c_parse(self, cmd: Command) -> None:
        assert cmd.expr is not None
        pattern = cmd.items[0][0]
        subject = self.expr(cmd.expr).sql
        if pattern.kind == "str":
            regex, names = glob_to_regex(pattern.value), cmd.names
        else:
            regex, names = named_regex(pattern.value, self.err(pattern.pos, "regex needs (?<name>…) groups"))
        col = self.new_col()
        name_list = ", ".join(lit(n) for n in names)
        self.push(f"SELECT *, regexp_extract({subject}, {lit(regex)}, [{name_list}]) AS \"{col}\" FROM {{prev}}")
        adds = []
        for n in names:
            c = self.new_col()
            adds.append(f"NULLIF(\"{col}\"[{lit(n)}], '') AS \"{c}\"")
            self.st.symbols[n] = c
            self.st.kinds[n] = "json"
        self.push(f"SELECT *, {', '.join(adds)} FROM {{prev}}")

    def order_sql(self) -> str:
        order = self.st.order
        if not order and not self.st.aggregated:
            order = [(self.field_sql("@timestamp", 0).sql, True)]
        return ", ".join(f"{sql} {'DESC' if desc else 'ASC'} NULLS LAST" for sql, desc in order)

    def final(self, max_rows: int) -> str:
        if self.st.aggregated:
            names = self.st.display or self.st.outputs
        else:
            names = self.st.display or self.st.fields or ["@timestamp", "@message"]
        cols = []
        for n in names:
            col = self.st.symbols.get(n)
            sql = f'"{col}"' if col else self.field_sql(n, 0).sql
            cols.append(f'{sql} AS "{n.replace(chr(34), "")}"')
        order = self.order_sql()
        ctes = ",\n".join(f"{name} AS ({body})" for name, body in self.st.ctes)
        return (f"WITH {ctes}\nSELECT {', '.join(cols)} FROM {self.st.stage}"
                + (f" ORDER BY {order}" if order else "") + f" LIMIT {max_rows}")

    # -- expressions -------------------------------------------------------------------------
    def expr(self, e: Expr, *, agg: bool = False, group: bool = False) -> _Value:
        if e.text in self.st.symbols and e.kind not in ("str", "num"):
            return _Value(f'"{self.st.symbols[e.text]}"', self.st.kinds.get(e.text, "any"))
        k = e.kind
        if k == "field":
            if e.value.lower() in ("true", "false"):
                return _Value(e.value.upper(), "bool")
            return self.field_sql(e.value, e.pos)
        if k == "str":
            return _Value(lit(e.value), "str")
        if k == "num":
            return _Value(e.value, "num")
        if k == "duration":
            return _Value(str(seconds(e.value)), "num")
        if k == "regex":
            return _Value(lit(e.value), "str")
        if k == "star":
            raise self.err(e.pos, "'*' is only allowed in count(*)")
        if k == "unary":
            v = self.expr(e.args[0])
            return _Value(f"(NOT {v.sql})", "bool") if e.value == "not" else _Value(f"(-{_num(v)})", "num")
        if k == "binary":
            return self.binary(e)
        if k == "like":
            left, pat = self.expr(e.args[0]), e.args[1]
            test = (f"regexp_matches({left.sql}, {lit(pat.value)})" if pat.kind == "regex"
                    else f"contains({left.sql}, {lit(pat.value)})")
            return _Value(f"(NOT coalesce({test}, false))" if e.negated else test, "bool")
        if k == "in":
            left = self.expr(e.args[0])
            items = [self.expr(a) for a in e.args[1:]]
            numeric = all(i.kind == "num" for i in items)
            lhs = _num(left) if numeric else left.sql
            test = f"{lhs} {'NOT IN' if e.negated else 'IN'} ({', '.join(i.sql for i in items)})"
            return _Value(f"({test})", "bool")
        if k == "call":
            return self.call(e, agg=agg, group=group)
        raise self.err(e.pos, f"unsupported expression {e.text!r}")

    def binary(self, e: Expr) -> _Value:
        op = e.value
        a, b = self.expr(e.args[0]), self.expr(e.args[1])
        if op in ("and", "or"):
            return _Value(f"({a.sql} {op.upper()} {b.sql})", "bool")
        if op == "=~":
            return _Value(f"regexp_matches({a.sql}, {b.sql})", "bool")
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if "num" in (a.kind, b.kind) and {a.kind, b.kind} & {"text", "json", "any", "str"}:
                left, right = _num(a), _num(b)
            elif "bool" in (a.kind, b.kind) and "str" in (a.kind, b.kind):
                left, right = f"lower(CAST({a.sql} AS VARCHAR))", f"lower(CAST({b.sql} AS VARCHAR))"
            else:
                left, right = a.sql, b.sql
            return _Value(f"({left} {op} {right})", "bool")
        sql_op = {"^": "**", "%": "%", "/": "/"}.get(op, op)
        return _Value(f"({_num(a)} {sql_op} {_num(b)})", "num")

    def call(self, e: Expr, *, agg: bool, group: bool) -> _Value:
        name = e.value.lower()
        args = e.args
        if name in AGGREGATES:
            if not agg:
                raise self.err(e.pos, f"{e.value}() is an aggregation: use it in stats")
            return self.aggregate(e, name)
        if name == "bin":
            if len(args) != 1 or args[0].kind != "duration":
                raise self.err(e.pos, "bin() needs a period such as 5m or 1h")
            t = self.field_sql("@timestamp", e.pos).sql
            return _Value(floor_time(t, seconds(args[0].value)), "time")
        if name in ("datefloor", "dateceil"):
            if len(args) != 2 or args[1].kind != "duration":
                raise self.err(e.pos, f"{name}(time, period) needs a period such as 1h")
            t, p = self.expr(args[0]).sql, seconds(args[1].value)
            floor = floor_time(t, p)
            return _Value(floor if name == "datefloor" else
                          f"(CASE WHEN {floor} = {t} THEN {floor} ELSE {floor} + to_microseconds({int(p * 1e6)}) END)",
                          "time")
        vals = [self.expr(a) for a in args]
        sqls = [v.sql for v in vals]
        simple = {"strlen": ("length", "num"), "toupper": ("upper", "text"), "tolower": ("lower", "text"),
                  "trim": ("trim", "text"), "ltrim": ("ltrim", "text"), "rtrim": ("rtrim", "text"),
                  "replace": ("replace", "text"), "concat": ("concat", "text"), "coalesce": ("coalesce", "any"),
                  "abs": ("abs", "num"), "ceil": ("ceil", "num"), "floor": ("floor", "num"),
                  "greatest": ("greatest", "any"), "least": ("least", "any"), "log": ("ln", "num"),
                  "sqrt": ("sqrt", "num")}
        if name in simple:
            fn, kind = simple[name]
            if kind == "num" and fn != "length":
                sqls = [_num(v) for v in vals]
            return _Value(f"{fn}({', '.join(sqls)})", kind)
        if name == "ispresent" and len(args) == 1:
            return _Value(f"({sqls[0]} IS NOT NULL)", "bool")
        if name in ("isempty", "isblank") and len(args) == 1:
            inner = f"trim(CAST({sqls[0]} AS VARCHAR))" if name == "isblank" else f"CAST({sqls[0]} AS VARCHAR)"
            return _Value(f"({sqls[0]} IS NULL OR {inner} = '')", "bool")
        if name == "strcontains" and len(args) == 2:
            return _Value(f"CAST(contains({sqls[0]}, {sqls[1]}) AS INTEGER)", "num")
        if name == "substr" and len(args) in (2, 3):
            length = f", {_num(vals[2])}" if len(args) == 3 else ""
            return _Value(f"substr({sqls[0]}, CAST({_num(vals[1])} AS BIGINT) + 1{length})", "text")
        if name == "frommillis" and len(args) == 1:
            return _Value(f"make_timestamptz(CAST({_num(vals[0])} * 1000 AS BIGINT))", "time")
        if name == "tomillis" and len(args) == 1:
            return _Value(f"epoch_ms({sqls[0]})", "num")
        raise self.err(e.pos, f"unsupported function {e.value}()")

    def aggregate(self, e: Expr, name: str) -> _Value:
        args = e.args
        if name == "count":
            if not args or args[0].kind == "star":
                return _Value("count(*)", "num")
            return _Value(f"count({self.expr(args[0]).sql})", "num")
        if not args:
            raise self.err(e.pos, f"{e.value}() needs a field")
        v = self.expr(args[0])
        if name == "count_distinct":
            return _Value(f"count(DISTINCT {v.sql})", "num")
        if name in ("sum", "avg", "stddev"):
            fn = {"stddev": "stddev_samp"}.get(name, name)
            return _Value(f"{fn}({_num(v)})", "num")
        if name in ("min", "max", "sortsfirst", "sortslast"):
            fn = "min" if name in ("min", "sortsfirst") else "max"
            arg = _num(v) if v.kind == "json" and name in ("min", "max") else v.sql
            return _Value(f"{fn}({arg})", "any")
        if name == "pct":
            if len(args) != 2 or args[1].kind != "num" or not 0 <= float(args[1].value) <= 100:
                raise self.err(e.pos, "pct(field, percentile) needs a percentile from 0 to 100")
            return _Value(f"quantile_disc({_num(v)}, {float(args[1].value) / 100})", "num")
        ts = self.field_sql("@timestamp", e.pos).sql
        return _Value(f"{'arg_min' if name == 'earliest' else 'arg_max'}({v.sql}, {ts})", "any")

    def field_sql(self, name: str, pos: int) -> _Value:
        if name in self.st.symbols:
            return _Value(f'"{self.st.symbols[name]}"', self.st.kinds.get(name, "any"))
        if self.st.aggregated:
            raise self.err(pos, f"field {name!r} is not available after stats (outputs: "
                           f"{', '.join(self.st.outputs)})")
        if name.startswith("@"):
            if name in self.src.system:
                kind = "time" if name in ("@timestamp", "@ingestionTime") else "text"
                return _Value(self.src.system[name], kind)
            raise self.err(pos, f"unknown system field {name!r} (known: {', '.join(self.src.system)})")
        parts = name.split(".")
        names = self.src.schema.names
        if parts[0] not in names:
            if self.src.discover_in is None:
                raise self.err(pos, f"unknown field {name!r}")
            col = f'"{self.src.discover_in}"'
            doc = f"CASE WHEN json_valid({col}) THEN {col} END"  # plain-text messages have no fields
            return _Value(f"json_extract_string({doc}, {lit(json_path(parts))})", "json")
        typ: pa.DataType = self.src.schema.field(parts[0]).type
        sql = f'"{parts[0]}"'
        i = 1
        while i < len(parts) and pa.types.is_struct(typ) and typ.get_field_index(parts[i]) >= 0:
            typ = typ.field(parts[i]).type
            sql += f"[{lit(parts[i])}]"
            i += 1
        if i < len(parts):
            if not pa.types.is_string(typ):
                raise self.err(pos, f"unknown field {name!r}")
            return _Value(f"json_extract_string({sql}, {lit(json_path(parts[i:]))})", "json")
        kind = ("time" if pa.types.is_timestamp(typ) else "num" if pa.types.is_integer(typ) or
                pa.types.is_floating(typ) else "bool" if pa.types.is_boolean(typ) else "text")
        return _Value(sql, kind)


def _num(v: _Value) -> str:
    return v.sql if v.kind == "num" else f"TRY_CAST({v.sql} AS DOUBLE)"
