"""The input formats `dedupaudit` reads, with the rule that recognises each (shown by `dedupaudit formats`).

Platform request formats (meta-capi, snap-pixel, ...) are defined by the rule files' `native:`
sections; the generic ones are here. `FORMAT_NAMES` lists every name the --capi-format,
--pixel-format and --orders-format options (and a mapping's `format:`) accept with the built-in rules.
"""

from __future__ import annotations

from dataclasses import dataclass

SIDES = ("pixel", "capi", "orders")


@dataclass(frozen=True)
class FormatInfo:
    name: str
    sides: tuple[str, ...]
    label: str
    detection: str
    source: str | None = None  # where the shapes come from (tests/fixtures/real/README.md has one per file)


GENERIC_FORMATS = (
    FormatInfo("canonical", SIDES, "Canonical table (CSV, TSV, JSON Lines, JSON array, Parquet; .gz/.zst)",
               "columns event_name and event_time (events; platform unless --platform) or order_id and created_at "
               "(orders), names matched ignoring case"),
    FormatInfo("capi-log", ("capi",), "Server request log: Conversions API bodies of any platform",
               "JSON Lines, a JSON array or one JSON document whose records are request bodies of a rule file's "
               "native.server format (JSON, form encoded, or with the events as JSON text), bare or wrapped in a log "
               "record: {timestamp|sent_at|time, body|request|payload, response, url?}; server-side GTM / Stape "
               "request and response lines {Type, TraceId, RequestUrl, RequestBody} + {ResponseStatusCode, "
               "ResponseBody}, also inside Cloud Logging's jsonPayload/textPayload; Stape's BigQuery export "
               "{timestamp, request_url, request_body (JSON text), response_status_code, response_body}, also as a "
               "CSV/Parquet table with a request_body column; Segment / "
               "RudderStack delivery logs {request: {url, body}, response} or {endpoint, body: {JSON|FORM}}. The "
               "platform of each body comes from its URL, else from its shape and the fields only one platform "
               "uses (event names, own user_data keys, channel values), else from the same evidence over the "
               "file's first 50 records; a file none of these decides is an error naming the candidates",
               "bodies: the platforms' docs and SDKs, segmentio/action-destinations, stape-io/*-tag template.js, "
               "rudderlabs/rudder-transformer (facebook_conversions); log lines: stape-io tag templates' logToConsole "
               "(Request/Response), Cloud Logging's jsonPayload, Stape's BigQuery export (columns as users' "
               "exports show them; no public sample); "
               "per-format sources: below"),
    FormatInfo("har", ("pixel",), "HAR capture (browser network log, JSON)",
               "a JSON document with log.entries[]; entries whose URL matches a rule file's native.browser endpoint "
               "are pixel events, all other entries are ignored"),
    FormatInfo("pixel-log", ("pixel",), "Flat pixel log with the platforms' browser field names",
               "a table with a column only one platform's browser API uses (native.log.signature: eventID, "
               "client_dedup_id, transaction_id, conversionId, conversion_id), or an event column, a time column and "
               "a platform column (or the platform in the file name)"),
    FormatInfo("shopify-orders", ("orders",), "Shopify orders export (one row per line item)",
               "a CSV with the columns Name, Created at and Financial Status"),
    FormatInfo("woocommerce-orders", ("orders",), "WooCommerce order export",
               "columns Order Number or Order ID (order_number / order_id), Order Date (order_date) and "
               "Order Status (status, wc-... values); decimal commas, thousands separators and day-first "
               "dates are detected per column (shown by inspect), an unreadable total is left empty",
               "the column names of the WooCommerce order export plugins"),
    FormatInfo("mapped", SIDES, "Any CSV/JSON/Parquet export read through a column mapping",
               "a mapping (config `mapping:` or --mapping FILE) whose files: pattern matches the file, or whose "
               "top-level columns/constants apply to a table no other format recognises"),
)

# Server request formats of the bundled rule files (forcible with --capi-format); the HAR reader
# recognises the browser formats (meta-pixel, tiktok-pixel, ...) by URL, so they need no option.
PLATFORM_SERVER_FORMATS = ("meta-capi", "tiktok-events-api", "tiktok-pixel-track", "tiktok-pixel-batch", "snap-capi",
                           "pinterest-capi", "reddit-capi", "reddit-capi-v2", "linkedin-capi", "google-ads-upload",
                           "google-data-manager", "x-capi", "microsoft-uet-capi")

FORMAT_NAMES = ("auto",) + tuple(f.name for f in GENERIC_FORMATS) + PLATFORM_SERVER_FORMATS
