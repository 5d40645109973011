"""Fuzz the input parsers: any bytes, as any input format, give rows, rejects or a UserError, never a crash.

With atheris (`pip install -e '.[fuzz]'`; Linux x86-64 wheels for CPython 3.11+):

    mkdir -p /tmp/fuzz-work
    python fuzz/fuzz_parsers.py -max_total_time=300 -rss_limit_mb=4096 /tmp/fuzz-work fuzz/corpus

libFuzzer flags: stop after 5 minutes; new inputs go to the first folder (keep fuzz/corpus as seeds).
A crash is written as crash-<hash> in the working folder; add it to fuzz/corpus once fixed.

Without atheris the same file replays the corpus (fuzz/corpus/ and tests/hostile/) through the same
target, which is what `tests/test_fuzz_replay.py` runs in CI:

    python fuzz/fuzz_parsers.py --replay

The first byte of an input picks the format (CSV, TSV, JSON Lines, JSON, a config YAML file) and the side;
the rest is the file. The target fails (raises) on any exception other than UserError, and on output
of `privacy.clean` that still holds a control character.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dedupaudit import config  # noqa: E402
from dedupaudit.errors import UserError  # noqa: E402
from dedupaudit.inputs.canonical import load_events, load_orders  # noqa: E402
from dedupaudit.inputs.timestamps import resolve_timezone  # noqa: E402
from dedupaudit.platforms.rules import load_rules  # noqa: E402
from dedupaudit.privacy import clean  # noqa: E402

RULES = load_rules()
UTC = resolve_timezone("UTC")
KINDS = [(".csv", "pixel"), (".csv", "orders"), (".tsv", "capi"), (".jsonl", "capi"), (".jsonl", "orders"),
         (".json", "pixel"), (".json", "capi"), (".yaml", "config")]
CORPUS = [REPO / "fuzz" / "corpus", REPO / "tests" / "hostile"]
_folder = Path(tempfile.mkdtemp(prefix="dedupaudit-fuzz-"))


def one_input(data: bytes) -> None:
    if not data:
        return
    suffix, side = KINDS[data[0] % len(KINDS)]
    path = _folder / f"input{suffix}"
    path.write_bytes(data[1:])
    try:
        if side == "config":
            config.load_file(path)
        elif side == "orders":
            loaded = load_orders([path], UTC)
            assert loaded.rows == len(loaded.frame) + len(loaded.rejects)
        else:
            loaded = load_events([path], side, UTC, "meta", set(RULES))
            assert loaded.rows == len(loaded.frame) + len(loaded.rejects)
    except UserError as exc:
        shown = clean(str(exc))
        assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in shown), shown


def replay(paths=CORPUS) -> int:
    """Run every corpus file through the target, once per kind; return how many inputs ran."""
    count = 0
    for folder in paths:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            body = path.read_bytes()
            for kind in range(len(KINDS)):
                one_input(bytes([kind]) + body)
                count += 1
    return count


def main() -> None:
    if "--replay" in sys.argv:
        print(f"replayed {replay()} inputs without a crash")
        return
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed (pip install -e '.[fuzz]'); run with --replay to replay the corpus instead")
    atheris.instrument_all()  # coverage feedback from dedupaudit, pandas and the json/csv/yaml modules already imported
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
