"""Checks on the waivers themselves: one that waived nothing, or that expired, is reported (as sqlfluff warns
on an unused `noqa`), so the list of accepted findings does not silently outlive its reasons."""

from __future__ import annotations

from dedupaudit.checks.base import AuditView, Check, Hit


def _find_unused(view: AuditView, options):
    for waiver in view.waivers:
        if not waiver.used and not waiver.expired(view.today):
            yield Hit(waiver.platform, waiver.event, 1,
                      f"The waiver at {waiver.where} ({waiver.describe()}) waived nothing in this run: the finding it "
                      f"accepts did not occur, or its lists match none of the hits.",
                      f"Remove the waiver at {waiver.where}, or correct its check, platform, event or lists.")


def _find_expired(view: AuditView, options):
    for waiver in view.waivers:
        if waiver.expired(view.today):
            yield Hit(waiver.platform, waiver.event, 1,
                      f"The waiver at {waiver.where} ({waiver.describe()}) expired on {waiver.expires.isoformat()} and no "
                      f"longer applies: the findings it accepted count again.",
                      f"Fix what the waiver accepted (its reason: {waiver.reason}), or renew it with a new expires date.")


UNUSED = Check(
    code="DA140", name="unused-waiver", severity="info", unit="waivers",
    summary="A waiver that waived nothing in this run.",
    what="Counts waivers (waivers: in dedupaudit.yaml, or --waivers FILE) that matched no finding or no hit.",
    why="A waiver outliving its finding hides the next, different problem with the same check and platform.",
    example="A waiver for DA109 on meta with event_names [SubscribedButtonClick] when no such event was sent.",
    fix="Remove the waiver, or correct what it names.",
    find=_find_unused, reads_waivers=True,
)

EXPIRED = Check(
    code="DA141", name="expired-waiver", severity="info", unit="waivers",
    summary="A waiver past its expires date; it no longer applies.",
    what="Counts waivers whose expires date is before today. Their findings are reported again.",
    why="An acceptance with an end date is a promise to fix; when it ends, the finding must be seen again.",
    example="expires: 2026-09-30 on a waiver for the test order 'TEST-1', read in October.",
    fix="Fix the finding, or renew the waiver with a new date and reason.",
    find=_find_expired, reads_waivers=True,
)

CHECKS = [UNUSED, EXPIRED]
