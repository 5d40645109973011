"""Waivers: findings a team has looked at and accepted, so a nightly gate stays on for everything else.

Like yamllint's `disable` and sqlfluff's `noqa`, a waiver names a check (code or name), optionally a platform
and an event type, and optionally the event names, event IDs or order IDs it covers; without those lists
it covers the check's whole finding there. It must say why (`reason`) and may end (`expires`, a date: an
expired waiver no longer applies). Within a list any value matches; several lists must all match.

Waived hits leave the finding's count and the exit code and are reported apart, with the reason. A waiver
that waived nothing, or that expired, is itself reported (checks/waivers.py), so stale waivers get noticed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dedupaudit.errors import UserError
from dedupaudit.options import Option, check_mapping, fail, shown, split_where

KEYS = ("check", "platform", "event", "event_names", "event_ids", "order_ids", "reason", "expires")
LISTS = ("event_names", "event_ids", "order_ids")
# What a list waiver counts, by the check's unit: the rows behind the finding that match, as the check counts them.
ORDER_KEY = "nullif(strip(CASE WHEN starts_with(strip({c}), '#') THEN substr(strip({c}), 2) ELSE strip({c}) END), '')"  # inputs.canonical.ORDER_KEY_SQL (a test ties them)
UNIT_COUNT = {"events": "count(*)", "ids": "count(DISTINCT event_id)", "orders": f"count(DISTINCT {ORDER_KEY.format(c='order_id')})"}


@dataclass(frozen=True)
class Waiver:
    check: str  # a check code
    reason: str
    where: str  # "dedupaudit.yaml: waivers[2]", for messages
    platform: str | None = None
    event: str | None = None
    event_names: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    order_ids: tuple[str, ...] = ()
    expires: dt.date | None = None
    used: list = field(default_factory=list, compare=False)  # counts waived, filled as the audit applies it

    @property
    def whole(self) -> bool:
        return not (self.event_names or self.event_ids or self.order_ids)

    def covers(self, code: str, platform: str | None, event: str | None) -> bool:
        return (code == self.check and self.platform in (None, platform)
                and (self.event is None or self.event == event))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def describe(self) -> str:
        """How the waiver reads in a finding: 'DA109 on meta, event names SubscribedButtonClick'."""
        parts = [self.check + (f" on {self.platform}" if self.platform else "") + (f" ({self.event})" if self.event else "")]
        for key in LISTS:
            values = getattr(self, key)
            if values:
                parts.append(f"{key.replace('_', ' ')} {', '.join(values[:3])}{' ...' if len(values) > 3 else ''}")
        return ", ".join(parts)

    def filter_sql(self, tag: str = "") -> tuple[str, dict]:
        """SQL over the rows behind a finding (checks.base.EVIDENCE_COLUMNS) selecting the ones this waiver covers;
        `tag` keeps its parameters apart from other waivers' in one query."""
        conditions, params = [], {}
        if self.event_names:
            conditions.append(f"lower(event_name) IN (SELECT lower(n) FROM unnest($w_names{tag}) AS t(n))")
            params[f"w_names{tag}"] = list(self.event_names)
        if self.event_ids:
            conditions.append(f"event_id IN (SELECT i FROM unnest($w_ids{tag}) AS t(i))")
            params[f"w_ids{tag}"] = list(self.event_ids)
        if self.order_ids:
            conditions.append(f"{ORDER_KEY.format(c='order_id')} IN (SELECT {ORDER_KEY.format(c='o')} FROM unnest($w_orders{tag}) AS t(o))")
            params[f"w_orders{tag}"] = list(self.order_ids)
        return " AND ".join(conditions) or "true", params

    def covers_example(self, example: dict) -> bool:
        """Whether an example row of a finding is one of the waived hits (so the finding's examples show the rest)."""
        def hit(key: str, values: tuple[str, ...], normalise=lambda v: v) -> bool:
            shown = example.get(key)
            return not values or (shown is not None and normalise(str(shown)) in {normalise(v) for v in values})
        return (hit("event_name", self.event_names, str.lower) and hit("event_id", self.event_ids)
                and hit("order_id", self.order_ids, lambda v: v.strip().lstrip("#").strip()))


def _texts(values) -> str | None:
    ok = values and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values)
    return None if ok else f"{shown(values)} is not a non-empty list of texts"


def _is_date(value) -> str | None:
    try:
        _date(value, "")
        return None
    except UserError:
        return f"{shown(value)} is not a date"


# The keys of one waiver, checked by the one Option type (dedupaudit/options.py).
WAIVER_OPTIONS: dict[str, Option] = {
    "check": Option(None, "text", "the check's code or name", valid="a check code or name (see `dedupaudit rules list`)"),
    "platform": Option(None, "text", "only that platform's finding", valid="a platform id", nullable=True),
    "event": Option(None, "text", "only that event type's finding", valid="an event type such as purchase", nullable=True),
    **{key: Option(None, "list", f"only the hits with these {key.replace('_', ' ')}", valid="a non-empty list of texts",
                   nullable=True, test=_texts) for key in LISTS},
    "reason": Option(None, "text", "why the finding is accepted", valid="text saying why the finding is accepted"),
    "expires": Option(None, "any", "the last day it applies", valid="a date (YYYY-MM-DD)", nullable=True, test=_is_date),
}
assert tuple(WAIVER_OPTIONS) == KEYS


def parse(entries: list[tuple[object, str]], platforms: set[str]) -> list[Waiver]:
    """Validate waiver entries (each with where it came from) into Waivers; every error names the entry and key."""
    from dedupaudit.checks import get_check

    waivers = []
    for entry, where in entries:
        source, key = split_where(where)
        entry = check_mapping(entry, WAIVER_OPTIONS, source, key, required=("check", "reason"))
        try:
            check = get_check(entry["check"])
        except UserError as exc:
            raise fail(source, f"{key}.check", str(exc)) from None
        platform = entry.get("platform")
        if platform is not None:
            if platform.strip().lower() not in platforms:
                raise fail(source, f"{key}.platform", f"no rule file for platform {platform!r}", ", ".join(sorted(platforms)))
            platform = platform.strip().lower()
        event = entry.get("event")
        lists = {k: tuple(str(v) for v in entry[k]) for k in LISTS if entry.get(k) is not None}
        if lists and check.unit not in UNIT_COUNT:
            raise UserError(f"{where}: {check.code} {check.name} counts {check.unit}, not single events or orders: "
                            f"waive it whole (without {', '.join(lists)})")
        waivers.append(Waiver(check=check.code, reason=entry["reason"].strip(), where=where, platform=platform,
                              event=event.strip().lower() if event else None, expires=_date(entry.get("expires"), where),
                              **lists))
    return waivers


def _date(value, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"{where}.expires: '{value}' is not a date (YYYY-MM-DD)") from None


def entries_from(data, source: str) -> list[tuple[object, str]]:
    """The entries of a `waivers:` list (config section or --waivers file), each with where it came from."""
    if isinstance(data, dict) and set(data) == {"waivers"}:
        data = data["waivers"]
    if not isinstance(data, list):
        raise UserError(f"{source}: waivers: expected a list of waivers (check, reason, ...)")
    return [(entry, f"{source}: waivers[{i}]") for i, entry in enumerate(data)]


def waive(finding, evidence: tuple[str, dict] | None, con, waivers: list[Waiver], today: dt.date):
    """Apply the waivers covering `finding`: (what is left of it or None, the waived parts, the evidence of what is
    left). A list waiver counts the rows behind the finding that it covers, in the check's unit; rows an earlier
    waiver took are not counted again."""
    from dedupaudit.result import WaivedFinding

    remaining, parts, taken = finding.count, [], []
    for number, waiver in enumerate(waivers):
        if remaining <= 0 or waiver.expired(today) or not waiver.covers(finding.code, finding.platform, finding.event):
            continue
        if waiver.whole:
            count = remaining
        elif evidence is None or finding.unit not in UNIT_COUNT:
            continue
        else:
            sql, params = evidence
            condition, extra = waiver.filter_sql(str(number))
            exclude = "".join(f" AND NOT ({c})" for c, _ in taken)
            count = con.execute(f"SELECT {UNIT_COUNT[finding.unit]} FROM ({sql}) WHERE ({condition}){exclude}",
                                {**params, **extra, **{k: v for _, p in taken for k, v in p.items()}}).fetchall()[0][0]
            count = min(int(count or 0), remaining)
            taken.append((condition, extra))
        if not count:
            continue
        waiver.used.append(count)
        remaining -= count
        examples = [e for e in finding.examples if waiver.whole or waiver.covers_example(e)]
        parts.append(WaivedFinding(**{**finding.__dict__, "count": count, "examples": examples}, reason=waiver.reason,
                                   expires=waiver.expires.isoformat() if waiver.expires else None, waiver=waiver.where))
    if not parts:
        return finding, [], evidence
    if remaining <= 0:
        return None, parts, None
    kept = [e for e in finding.examples if not any(w.covers_example(e) for w in waivers if w.used and not w.whole
                                                   and w.covers(finding.code, finding.platform, finding.event))]
    waived = finding.count - remaining
    note = (f" Of these, {waived:,} {'is' if waived == 1 else 'are'} waived ({'; '.join(sorted({p.reason for p in parts}))}); "
            f"{remaining:,} {'remains' if remaining == 1 else 'remain'}.")
    left = type(finding)(**{**finding.__dict__, "count": remaining, "examples": kept, "message": finding.message + note})
    if evidence is not None and taken:
        sql, params = evidence
        evidence = (f"SELECT * FROM ({sql}) WHERE " + " AND ".join(f"NOT ({c})" for c, _ in taken),
                    {**params, **{k: v for _, p in taken for k, v in p.items()}})
    return left, parts, evidence
