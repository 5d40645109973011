"""The explicit registry of checks: every check the audit runs is listed here, in code order."""

from __future__ import annotations

from dedupaudit.checks import delivery, ids, inputs, names, timing, totals
from dedupaudit.checks import orders, privacy  # issue 9: order-export conflicts, unhashed user data
from dedupaudit.checks import waivers  # on the waivers themselves; they run last
from dedupaudit.checks.base import Check
from dedupaudit.errors import UserError

ALL_CHECKS: list[Check] = sorted(
    [*inputs.CHECKS, *ids.CHECKS, *names.CHECKS, *timing.CHECKS, *totals.CHECKS, *delivery.CHECKS,
     *orders.CHECKS, *privacy.CHECKS, *waivers.CHECKS], key=lambda c: c.code
)


def get_check(code_or_name: str) -> Check:
    """A check by its code (DA105) or name (mismatched-event-ids); an unknown one is a user error."""
    wanted = code_or_name.strip()
    for check in ALL_CHECKS:
        if wanted.upper() == check.code or wanted.lower() == check.name:
            return check
    raise UserError(f"unknown check '{code_or_name}' (see `dedupaudit rules list`)")
