"""SQL over JSON values as DuckDB gives them (json_type / json text), written to behave as the Python reader's
checks do (capi_logs.py): a value's kind, its text, whether it is filled, numbers, IDs, Python's truth, and
white space as str.split() sees it. The compiler (compile.py) builds its query from these."""

from __future__ import annotations

from dedupaudit.inputs.native import MAX_MESSAGE

# Python's str.split() white space (short() collapses it), as a regex class
_SPACE = "".join(chr(c) for c in (*range(9, 14), *range(28, 33), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
                                  0x2029, 0x202F, 0x205F, 0x3000))
_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines() breaks a line there; DuckDB does not


def lit(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def jpath(path: str) -> str:
    """A rule file path (`data[].event_name`) as a DuckDB JSON path ('$."data"[0]."event_name"')."""
    out = "$"
    for part in path.split("."):
        first = part.endswith("[]")
        key = part[:-2] if first else part
        out += '."' + key.replace('"', '\\"') + '"' + ("[0]" if first else "")
    return out


def prefixes(path: str) -> list[str]:
    """The paths a lookup steps through before its end (each may hold JSON text the Python reader would decode)."""
    parts = path.split(".")
    out = []
    for n in range(1, len(parts) + 1):
        head = ".".join(parts[:n])
        if n < len(parts):
            out.append(head)
        if parts[n - 1].endswith("[]"):  # the list itself, then its first element
            out.append(".".join(parts[: n - 1] + [parts[n - 1][:-2]]))
    return list(dict.fromkeys(p for p in out if p != path or path.endswith("[]")))


class Ref(str):
    """The SQL of one JSON value, with the SQL of its JSON type and its text when a stage has them ready."""

    def __new__(cls, sql: str, t: str | None = None, s: str | None = None):
        ref = super().__new__(cls, sql)
        ref.t, ref.s = t, s
        return ref


class Paths:
    """The JSON paths one `json_extract(x, [...])` reads at once (one parse of x), by index. `typed`: the stage
    also has the list of their types (`x_t`) and texts (`x_s`), so no value is parsed twice. `absent`: keys no
    value of x has (the caller looked): a path starting with one is SQL NULL, which DuckDB folds away with every
    test on it (most of a record's 30 wrapper keys are in no record of a given log)."""

    def __init__(self, source: str, name: str = "x", typed: bool = True, absent: frozenset = frozenset()):
        self.source, self.paths, self.name, self.typed, self.absent = source, [], name, typed, absent

    def __call__(self, path: str) -> Ref:
        if path.split(".")[0].removesuffix("[]") in self.absent:  # json_extract would give NULL for every row
            return Ref("NULL::JSON", "NULL::VARCHAR", "NULL::VARCHAR")
        if path not in self.paths:
            self.paths.append(path)
        i = self.paths.index(path) + 1
        if self.typed:
            return Ref(f"{self.name}_{i}", f"{self.name}_{i}_t", f"{self.name}_{i}_s")
        return Ref(f"{self.name}[{i}]")

    def sql(self) -> str:
        if not self.paths:
            return "[]::JSON[]"
        return f"json_extract({self.source}, [{', '.join(lit(jpath(p)) for p in self.paths)}])"

    def list_sql(self) -> str:
        """The list of JSON paths alone (to read the same values from another source)."""
        return f"[{', '.join(lit(jpath(p)) for p in self.paths)}]"

    def extras(self) -> str:
        """The types and texts of the values (select after the stage that selects `sql() AS name`)."""
        n = self.name
        return ", ".join(f"{n}[{i}] AS {n}_{i}, {jkind(f'{n}[{i}]')} AS {n}_{i}_t, {jtext(f'{n}[{i}]')} AS {n}_{i}_s"
                         for i in range(1, len(self.paths) + 1)) or f"NULL AS {n}_none"


def jkind(v: str) -> str:
    """json_type() of JSON text from its first character (DuckDB writes extracted values minified: a double
    always has a '.' or an exponent), so no value is parsed to learn its type (three contains() cost a third
    less than one regexp_matches)."""
    first = f"ascii({v}::VARCHAR)"  # ltrim() copies the text: only a space (or a Unicode one) leads it to trim
    return (f"(CASE (CASE WHEN {first} < 128 AND {first} <> 32 THEN {first} ELSE ascii(ltrim({v}::VARCHAR)) END) "
            f"WHEN 123 THEN 'OBJECT' WHEN 91 THEN 'ARRAY' WHEN 34 THEN 'VARCHAR' "
            f"WHEN 110 THEN 'NULL' WHEN 116 THEN 'BOOLEAN' WHEN 102 THEN 'BOOLEAN' ELSE CASE WHEN {v} IS NULL THEN NULL "
            f"WHEN contains({v}::VARCHAR, '.') OR contains({v}::VARCHAR, 'e') OR contains({v}::VARCHAR, 'E') THEN 'DOUBLE' "
            f"ELSE 'BIGINT' END END)")


def jtext(v: str) -> str:
    """The text of a JSON value: a string unescaped, anything else as written."""
    return f"(CASE WHEN ascii({v}::VARCHAR) = 34 THEN {v}->>'$' ELSE {v}::VARCHAR END)"


# SQL of one JSON value `v` (a json_extract result, or a Ref into a list of them) -----------------------

def kind(v: str) -> str:
    return getattr(v, "t", None) or jkind(v)


def string(v: str) -> str:
    return getattr(v, "s", None) or jtext(v)


def filled(v: str) -> str:
    """capi_logs' filled(): present and not empty (null, '', white space, [] and {} are empty)."""
    return (f"coalesce(CASE {kind(v)} WHEN 'NULL' THEN false WHEN 'VARCHAR' THEN {not_blank(string(v))} "
            f"WHEN 'ARRAY' THEN {string(v)} <> '[]' WHEN 'OBJECT' THEN {string(v)} <> '{{}}' "
            f"ELSE {kind(v)} IS NOT NULL END, false)")


def not_blank(s: str) -> str:
    """strip(s) <> '': a printable ASCII first character (most values) says so without strip(), whose first and
    last character tests cost five times this one."""
    return f"(CASE WHEN ascii({s}) BETWEEN 33 AND 126 THEN true ELSE strip({s}) <> '' END)"


def present(v: str) -> str:
    return f"coalesce({kind(v)} <> 'NULL', false)"


def text(v: str) -> str:
    """capi_logs' text() of a scalar (nested values are marked by `nested`): numbers as Python writes them."""
    return (f"(CASE {kind(v)} WHEN 'VARCHAR' THEN {string(v)} WHEN 'DOUBLE' THEN TRY_CAST(TRY_CAST({string(v)} AS DOUBLE) AS VARCHAR) "
            f"WHEN 'NULL' THEN NULL WHEN 'OBJECT' THEN NULL WHEN 'ARRAY' THEN NULL ELSE {string(v)} END)")


def nested(v: str) -> str:
    return f"coalesce({kind(v)} IN ('OBJECT', 'ARRAY'), false)"


def number(v: str) -> str:
    return f"TRY_CAST({string(v)} AS DOUBLE)"


def whole(v: str) -> str:
    """An integer-valued float: the ID it stands for (values.id_text). Under CASE, so that no text is cast: a
    TRY_CAST that fails builds an error message first (about ten times the cost of the whole test)."""
    return (f"coalesce(CASE WHEN {kind(v)} = 'DOUBLE' THEN isfinite({number(v)}) AND {number(v)} = trunc({number(v)}) "
            f"AND abs({number(v)}) < 9007199254740992 END, false)")


def id_text(v: str) -> str:
    return f"(CASE WHEN {whole(v)} THEN TRY_CAST(TRY_CAST({number(v)} AS BIGINT) AS VARCHAR) ELSE {text(v)} END)"


def on(v: str) -> str:
    """capi_logs._on(): a test flag that is set (not empty, not false, not 0, not 'false')."""
    return f"({filled(v)} AND {truthy(v)} AND NOT coalesce({kind(v)} = 'VARCHAR' AND {string(v)} = 'false', false))"


def json_text_start(v: str) -> str:
    """A string value that starts like JSON: the Python reader would decode it. Its first character decides
    unless it is white space (ltrim() copies every value: three times the cost)."""
    s = string(v)
    return (f"coalesce({kind(v)} = 'VARCHAR' AND CASE WHEN ascii({s}) IN (123, 91) THEN true WHEN ascii({s}) IN (32, 9, 10, 13) "
            f"THEN ltrim({s}, ' \t\n\r')[1] IN ('{{', '[') ELSE false END, false)")


def first_of(values: list[str], fn, default: str = "NULL") -> str:
    """fn(the first filled value among `values`), else `default`."""
    if not values:
        return default
    return "(CASE " + " ".join(f"WHEN {filled(v)} THEN {fn(v)}" for v in values) + f" ELSE {default} END)"


def short(sql: str) -> str:
    """capi_logs.short(): white space collapsed, cut to MAX_MESSAGE characters."""
    s = f"trim(regexp_replace({sql}, '[{_SPACE}]+', ' ', 'g'))"
    return f"(CASE WHEN length({s}) <= {MAX_MESSAGE} THEN {s} ELSE left({s}, {MAX_MESSAGE - 1}) || '…' END)"


def truthy(v: str) -> str:
    """Python's truth of a filled value: not false, not 0 (only numbers are cast, as in `whole`)."""
    return (f"NOT coalesce(CASE {kind(v)} WHEN 'BOOLEAN' THEN {string(v)} = 'false' "
            f"WHEN 'BIGINT' THEN {number(v)} = 0 WHEN 'UBIGINT' THEN {number(v)} = 0 WHEN 'DOUBLE' THEN {number(v)} = 0 END, false)")
