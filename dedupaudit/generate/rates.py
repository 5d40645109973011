"""The failure rates of a generated shop: each one's default, what it plants, and their validation.

A rate is a probability (0..1) drawn per order and platform (per order for the order statuses), so
rates can be combined freely; the truth comes from the model, not from the rates.
"""

from __future__ import annotations

from pathlib import Path

from dedupaudit import yamlfile
from dedupaudit.errors import UserError

# name: (default, what it plants)
RATES = {
    "pixel_loss": (0.06, "the browser pixel does not send the purchase (ad blocker, tab closed)"),
    "capi_loss": (0.01, "the server does not send the purchase"),
    "pixel_missing_id": (0.03, "the pixel sends no event ID"),
    "capi_missing_id": (0.03, "the server sends no event ID"),
    "independent_ids": (0.05, "the pixel sends an ID of its own that the server never sees"),
    "refires": (0.03, "the pixel fires the purchase a second time (thank-you page reloaded), same ID"),
    "placeholder_ids": (0.005, "both paths send the placeholder ID `undefined`"),
    "name_drift": (0.03, "one path uses another name: Meta and Snap `purchase`/`Purchase` on the server (a case "
                         "variant), TikTok `CompletePayment` on the pixel, Google `conversion` on the server"),
    "late_batches": (0.01, "the server event is received 49 to 61 hours after it happened (after the 48 h window)"),
    "fallback_keys": (0.03, "Meta and TikTok: the server sends no event ID but both paths carry the same fbp and "
                            "external_id (Meta) or _ttp (TikTok), the keys of the platform's fallback dedup"),
    "cancelled_orders": (0.02, "the order is cancelled (its events were still sent)"),
    "test_orders": (0.005, "the order is a test order (its events were still sent)"),
    "other_events": (0.3, "both paths also send an add-to-cart event for the order"),
}
DEFAULTS = {name: default for name, (default, _) in RATES.items()}


def validate(rates: dict, where: str) -> dict:
    """The defaults updated with `rates`; UserError for an unknown name or a value outside 0..1."""
    if not isinstance(rates, dict):
        raise UserError(f"{where}: expected a mapping of rate names to numbers, e.g. pixel_loss: 0.1")
    unknown = sorted(set(rates) - set(RATES))
    if unknown:
        raise UserError(f"{where}: unknown rate {', '.join(map(str, unknown))}; the rates are {', '.join(RATES)}")
    for name, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise UserError(f"{where}: {name} must be a number from 0 to 1, not {value!r}")
    return {**DEFAULTS, **{k: float(v) for k, v in rates.items()}}


def load(path: Path) -> dict:
    """Rates from a YAML or JSON file (`--rates`; JSON is YAML), over the defaults."""
    return validate(yamlfile.load(path, "--rates") or {}, f"--rates {path}")
