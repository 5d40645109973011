"""What a run is asked to do, beyond the input files: period, time zone, thresholds, severities.

`Settings` is what the engine reads. It is built by config.settings_from() from the merged layers
(defaults, dedupaudit.yaml, command-line options); tests build it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from dedupaudit.options import Option

# Orders that are not real sales. `failed` (a payment that never went through, e.g. WooCommerce's
# wc-failed) is added to the four the issue names.
DEFAULT_EXCLUDED_STATUSES = ("test", "cancelled", "canceled", "voided", "failed")
FAIL_ON = ("error", "warning", "info", "never")
LINK_TOLERANCE = Option(
    15, "number", "value+time linking: how far (minutes) an event may be from an order of the same value; "
    "0 turns value+time linking off", minimum=0)


@dataclass(frozen=True)
class Settings:
    timezone: str = "UTC"
    since: str | None = None
    until: str | None = None
    excluded_statuses: tuple[str, ...] = DEFAULT_EXCLUDED_STATUSES
    fail_on: str = "error"
    link_tolerance_minutes: float = 15.0  # value+time linking: how far an event may be from its order
    # Per check (code or name): {enabled, severity, options: {...}, platforms: {platform: {enabled, severity, options}}}
    checks: Mapping[str, Mapping] = field(default_factory=dict)
    checks_source: str = "settings"  # where `checks` was written (a config file, audit()), named in its errors
    # Waivers as written, each with where it came from: ((entry, "dedupaudit.yaml: waivers[0]"), ...); see waivers.py
    waivers: tuple = ()

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
