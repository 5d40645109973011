"""Bodies, captures and exports as the platforms' own tools and the big integrations produce them
(tests/fixtures/real/, sources in its README.md; expected rows in expected.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import load_events, load_orders
from dedupaudit.inputs.detect import ReadContext
from dedupaudit.inputs.native.locale import dates, numbers
from dedupaudit.inputs.timestamps import resolve_timezone
from tests.native_support import RULES, jsonl, read, values_of, write

REAL = Path(__file__).parent / "fixtures" / "real"
EXPECTED = yaml.safe_load((REAL / "expected.yaml").read_text(encoding="utf-8"))
EVENT_FIXTURES = [name for name, spec in EXPECTED.items() if "rows" in spec]
COLUMNS = ("platform", "event_name", "event_id", "order_id", "value", "event_time", "delivery")
UTC = resolve_timezone("UTC")
PERSONAL = ("203.0.113.", "@example.com", "cliente", "309a0a5c3e211326ae75ca18196d301a9bdbd1a882a4d2569511033da23f0abd"[:40],
            "cc779c04191c2e736d89e45c11339c8382832bcaf70383f7df94e3d08ba7a6d9", "test ua", "Mozilla")


def _cells(frame: pd.DataFrame, columns) -> list[list]:
    return [[None if pd.isna(v) else v for v in row] for row in frame[list(columns)].astype("object").itertuples(index=False)]


def test_every_fixture_is_listed_with_its_source():
    files = {str(p.relative_to(REAL)) for p in REAL.rglob("*") if p.is_file() and p.name not in ("README.md", "expected.yaml")}
    assert files == set(EXPECTED)
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_real_fixture_gives_exactly_its_rows(name):
    spec = EXPECTED[name]
    result = read(REAL / name, None)
    assert result.format == spec["format"]
    if "orders" in spec:
        assert _cells(result.table.frame, ("order_id", "created_at", "value", "status")) == spec["orders"]
    else:
        assert _cells(result.table.frame, COLUMNS) == spec["rows"]
    assert [b[1] for b in result.table.broken] == spec.get("rejects", [])
    text = values_of(result.table.frame.drop(columns=["external_id"], errors="ignore"))
    assert not [p for p in PERSONAL if p in text]


@pytest.mark.parametrize("name", EVENT_FIXTURES)
def test_detection_names_no_other_platform(name):
    """The platforms a fixture's rows get are those of its folder (gateway logs: the ones expected.yaml lists)."""
    frame = read(REAL / name, None).table.frame
    folder = name.split("/")[0]
    expected = {row[0] for row in EXPECTED[name]["rows"]} if folder == "gateways" else {folder}
    assert set(frame["platform"]) == expected


# A log of several platforms (a gateway's) cannot be forced to one format: only single-platform logs here.
SINGLE_PLATFORM_LOGS = [n for n in EVENT_FIXTURES if EXPECTED[n]["format"] == "capi-log"
                        and len({row[0] for row in EXPECTED[n]["rows"]}) == 1]


@pytest.mark.parametrize("name", SINGLE_PLATFORM_LOGS)
def test_forcing_the_detected_format_gives_the_same_rows_in_check_and_inspect(name, tmp_path):
    """--capi-format and inspect --read-as take the same names and give the same rows as detection."""
    path = REAL / name
    detected = read(path, "capi").table.frame
    used = _used(path)
    assert len(used) == 1, used
    forced = read(path, "capi", formats={"capi": used[0]}).table.frame
    assert _cells(forced, COLUMNS) == _cells(detected, COLUMNS)
    shown = _inspect(path, "--read-as", used[0])
    assert shown["format"] == used[0] and shown["rows"] == len(forced)
    assert [r["event_id"] for r in shown["first_rows"]] == forced["event_id"].tolist()


def _used(path: Path) -> list[str]:
    label = read(path, "capi").label
    return label[label.index("(") + 1: label.rindex(")")].split(", ")


def _inspect(path: Path, *options: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "inspect", str(path), "--format", "json", "--rows", "100", *options],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)
    return report


def test_a_snap_body_from_segment_is_snap_not_meta():
    """Segment's Snap v3 body says action_source "website" (a Meta value): Snap's event names decide."""
    [row] = _cells(read(REAL / "snap/capi_v3_segment.jsonl", None).table.frame, ("platform",))
    assert row == ["snap"]


def test_gateway_records_keep_send_time_and_response():
    frame = read(REAL / "gateways/stape_bigquery.jsonl", None).table.frame
    assert frame["received_time"].tolist() == ["2023-11-14 22:13:21.512 UTC", "2023-11-14 22:13:22.001 UTC"]
    assert frame["delivery_message"].tolist() == [None, "code 40001: Invalid access token"]
    loaded = load_events([REAL / "gateways/stape_bigquery.jsonl"], "capi", UTC, None, set(RULES))
    assert len(loaded.rejects) == 0  # BigQuery's "... UTC" timestamps are read
    assert loaded.frame["received_time"].astype(str).tolist() == ["2023-11-14 22:13:21.512", "2023-11-14 22:13:22.001"]
    stape = read(REAL / "snap/capi_v3_stape_log.jsonl", None)
    assert stape.table.frame["received_time"].tolist() == ["2023-11-14T22:18:21.512Z"]
    assert any("1 gateway response line joined" in n for n in stape.notes)
    assert read(REAL / "reddit/v2_segment.jsonl", None).table.frame["received_time"].tolist() == ["2021-02-01T00:00:05.000Z"]


def test_a_bigquery_export_saved_as_csv_reads_like_its_json_lines(tmp_path):
    import csv

    records = [json.loads(line) for line in (REAL / "gateways/stape_bigquery.jsonl").read_text().splitlines()]
    with open(tmp_path / "export.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    as_csv = read(tmp_path / "export.csv", None)
    as_json = read(REAL / "gateways/stape_bigquery.jsonl", None)
    assert as_csv.format == "capi-log" and as_csv.table.row.tolist() == [2, 3]
    columns = COLUMNS + ("received_time", "delivery_message")
    assert _cells(as_csv.table.frame, columns) == _cells(as_json.table.frame, columns)
    typed = pd.DataFrame(records).assign(timestamp=lambda f: pd.to_datetime(f["timestamp"].str.replace(" UTC", "Z"), utc=True))
    typed.to_parquet(tmp_path / "export.parquet")
    as_parquet = read(tmp_path / "export.parquet", None).table.frame
    assert _cells(as_parquet, COLUMNS) == _cells(as_json.table.frame, COLUMNS)
    assert as_parquet["received_time"].tolist() == ["2023-11-14T22:13:21.512000+00:00", "2023-11-14T22:13:22.001000+00:00"]


def test_a_refusal_in_the_joined_response_line_refuses_the_request(tmp_path):
    lines = [json.loads(line) for line in (REAL / "x/stape_log.jsonl").read_text().splitlines()]
    lines[1]["ResponseStatusCode"], lines[1]["ResponseBody"] = 403, '{"errors": [{"message": "Forbidden"}]}'
    orphan = {"Name": "Twitter", "Type": "Response", "TraceId": "nobody", "ResponseStatusCode": 200}
    result = read(jsonl(tmp_path / "log.jsonl", [lines[0], lines[1], orphan]), "capi")
    assert _cells(result.table.frame, ("delivery", "delivery_message")) == [["refused", "HTTP 403: Forbidden"]]
    assert result.table.broken == [] and any("1 response lines without a logged request" in n for n in result.notes)


def test_a_gateway_logs_other_requests_are_counted_not_rejected(tmp_path):
    auth = {"Name": "Snapchat", "Type": "Request", "TraceId": "t-2", "EventName": "Auth", "RequestMethod": "POST",
            "RequestUrl": "https://accounts.snapchat.com/login/oauth2/access_token"}
    auth_response = {"Name": "Snapchat", "Type": "Response", "TraceId": "t-2", "EventName": "Auth", "ResponseStatusCode": 200}
    ga4 = {"timestamp": "2023-11-14T22:18:21Z", "url": "https://region1.google-analytics.com/g/collect", "body": {"en": "purchase"}}
    lines = (REAL / "snap/capi_v3_stape_log.jsonl").read_text().splitlines()
    log = write(tmp_path / "log.jsonl", "\n".join([json.dumps(auth), json.dumps(auth_response), json.dumps(ga4), *lines]) + "\n")
    result = read(log, "capi")
    assert len(result.table.frame) == 1 and result.table.broken == []
    assert any("2 logged requests to other URLs" in n for n in result.notes)
    assert any("2 gateway response lines joined" in n for n in result.notes)


def test_validation_only_google_requests_are_not_called_test_codes():
    frame = read(REAL / "google/ads_upload.jsonl", None).table.frame
    assert frame["delivery_message"].tolist()[1].startswith("validation-only request (validateOnly true)")


def test_optional_columns_for_fallback_dedup_and_conversion_actions():
    meta = read(REAL / "meta/capi_json.jsonl", None).table.frame
    assert _cells(meta, ("fbp", "action_source")) == [["fb.1.1558571054389.1098115397", "website"]]
    pixel = read(REAL / "meta/pixel.har", None).table.frame
    assert pixel["fbp"].tolist() == ["fb.1.1558571054389.1098115397"] * 2 and pixel["external_id"].notna().tolist() == [True, False]
    tiktok = read(REAL / "tiktok/events_api_stape.jsonl", None).table.frame
    assert _cells(tiktok, ("ttp", "action_source")) == [["2ZgKUmN8Hq0aXyExample", "web"]]
    assert read(REAL / "reddit/v3_segment.jsonl", None).table.frame["action_source"].tolist() == ["WEBSITE", "WEBSITE"]
    assert read(REAL / "snap/capi_v3_segment.jsonl", None).table.frame["action_source"].tolist() == ["website"]
    assert read(REAL / "google/ads_upload.jsonl", None).table.frame["conversion_action"].tolist() == \
        ["customers/1234567890/conversionActions/987654321"] * 2
    assert read(REAL / "google/data_manager.jsonl", None).table.frame["conversion_action"].tolist() == \
        ["customers/1234567890/conversionActions/987654322"] * 2
    assert read(REAL / "google/tag.har", None).table.frame["conversion_action"].tolist() == ["AW-987654321/AbC-D_efG-h12_34-567"]


def test_malformed_nested_json_is_a_reject_with_a_reason(tmp_path):
    event = {"event_name": "Purchase", "event_time": 1700000000, "event_id": "1", "action_source": "website",
             "custom_data": '{"value": 59.9, "currency": "EU'}
    ok = dict(event, event_id="2", custom_data='{"value": 10, "currency": "EUR"}')
    result = read(jsonl(tmp_path / "log.jsonl", [{"data": [event, ok]}, {"data": '[{"event_name": "Purchase", "event_t'}]), "capi")
    assert _cells(result.table.frame, ("event_id", "value", "currency")) == [["2", "10", "EUR"]]
    assert [(b[0], b[1].split(" (")[0], b[2]) for b in result.table.broken] == [
        (1, "custom_data is not valid JSON", "line 1, data[0]"), (2, "data is not valid JSON", "line 2")]


def test_a_log_whose_only_body_is_cut_off_is_read_as_a_log_with_that_reject(tmp_path):
    result = read(jsonl(tmp_path / "log.jsonl", [{"data": '[{"event_name": "Purchase", "event_t'}]), None)
    assert result.format == "capi-log" and len(result.table.frame) == 0
    assert [b[1].split(" (")[0] for b in result.table.broken] == ["data is not valid JSON"]


def test_a_cut_off_cd_parameter_rejects_the_pixel_event(tmp_path):
    from tests.native_support import entry, har
    url = "https://www.facebook.com/tr?id=1&ev=Purchase&eid=E1&cd=%7B%22value%22%3A%2059.9%2C%20%22curr"
    ok = "https://www.facebook.com/tr?id=1&ev=Purchase&eid=E2&cd=%7B%22value%22%3A%2059.9%7D"
    result = read(har(tmp_path / "c.har", [entry(url), entry(ok)]), "pixel")
    assert _cells(result.table.frame, ("event_id", "value")) == [["E2", "59.9"]]
    assert [b[1].split(" (")[0] for b in result.table.broken] == ["cd is not valid JSON"]


def test_rejected_reasons_group_by_reason_and_the_line_goes_to_rejects(tmp_path):
    bad = {"data": [{"event_name": "Purchase", "event_time": 1700000000, "action_source": "website", "custom_data": "{"}]}
    cut_elsewhere = {"data": [dict(bad["data"][0], custom_data='{"value": 59.9, "curr')]}  # another JSON error message
    log = jsonl(tmp_path / "log.jsonl", [bad, bad, cut_elsewhere, bad, bad])
    report = _inspect(log)
    assert report["rejected_reasons"] == {"custom_data is not valid JSON (cut off or broken)": 5}
    loaded = load_events([log], "capi", UTC, None, set(RULES))
    assert loaded.rejects["source_ref"].tolist() == [f"line {n}, data[0]" for n in range(1, 6)]


def test_ambiguous_input_exits_2_naming_the_candidates_and_the_option(tmp_path):
    body = {"data": [{"event_name": "order_done", "event_time": 1700000000, "event_id": "1"}]}
    log = jsonl(tmp_path / "log.jsonl", [body, body])
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "inspect", str(log)], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "could be meta-capi or pinterest-capi or snap-capi" in done.stderr and "--capi-format meta-capi" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _inspect(log, "--read-as", "snap-capi")["platforms"]["snap"]["events"] == 2


def test_the_files_first_records_decide_a_body_that_alone_is_ambiguous(tmp_path):
    snap = {"data": [{"event_name": "PURCHASE", "event_time": 1700000000000, "event_id": "1", "action_source": "website"}]}
    vague = {"data": [{"event_name": "CUSTOM_EVENT_1", "event_time": 1700000000000, "event_id": "2"}]}
    unknown = {"data": [{"event_name": "whatever", "event_time": 1700000000000, "event_id": "3"}]}
    result = read(jsonl(tmp_path / "log.jsonl", [snap, vague, unknown]), "capi")
    assert set(result.table.frame["platform"]) == {"snap"}
    assert any(n.startswith("1 bodies had nothing of their own") for n in result.notes)  # CUSTOM_EVENT_1 is Snap's own


def test_bodies_of_one_structure_are_still_told_apart_by_their_values(tmp_path):
    """Shapes are remembered per key structure; a missing value, a JSON-text body and event names still count."""
    empty_name = {"data": [{"event_name": None, "event_time": 1700000000, "action_source": "website"}]}
    meta = {"data": [{"event_name": "Purchase", "event_time": 1700000000, "event_id": "1", "action_source": "website"}]}
    snap = {"data": [{"event_name": "PURCHASE", "event_time": 1700000000, "event_id": "2", "action_source": "website"}]}
    as_text = {"data": json.dumps(snap["data"])}
    result = read(jsonl(tmp_path / "log.jsonl", [empty_name, meta, snap, as_text]), "capi")
    assert _cells(result.table.frame, ("platform", "event_id")) == [["meta", "1"], ["snap", "2"], ["snap", "2"]]
    assert [b[0] for b in result.table.broken] == [1]


def test_x_and_microsoft_pixel_logs(tmp_path):
    log = write(tmp_path / "tags.csv", "timestamp,platform,event_tag,conversion_id,value,currency\n"
                "2026-10-05T09:14:22Z,x,tw-o8z6j-o8z2x,1001,59.9,EUR\n")
    assert _cells(read(log, "pixel").table.frame, ("platform", "event_name", "event_id", "order_id", "conversion_action")) == [
        ["x", "conversion", "1001", "1001", "tw-o8z6j-o8z2x"]]
    uet = write(tmp_path / "uet.csv", "timestamp,platform,ea,event_id,gv,gc\n2026-10-05T09:14:22Z,microsoft,purchase,E1,19.99,USD\n")
    assert _cells(read(uet, "pixel").table.frame, ("platform", "event_name", "event_id", "value", "currency")) == [
        ["microsoft", "purchase", "E1", "19.99", "USD"]]


def test_locale_numbers_per_column():
    comma = numbers(pd.Series(["57,10", "1.234,50", "€ 12,00", "n.d.", None, "7"]))
    assert comma.values.tolist() == ["57.10", "1234.50", "12.00", None, None, "7"] and comma.emptied == 1
    assert comma.how.startswith("decimal comma")
    point = numbers(pd.Series(["1,234.56", "57.10"]))
    assert point.values.tolist() == ["1234.56", "57.10"] and point.how.startswith("decimal point, ','")
    assert numbers(pd.Series(["12", "13.5"])).how is None
    mixed = numbers(pd.Series(["57,10", "57.10"]))
    assert mixed.values.tolist() == ["57.10", "57.10"] and mixed.emptied == 0 and "both" in mixed.how
    assert numbers(pd.Series(["1,234", "57,10", "57.10"])).values.tolist() == [None, "57.10", "57.10"]  # 1,234: either


def test_locale_dates_only_when_the_column_says_which_comes_first():
    assert dates(pd.Series(["31/10/2026 14:03", "01/11/2026"])).values.tolist() == ["2026-10-31 14:03", "2026-11-01"]
    assert dates(pd.Series(["10/31/2026", "11/01/26"])).values.tolist() == ["2026-10-31", "2026-11-01"]
    ambiguous = dates(pd.Series(["01/02/2026", "03/04/2026"]))
    assert ambiguous.values.tolist() == ["01/02/2026", "03/04/2026"] and "cannot be told" in ambiguous.how
    assert dates(pd.Series(["2026-10-05T10:00:00Z"])).how is None


def test_an_unreadable_total_keeps_the_order_and_is_counted():
    path = REAL / "orders/woocommerce_it.csv"
    loaded = load_orders([path], resolve_timezone("Europe/Rome"), ReadContext(rules=RULES))
    assert len(loaded.frame) == 4 and len(loaded.rejects) == 0
    assert loaded.frame["value"].tolist()[:2] == [57.1, 1234.5] and pd.isna(loaded.frame["value"][2])
    assert loaded.frame["created_at"].astype(str).tolist()[0] == "2026-10-31 13:03:00"
    shown = _inspect(path)
    assert "1 order with a total that is not a number" in " ".join(shown["notes"])
    assert "decimal comma" in shown["sources"]["value"] and "day first" in shown["sources"]["created_at"]


def test_a_mapped_order_export_is_read_in_its_locale_too(tmp_path):
    from dedupaudit.inputs.mapping import parse_mapping

    export = write(tmp_path / "ordini.csv", "Numero;Data;Totale\n".replace(";", ",") +
                   '"A-1","31/10/2026 14:03","57,10"\n"A-2","01/11/2026 09:15","n.d."\n')
    mapping = parse_mapping({"columns": {"order_id": "Numero", "created_at": "Data", "value": "Totale"}}, "test")
    result = read(export, "orders", mapping=mapping)
    assert _cells(result.table.frame, ("order_id", "created_at", "value")) == [
        ["A-1", "2026-10-31 14:03", "57.10"], ["A-2", "2026-11-01 09:15", None]]
    assert result.notes == ["1 order with a total that is not a number: kept, with the value left empty"]
    typed = numbers(pd.Series([57.1, None]))
    assert typed.how is None and typed.values.tolist()[0] == 57.1


def test_a_forced_format_for_the_wrong_body_rejects_every_row_with_one_reason(tmp_path):
    log = jsonl(tmp_path / "log.jsonl", [{"foo": 1}] * 3)
    result = read(log, "capi", formats={"capi": "meta-capi"})
    assert {b[1] for b in result.table.broken} == {"Meta Conversions API request bodies (POST /{version}/{pixel_id}/events): no list of events at data"}
    with pytest.raises(UserError, match="not a known format"):
        read(write(tmp_path / "x.jsonl", "{}\n"), "capi", formats={"capi": "x"})
