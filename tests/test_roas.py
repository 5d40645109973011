"""Spend and ROAS (--spend, --exchange-rates): reading the files, the figures per currency, and every view.

The two-currency shop below is small enough that each figure is worked out by hand from its rows: every
event row says whether Meta counts it (`counted`, the test's own reading of Meta's rules), and the sums
are taken here, not by the engine.
"""

from __future__ import annotations

import csv
import html
import json

import pytest

from dedupaudit.engine.run import run_audit
from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import load_events, load_orders
from dedupaudit.inputs.spend import load_exchange_rates, load_spend, load_spend_inputs
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import load_rules
from dedupaudit.reports import RENDERERS, RenderOptions
from dedupaudit.settings import Settings
from tests.conftest import EXAMPLES, platform_entry, write_jsonl
from tests.test_cli import run

ORDERS = [
    {"order_id": "O1", "created_at": "2026-10-05T10:00:00Z", "value": 100.0, "currency": "EUR", "status": "paid"},
    {"order_id": "O2", "created_at": "2026-10-05T12:00:00Z", "value": 50.0, "currency": "EUR", "status": "paid"},
    {"order_id": "O3", "created_at": "2026-10-06T09:00:00Z", "value": 80.0, "currency": "USD", "status": "paid"},
    {"order_id": "O4", "created_at": "2026-10-06T11:00:00Z", "value": 30.0, "currency": "USD", "status": "cancelled"},  # not a sale
    {"order_id": "O5", "created_at": "2026-10-06T15:00:00Z", "value": 20.0, "currency": "EUR", "status": "paid"},  # Meta never sees it
]


def _event(platform, name, event_id, time, order_id, value, currency, counted):
    row = {"platform": platform, "event_name": name, "event_id": event_id, "event_time": time, "order_id": order_id,
           "value": value, "currency": currency}
    return row, counted


# (row, does Meta/TikTok count it) per path.
PIXEL = [
    _event("meta", "Purchase", "o1", "2026-10-05T10:00:05Z", "O1", 100.0, "EUR", True),  # the pair's winner
    _event("meta", "Purchase", "p-2", "2026-10-05T12:00:05Z", "O2", 50.0, "EUR", True),  # IDs differ: both count
    _event("meta", "Purchase", "o3", "2026-10-06T09:00:05Z", "O3", 80.0, "USD", True),
    _event("meta", "Purchase", "x9", "2026-10-06T20:00:00Z", "", 12.5, "EUR", True),  # no order behind it
    _event("tiktok", "CompletePayment", "o1", "2026-10-05T10:00:05Z", "O1", 100.0, "EUR", True),
]
CAPI = [
    _event("meta", "Purchase", "o1", "2026-10-05T10:01:00Z", "O1", 100.0, "EUR", False),  # merged with the pixel's
    _event("meta", "Purchase", "o2", "2026-10-05T12:01:00Z", "O2", 50.0, "EUR", True),
    _event("meta", "Purchase", "", "2026-10-06T09:01:00Z", "O3", 80.0, "USD", True),  # no ID: counted again
    _event("meta", "Purchase", "o4", "2026-10-06T11:01:00Z", "O4", 30.0, "USD", True),  # a cancelled order, still counted
    _event("tiktok", "CompletePayment", "o1", "2026-10-05T10:01:00Z", "O1", 100.0, "EUR", False),
]


def by_hand(platform: str, currency: str) -> dict:
    """The value each platform counts and the value of the distinct real orders its purchases point to."""
    events = [row for row, _ in PIXEL + CAPI if row["platform"] == platform]
    reported = sum(row["value"] for row, counted in PIXEL + CAPI
                   if counted and row["platform"] == platform and row["currency"] == currency)
    real = {o["order_id"]: o for o in ORDERS if o["status"] == "paid"}
    seen = {row["order_id"] for row in events if row["order_id"] in real}
    deduplicated = sum(real[o]["value"] for o in seen if real[o]["currency"] == currency)
    return {"reported": reported, "deduplicated": deduplicated}


def test_hand_arithmetic_of_the_shop():
    """The oracle itself, spelled out: a wrong `counted` flag above would show here first."""
    assert by_hand("meta", "EUR") == {"reported": 100 + 50 + 50 + 12.5, "deduplicated": 100 + 50}
    assert by_hand("meta", "USD") == {"reported": 80 + 80 + 30, "deduplicated": 80}
    assert by_hand("tiktok", "EUR") == {"reported": 100, "deduplicated": 100}


@pytest.fixture
def shop(tmp_path):
    """shop(spend_csv, rates_csv=None, **settings) -> AuditResult of the two-currency shop, through the real readers."""
    rules = load_rules(None)

    def audit(spend: str | None, rates: str | None = None, **settings):
        settings = Settings(**settings)
        zone = resolve_timezone(settings.timezone)
        files = {}
        for name, text in (("spend", spend), ("rates", rates)):
            if text is not None:
                files[name] = tmp_path / f"{name}.csv"
                files[name].write_text(text)
        spent, rate_table = load_spend_inputs(files.get("spend"), files.get("rates"), set(rules))
        pixel = write_jsonl(tmp_path / "pixel.jsonl", [row for row, _ in PIXEL])
        capi = write_jsonl(tmp_path / "capi.jsonl", [row for row, _ in CAPI])
        orders = write_jsonl(tmp_path / "orders.jsonl", ORDERS)
        return run_audit(load_events([pixel], "pixel", zone, None, set(rules)), load_events([capi], "capi", zone, None, set(rules)),
                         load_orders([orders], zone), rules, settings, spend=spent, exchange_rates=rate_table)

    return audit


def test_meta_counts_what_the_hand_reading_says(shop):
    """The engine agrees with the `counted` flags, so the value sums below compare like with like."""
    meta = platform_entry(shop(None), "meta")
    assert meta.reported_conversions == sum(1 for row, counted in PIXEL + CAPI if counted and row["platform"] == "meta")
    assert meta.roas is None  # no spend given: no ROAS at all


def test_roas_per_currency_never_summed(shop):
    result = shop("platform,spend,currency\nmeta,50.00,EUR\nMeta,40,usd\n")
    roas = platform_entry(result, "meta").roas
    assert set(roas) == {"EUR", "USD"}
    for currency, spend in (("EUR", 50.0), ("USD", 40.0)):
        hand = by_hand("meta", currency)
        entry = roas[currency]
        assert entry["spend"] == spend
        assert entry["conversion_value_reported"] == pytest.approx(hand["reported"])
        assert entry["conversion_value_deduplicated"] == pytest.approx(hand["deduplicated"])
        assert entry["roas_reported"] == pytest.approx(hand["reported"] / spend)
        assert entry["roas_deduplicated"] == pytest.approx(hand["deduplicated"] / spend)
        assert entry["exchange_rates"] == [] and entry["spend_period"] is None
    assert (roas["EUR"]["roas_reported"], roas["EUR"]["roas_deduplicated"]) == (4.25, 3.0)
    assert (roas["USD"]["roas_reported"], roas["USD"]["roas_deduplicated"]) == (4.75, 2.0)


def test_platform_without_spend_shows_values_but_no_roas(shop):
    result = shop("platform,spend,currency\nmeta,50,EUR\n")
    tiktok = platform_entry(result, "tiktok").roas
    assert tiktok == {"EUR": {"spend": None, "conversion_value_reported": by_hand("tiktok", "EUR")["reported"],
                              "conversion_value_deduplicated": by_hand("tiktok", "EUR")["deduplicated"],
                              "roas_reported": None, "roas_deduplicated": None, "exchange_rates": [], "spend_period": None}}
    usd = platform_entry(result, "meta").roas["USD"]  # value in a currency without spend, and no rates: no ROAS
    assert usd["spend"] is None and usd["roas_reported"] is None and usd["conversion_value_reported"] == by_hand("meta", "USD")["reported"]


def test_zero_spend_has_no_roas(shop):
    entry = platform_entry(shop("platform,spend,currency\nmeta,0,EUR\n"), "meta").roas["EUR"]
    assert entry["spend"] == 0.0 and entry["roas_reported"] is None and entry["roas_deduplicated"] is None


def test_exchange_rates_convert_values_into_the_spend_currency(shop):
    result = shop("platform,spend,currency\nmeta,50,EUR\n", "from,to,rate\nUSD,EUR,0.9\nGBP,EUR,1.2\n")
    roas = platform_entry(result, "meta").roas
    assert set(roas) == {"EUR"}  # USD folded into EUR
    eur, usd = by_hand("meta", "EUR"), by_hand("meta", "USD")
    reported = eur["reported"] + usd["reported"] * 0.9
    deduplicated = eur["deduplicated"] + usd["deduplicated"] * 0.9
    assert roas["EUR"]["conversion_value_reported"] == pytest.approx(reported)
    assert roas["EUR"]["conversion_value_deduplicated"] == pytest.approx(deduplicated)
    assert roas["EUR"]["roas_reported"] == pytest.approx(reported / 50, abs=1e-6)
    assert roas["EUR"]["roas_deduplicated"] == pytest.approx(deduplicated / 50, abs=1e-6)
    assert roas["EUR"]["exchange_rates"] == [{"from": "USD", "to": "EUR", "rate": 0.9}]  # the rates used, not every rate given


def test_spend_in_the_values_currency_is_never_converted(shop):
    """A rate is only for a currency the platform has no spend in: USD spend keeps USD values apart."""
    roas = platform_entry(shop("platform,spend,currency\nmeta,50,EUR\nmeta,40,USD\n", "from,to,rate\nUSD,EUR,0.9\n"), "meta").roas
    assert roas["USD"]["conversion_value_reported"] == by_hand("meta", "USD")["reported"] and roas["EUR"]["exchange_rates"] == []


def test_dated_spend_counts_only_the_days_of_the_period(shop):
    spend = ("platform,spend,currency,date\n"
             "meta,10,EUR,2026-10-04\n"   # before the data's first day
             "meta,30,EUR,2026-10-05\n"
             "meta,20,EUR,2026-10-06\n"
             "meta,100,EUR,2026-10-09\n")  # after its last
    entry = platform_entry(shop(spend), "meta").roas["EUR"]
    assert entry["spend"] == 30 + 20
    assert entry["roas_reported"] == pytest.approx(by_hand("meta", "EUR")["reported"] / 50)
    assert entry["spend_period"] == {"first_day": "2026-10-05", "last_day": "2026-10-06", "days_left_out": 2}
    # --since / --until set the days; a bare --since is read in --timezone, so its day is that zone's day
    entry = platform_entry(shop(spend, since="2026-10-06", until="2026-10-09", timezone="Europe/Berlin"), "meta").roas["EUR"]
    assert entry["spend"] == 20 + 100
    assert entry["spend_period"] == {"first_day": "2026-10-06", "last_day": "2026-10-09", "days_left_out": 2}
    # every day outside: spend 0, so no ROAS, and the report can say why
    entry = platform_entry(shop("platform,spend,currency,date\nmeta,10,EUR,2026-09-01\n"), "meta").roas["EUR"]
    assert entry["spend"] == 0 and entry["roas_reported"] is None and entry["spend_period"]["days_left_out"] == 1


@pytest.mark.parametrize("content, message", [
    ("platform,spend\nmeta,10\n", "missing required column currency"),
    ("platform,spend,currency,clicks\nmeta,10,EUR,5\n", "unknown column clicks"),
    ("platform,spend,currency\nbing,10,EUR\n", "line 2: unknown platform 'bing'"),
    ("platform,spend,currency\nmeta,,EUR\n", "line 2: spend is empty"),
    ("platform,spend,currency\nmeta,\"12,50\",EUR\n", "line 2: spend '12,50' is not a number"),
    ("platform,spend,currency\nmeta,ten,EUR\n", "line 2: spend 'ten' is not a number"),
    ("platform,spend,currency\nmeta,-5,EUR\n", "line 2: spend '-5' is negative"),
    ("platform,spend,currency\nmeta,inf,EUR\n", "line 2: spend 'inf' is not a finite number"),
    ("platform,spend,currency\nmeta,1,EUR\nmeta,nan,EUR\n", "line 3: spend 'nan' is not a finite number"),
    ("platform,spend,currency\nmeta,10,€\n", "line 2: currency '€' is not a three-letter currency code"),
    ("platform,spend,currency\nmeta,10,EURO\n", "line 2: currency 'EURO' is not a three-letter currency code"),
    ("platform,spend,currency\nmeta,10,\n", "line 2: currency '' is not a three-letter currency code"),
    ("platform,spend,currency,date\nmeta,10,EUR,05/10/2026\n", "line 2: date '05/10/2026' is not a day (YYYY-MM-DD)"),
    ("platform,spend,currency,date\nmeta,10,EUR,2026-02-30\n", "line 2: date '2026-02-30' is not a day"),
    ("platform,spend,currency\nmeta,10,EUR\nsnap,5,EUR\nMETA,10,eur\n", "line 4: repeats line 2 (meta, EUR)"),
    ("platform,spend,currency,date\nmeta,10,EUR,2026-10-05\nmeta,10,EUR,2026-10-05\n", "line 3: repeats line 2 (meta, EUR, 2026-10-05)"),
    ("platform,spend,currency,date\nmeta,10,EUR,2026-10-05\nmeta,70,EUR,\n",
     "line 3: meta EUR has both a total without a date and per-day rows (line 2)"),
    ("platform,spend,currency\n", "no spend rows"),
])
def test_bad_spend_file_is_one_line_naming_the_row(tmp_path, content, message):
    path = tmp_path / "spend.csv"
    path.write_text(content)
    with pytest.raises(UserError) as caught:
        load_spend(path, {"meta", "snap", "tiktok", "google"})
    assert message in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("content, message", [
    ("from,to\nUSD,EUR\n", "missing required column rate"),
    ("from,to,rate\nUSD,EUR,-1\n", "line 2: rate '-1' is negative"),
    ("from,to,rate\nUSD,EUR,0\n", "line 2: rate is 0"),
    ("from,to,rate\nUSD,EUR,inf\n", "line 2: rate 'inf' is not a finite number"),
    ("from,to,rate\nUSD,EUR,0.9\nusd,eur,0.91\n", "line 3: repeats the rate USD to EUR of line 2"),
    ("from,to,rate\nEUR,eur,1\n", "line 2: converts EUR into itself"),
    ("from,to,rate\n$,EUR,0.9\n", "line 2: from '$' is not a three-letter currency code"),
])
def test_bad_exchange_rates_file_is_one_line_naming_the_row(tmp_path, content, message):
    path = tmp_path / "rates.csv"
    path.write_text(content)
    with pytest.raises(UserError) as caught:
        load_exchange_rates(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_rates_without_spend_are_refused(tmp_path):
    with pytest.raises(UserError, match="only applies with --spend"):
        load_spend_inputs(None, tmp_path / "rates.csv", {"meta"})


def test_each_format_shows_the_roas_figures(shop):
    result = shop("platform,spend,currency\nmeta,50,EUR\nmeta,40,USD\n")
    expected = ["4.25", "3.00", "4.75", "2.00", "50.00", "212.50", "150.00", "190.00", "80.00"]
    for fmt in ("rich", "markdown", "html"):
        text = RENDERERS[fmt](result, RenderOptions())
        assert "Meta reports ROAS 4.25, deduplicated 3.00 (EUR)" in text, fmt
        assert "Meta reports ROAS 4.75, deduplicated 2.00 (USD)" in text, fmt
        assert "TikTok has no spend in EUR, so no ROAS there" in text, fmt
        assert all(figure in text for figure in expected), fmt
    page = RENDERERS["html"](result, RenderOptions())
    summary = page[page.index('<section id="summary">'):]
    assert summary.index("Meta reports ROAS 4.25") < summary.index("real orders")  # ROAS leads, before the verdict
    without = RENDERERS["markdown"](shop(None), RenderOptions())
    assert "## Spend and ROAS" not in without and "reports ROAS" not in without  # no spend: no ROAS section


def test_formats_say_which_days_and_rates_were_used(shop):
    dated = shop("platform,spend,currency,date\nmeta,30,EUR,2026-10-05\nmeta,10,EUR,2026-10-04\n", "from,to,rate\nUSD,EUR,0.9\n")
    for fmt in ("rich", "markdown", "html"):
        text = " ".join(html.unescape(RENDERERS[fmt](dated, RenderOptions())).split())
        assert ("spend counted only for the days of the audit's period, 2026-10-05 to 2026-10-06; "
                "1 day(s) of spend outside it left out") in text, fmt
        assert "conversion values in USD converted into EUR at 1 USD = 0.9 EUR" in text, fmt


def test_cli_spend_on_the_example_shop(tmp_path):
    done = run("check", "--pixel", EXAMPLES / "pixel_events.csv", "--capi", EXAMPLES / "capi_events.jsonl",
               "--orders", EXAMPLES / "orders.csv", "--spend", EXAMPLES.parent / "spend.csv", "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    spend = {line.split(",")[0]: float(line.split(",")[1]) for line in (EXAMPLES.parent / "spend.csv").read_text().splitlines()[1:]}
    # By hand from the example's files: the real orders (status not excluded) that each platform's events name.
    real = {r["order_id"]: float(r["value"]) for r in csv.DictReader((EXAMPLES / "orders.csv").open())
            if r["status"].lower() not in ("test", "cancelled", "canceled", "voided", "failed")}
    seen: dict[str, set] = {}
    for r in csv.DictReader((EXAMPLES / "pixel_events.csv").open()):
        seen.setdefault(r["platform"], set()).add(r["order_id"])
    for line in (EXAMPLES / "capi_events.jsonl").open():
        r = json.loads(line)
        seen.setdefault(r["platform"], set()).add(r.get("order_id"))
    purchases = [p for p in data["platforms"] if p["event"] == "purchase"]
    assert {p["platform"] for p in purchases} == set(spend)
    for p in purchases:
        entry = p["roas"]["EUR"]
        assert set(p["roas"]) == {"EUR"} and entry["spend"] == spend[p["platform"]]
        deduplicated = sum(v for o, v in real.items() if o in seen[p["platform"]])
        assert entry["conversion_value_deduplicated"] == pytest.approx(deduplicated, abs=0.01)
        assert entry["roas_deduplicated"] == pytest.approx(deduplicated / spend[p["platform"]], abs=1e-6)
        assert entry["roas_reported"] == pytest.approx(entry["conversion_value_reported"] / spend[p["platform"]], abs=1e-6)
        assert entry["conversion_value_reported"] > deduplicated  # every example platform over-counts
    assert all(p["roas"] is None for p in data["platforms"] if p["event"] != "purchase")


def test_cli_refuses_a_bad_spend_file_and_writing_over_it(tmp_path):
    args = ["check", "--pixel", EXAMPLES / "pixel_events.csv", "--orders", EXAMPLES / "orders.csv"]
    spend = tmp_path / "spend.csv"
    spend.write_text("platform,spend,currency\nmeta,-1,EUR\n")
    done = run(*args, "--spend", spend)
    assert done.returncode == 2 and "line 2: spend '-1' is negative" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    spend.write_text("platform,spend,currency\nmeta,10,EUR\n")
    done = run(*args, "--spend", spend, "--rejects", spend)
    assert done.returncode == 2 and "this is the input file" in done.stderr
    done = run(*args, "--exchange-rates", spend)
    assert done.returncode == 2 and "only applies with --spend" in done.stderr


def test_config_keys_spend_and_exchange_rates(tmp_path):
    (tmp_path / "dedupaudit.yaml").write_text("spend: costs/spend.csv\nexchange_rates: rates.csv\n")
    done = run("config", "show", "--config", tmp_path / "dedupaudit.yaml")
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "costs" / "spend.csv") in done.stdout and str(tmp_path / "rates.csv") in done.stdout
    (tmp_path / "dedupaudit.yaml").write_text("spend_file: spend.csv\n")
    assert run("config", "show", "--config", tmp_path / "dedupaudit.yaml").returncode == 2
