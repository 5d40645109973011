"""Orders as shops export them: Shopify's orders CSV and WooCommerce order exports.

Shopify writes one row per line item; the order-level columns (Created at, Financial Status,
Total, Currency, Cancelled at, ...) are filled on the first row of each order only. Rows are
grouped by `Name` (e.g. `#1001`) and each order counts once, with the first non-empty value of each
column. Its status is `test` for a test order (Shopify's test gateway, `bogus`, in Payment Method,
or a `test` tag), `cancelled` when Cancelled at is set, else the Financial Status (paid, pending,
refunded, voided, ...); the engine's exclusion rules (test, cancelled, canceled, voided by default)
then apply.

WooCommerce has no single export format; the plugins' usual headers are read: Order Number (else
Order ID), Order Date, Order Status (`wc-completed` -> `completed`, `wc-cancelled` -> `cancelled`,
...), Order Total and Order Currency. Rows of one order (line-item exports) are folded like
Shopify's. Order Date is usually shop-local time without an offset: give --timezone (or a mapping
`timezone:`) so it is not read as UTC.

Order IDs are kept as the shop writes them (`#1001`); the engine compares them normalised (trimmed,
one leading `#` removed). Customer columns (emails, names, addresses, phones) are never copied.
"""

from __future__ import annotations

import pandas as pd

from dedupaudit.inputs.files import RawTable
from dedupaudit.inputs.native import Read
from dedupaudit.inputs.native.locale import localise
from dedupaudit.inputs.native.tables import blank_to_na, find_column

SHOPIFY_REQUIRED = ("Name", "Created at", "Financial Status")
SHOPIFY_TEST_GATEWAYS = ("bogus",)
WOO_ID = ("Order Number", "order_number", "Order ID", "order_id", "Order #")
WOO_DATE = ("Order Date", "order_date", "Date Created", "date_created")
WOO_STATUS = ("Order Status", "order_status", "status", "Status")
WOO_TOTAL = ("Order Total", "order_total", "Order Total Amount", "Total")
WOO_CURRENCY = ("Order Currency", "order_currency", "Currency")


def is_shopify(columns) -> bool:
    folded = {str(c).strip().lower() for c in columns}
    return all(c.lower() in folded for c in SHOPIFY_REQUIRED)


def is_woocommerce(columns) -> bool:
    frame = pd.DataFrame(columns=list(columns))
    return all(_first_column(frame, names) is not None for names in (WOO_ID, WOO_DATE, WOO_STATUS))


def read_shopify(raw: RawTable) -> Read:
    frame = raw.frame
    col = {name: find_column(frame, name) for name in
           ("Name", "Created at", "Financial Status", "Cancelled at", "Total", "Currency", "Payment Method", "Tags")}
    table, notes = _fold(raw, blank_to_na(frame[col["Name"]]).str.strip(), "Name")
    first = table["first"]
    financial = first(col["Financial Status"]).str.strip().str.lower()
    gateway = first(col["Payment Method"]).str.lower() if col["Payment Method"] else pd.Series(pd.NA, index=financial.index, dtype="string")
    tags = first(col["Tags"]).str.lower() if col["Tags"] else pd.Series(pd.NA, index=financial.index, dtype="string")
    is_test = gateway.str.contains("|".join(SHOPIFY_TEST_GATEWAYS), regex=True).fillna(False) \
        | tags.str.contains(r"(?:^|,)\s*test\s*(?:,|$)", regex=True).fillna(False)
    cancelled = first(col["Cancelled at"]).notna() if col["Cancelled at"] else pd.Series(False, index=financial.index)
    status = financial.astype("object").where(financial.notna(), None)
    status = status.where(~cancelled.to_numpy(), "cancelled").where(~is_test.to_numpy(), "test")
    out = pd.DataFrame({
        "order_id": table["key"].to_numpy(),
        "created_at": first(col["Created at"]).to_numpy(),
        "value": first(col["Total"]).to_numpy() if col["Total"] else None,
        "currency": first(col["Currency"]).to_numpy() if col["Currency"] else None,
        "status": status.to_numpy(),
        "source_ref": table["ref"],
    })
    notes.append(f"{int(is_test.sum()):,} test orders (bogus gateway or a test tag), {int(cancelled.sum()):,} cancelled (Cancelled at set)")
    sources = {"order_id": "Name (one order per Name; line-item rows folded)", "created_at": "Created at",
               "value": "Total", "currency": "Currency",
               "status": "test (Payment Method 'bogus' or a 'test' tag), else cancelled (Cancelled at set), else Financial Status"}
    localise(out, sources, notes)
    return Read(RawTable(raw.path, out, table["row"], raw.broken + table["broken"]), "shopify-orders",
                "Shopify orders export", sources, notes)


def read_woocommerce(raw: RawTable) -> Read:
    frame = raw.frame
    id_column = _first_column(frame, WOO_ID)
    ids = blank_to_na(frame[id_column]).str.strip()
    if id_column in ("Order Number", "order_number"):  # fall back to the post ID where no number was written
        other = _first_column(frame, ("Order ID", "order_id"))
        if other is not None:
            ids = ids.fillna(blank_to_na(frame[other]).str.strip())
    table, notes = _fold(raw, ids, id_column)
    first = table["first"]
    status_column = _first_column(frame, WOO_STATUS)
    status = first(status_column).str.strip().str.lower().str.replace(r"^wc-", "", regex=True)
    total, currency = _first_column(frame, WOO_TOTAL), _first_column(frame, WOO_CURRENCY)
    out = pd.DataFrame({
        "order_id": table["key"].to_numpy(),
        "created_at": first(_first_column(frame, WOO_DATE)).to_numpy(),
        "value": first(total).to_numpy() if total else None,
        "currency": first(currency).to_numpy() if currency else None,
        "status": status.astype("object").where(status.notna(), None).to_numpy(),
        "source_ref": table["ref"],
    })
    dates = blank_to_na(out["created_at"].astype("string")).dropna()
    if len(dates) and not dates.head(50).str.contains(r"(?:[zZ]|[+-]\d{2}:?\d{2})$", regex=True).any():
        notes.append("Order Date has no UTC offset (shop-local time): give --timezone with the shop's zone, or a mapping timezone:")
    sources = {"order_id": id_column, "created_at": _first_column(frame, WOO_DATE),
               "value": total or "not in the file", "currency": currency or "not in the file",
               "status": f"{status_column} without the wc- prefix"}
    localise(out, sources, notes)
    return Read(RawTable(raw.path, out, table["row"], raw.broken + table["broken"]), "woocommerce-orders",
                "WooCommerce orders export", sources, notes)


def _fold(raw: RawTable, keys: pd.Series, key_name: str) -> tuple[dict, list[str]]:
    """One row per order key: the first non-empty value of each column, the first line, a reference."""
    frame = raw.frame
    lines = raw.row.to_numpy()
    missing = keys.isna().to_numpy()
    broken = [(int(n), f"row without an order {key_name}") for n in lines[missing]]
    kept = frame.loc[~missing]
    key = keys[~missing]
    grouped = kept.apply(blank_to_na).groupby(key.to_numpy(), sort=False)
    firsts = grouped.first()
    line_series = pd.Series(lines[~missing], index=kept.index)
    first_line = line_series.groupby(key.to_numpy(), sort=False).min().reindex(firsts.index)
    last_line = line_series.groupby(key.to_numpy(), sort=False).max().reindex(firsts.index)
    size = line_series.groupby(key.to_numpy(), sort=False).size().reindex(firsts.index)
    ref = [f"line {a}" if n == 1 else f"lines {a}-{b} ({n} rows)" for a, b, n in zip(first_line, last_line, size)]
    folded = int(len(kept) - len(firsts))

    def first(column):
        if column is None:
            return pd.Series(pd.NA, index=firsts.index, dtype="string")
        return firsts[column].astype("string")

    notes = [f"{len(firsts):,} orders from {len(kept):,} rows"
             + (f" ({folded:,} line-item rows folded into their order)" if folded else "")]
    return {"key": pd.Series(firsts.index, dtype="object"), "first": first,
            "row": pd.Series(first_line.to_numpy(), dtype="int64"), "ref": ref, "broken": broken}, notes


def _first_column(frame: pd.DataFrame, names) -> str | None:
    return next((c for c in (find_column(frame, n) for n in names) if c is not None), None)
