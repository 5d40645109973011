"""The fuzz target (fuzz/fuzz_parsers.py) replays its corpus and the hostile corpus without a crash."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dedupaudit.errors import UserError

SPEC = importlib.util.spec_from_file_location("fuzz_parsers", Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_parsers.py")
fuzz = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(fuzz)


def test_corpus_replays_without_a_crash():
    assert fuzz.replay() >= 8 * 25  # every seed and hostile file, as each of the eight input kinds


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\xff\xfe", b"\x03{" * 50, b"\x07a: &a [1]\nb: *a\n", b"\x00\"\n\r\"\r"])
def test_odd_inputs_are_rows_or_user_errors(data):
    fuzz.one_input(data)


def test_the_target_fails_on_a_crash(monkeypatch):
    """The target must not swallow real bugs: anything but a UserError propagates."""
    def broken(*args, **kwargs):
        raise KeyError("bug")
    monkeypatch.setattr(fuzz, "load_orders", broken)
    with pytest.raises(KeyError):
        fuzz.one_input(b"\x01order_id,created_at\n1,2026-01-01\n")
    monkeypatch.setattr(fuzz, "load_orders", lambda *a, **k: (_ for _ in ()).throw(UserError("fine")))
    fuzz.one_input(b"\x01x")
