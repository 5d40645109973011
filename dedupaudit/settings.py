"""What a run is asked to do, beyond the input files: period, time zone, thresholds, severities."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EXCLUDED_STATUSES = ("test", "cancelled", "canceled", "voided")
FAIL_ON = ("error", "warning", "info", "never")


@dataclass(frozen=True)
class Settings:
    timezone: str = "UTC"
    since: str | None = None
    until: str | None = None
    excluded_statuses: tuple[str, ...] = DEFAULT_EXCLUDED_STATUSES
    fail_on: str = "error"
    link_tolerance_minutes: float = 15.0  # value+time linking: how far an event may be from its order
    check_options: dict[str, dict] = field(default_factory=dict)  # check code or name -> option overrides
    severity: dict[str, str] = field(default_factory=dict)  # check code or name -> severity override
    disabled: frozenset[str] = frozenset()  # check codes or names not to run

    def public(self) -> dict:
        """The settings as they appear in the JSON report, so a reader knows what the run assumed."""
        return {
            "timezone": self.timezone,
            "since": self.since,
            "until": self.until,
            "excluded_statuses": list(self.excluded_statuses),
            "fail_on": self.fail_on,
            "link_tolerance_minutes": self.link_tolerance_minutes,
        }
