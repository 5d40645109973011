"""Write a generated shop: OUTDIR/pixel.<fmt>, capi.<fmt>, orders.<fmt> and truth.json, chunk by chunk."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dedupaudit.generate.shop import EVENT_SCHEMA, ORDER_SCHEMA, chunks
from dedupaudit.generate.truth import TRUTH_ORDERS, Truth
from dedupaudit.generate.writers import WRITERS, NativeCapiWriter


def write_shop(outdir: Path, n_orders: int, seed: int, fmt: str, platforms: list[str], rates: dict,
               truth: bool = True, truth_orders: int = TRUTH_ORDERS, native: bool = False) -> dict:
    """Write the files; return what was written, with the seconds spent generating and in the model."""
    outdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files = {name: outdir / f"{name}.{fmt}" for name in ("pixel", "capi", "orders")}
    if native:  # the server events as the platforms' own request bodies: a CAPI request log (JSON Lines)
        files["capi"] = outdir / "capi.native.jsonl"
    writers = {name: (NativeCapiWriter if native and name == "capi" else WRITERS[fmt])(
        path, ORDER_SCHEMA if name == "orders" else EVENT_SCHEMA) for name, path in files.items()}
    model = Truth(chunk_orders=truth_orders) if truth else None
    rows = {name: 0 for name in files}
    try:
        for chunk in chunks(n_orders, seed, rates, platforms):
            for name, table in (("pixel", chunk.pixel), ("capi", chunk.capi), ("orders", chunk.orders)):
                writers[name].write(table.drop_columns(["order"]))
                rows[name] += table.num_rows
            if model:
                model.add(chunk)
    finally:
        for writer in writers.values():
            writer.close()
    summary = {"generator": {"orders": n_orders, "seed": seed, "format": fmt, "native": native, "platforms": platforms, "rates": rates},
               "rows": rows, "files": {name: path.name for name, path in files.items()}}
    if model:
        summary["platforms"] = model.figures()
        (outdir / "truth.json").write_text(json.dumps(summary, indent=2) + "\n")
    else:  # a truth.json left by an earlier run (--force) would describe other files
        (outdir / "truth.json").unlink(missing_ok=True)
    summary["seconds"] = {"total": round(time.perf_counter() - started, 2),
                          "truth": round(model.seconds, 2) if model else None}
    return summary
