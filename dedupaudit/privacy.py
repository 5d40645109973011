"""Keep personal data out of every output.

Canonical tables never carry user identifiers, but an ID column can still hold an email,
a phone number or an IP address when an export was mapped wrongly. Every value that leaves the
tool through a report, an example row, a rejects file or an error message passes through
`redact`.
"""

from __future__ import annotations

import hashlib
import re

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
# Eight groups, or a '::' abbreviation: a clock time such as 09:14:03 is neither.
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|(?:[0-9a-fA-F]{1,4})?(?::[0-9a-fA-F]{1,4})*::(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?")
_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d")


def _mask(match: re.Match) -> str:
    digest = hashlib.sha256(match.group(0).encode()).hexdigest()[:8]
    return f"<redacted:{digest}>"


def redact(value):
    """Replace emails, phone numbers and IP addresses in a string with a short stable hash."""
    if not isinstance(value, str):
        return value
    for pattern in (_EMAIL, _IPV6, _IPV4, _PHONE):
        value = pattern.sub(_mask, value)
    return value
