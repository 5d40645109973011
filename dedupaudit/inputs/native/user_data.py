"""Which user fields a server event sends unhashed: the names ("em,ph"), never the values.

The Conversions APIs want the user's email and phone number as SHA-256 hex hashes (Meta and Snap
`user_data.em`/`ph`, TikTok `user.email`/`phone`, Pinterest `user_data.em`/`ph`, Reddit
`user.email`/`phone_number`, Google `userIdentifiers[].hashedEmail`/`hashedPhoneNumber`, LinkedIn
`userIds[]` with idType SHA256_EMAIL). Any other non-empty value in those fields was sent in plain text.
Only this verdict leaves the reader; the values themselves are dropped here.
"""

from __future__ import annotations

import re

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
EMAIL_KEYS = {"em", "email", "emails", "hashed_email", "hashedemail", "sha256_email"}
PHONE_KEYS = {"ph", "phone", "phone_number", "phones", "hashed_phone_number", "hashedphonenumber", "sha256_phone"}
_DEPTH = 4


def _plain(value) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and v.strip() and not _SHA256.fullmatch(v.strip()) for v in values)


def unhashed_fields(event) -> str | None:
    """'em', 'ph', 'em,ph' or None for one event object (searched a few levels deep)."""
    found: set[str] = set()

    def walk(node, depth: int) -> None:
        if depth > _DEPTH:
            return
        if isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        elif isinstance(node, dict):
            kind = str(node.get("idType", "")).upper()  # LinkedIn: {"idType": "SHA256_EMAIL", "idValue": ...}
            if kind and "idValue" in node and _plain(node["idValue"]):
                found.add("em" if "EMAIL" in kind else "ph" if "PHONE" in kind else "id")
            for key, value in node.items():
                lowered = str(key).lower()
                if lowered in EMAIL_KEYS and _plain(value):
                    found.add("em")
                elif lowered in PHONE_KEYS and _plain(value):
                    found.add("ph")
                elif isinstance(value, (dict, list)):
                    walk(value, depth + 1)

    walk(event, 0)
    return ",".join(sorted(found & {"em", "ph"})) or None
