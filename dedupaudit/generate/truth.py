"""truth.json: the reference model's figures for a generated shop, computed a chunk of orders at a time.

The model (model.py) is plain Python over rows, too slow and too big for a whole large shop at once.
The generator guarantees that events of different orders share no dedup key, so the model's counts
of disjoint sets of orders add up (model.add_counts). Orders with a placeholder ID do share one
(`undefined`), so they are held back and run together, once, at the end.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from dedupaudit.generate import model
from dedupaudit.generate.shop import Chunk
from dedupaudit.platforms.rules import bundled_rules_dir

TRUTH_ORDERS = 5_000  # orders per model run: small enough for plain Python, big enough to amortise the set-up


def _rows(table: pa.Table) -> list[dict]:
    return table.drop_columns(["order"]).to_pylist()


class Truth:
    """Feed it every chunk (`add`), then read `figures()`; `seconds` is the time spent in the model."""

    def __init__(self, rules_dir=None, chunk_orders: int = TRUTH_ORDERS):
        self.rules = model.load_rules(rules_dir or bundled_rules_dir())
        self.chunk_orders = chunk_orders
        self.counts = None
        self.held: list[Chunk] = []
        self.seconds = 0.0

    def add(self, chunk: Chunk) -> None:
        started = time.perf_counter()
        held = pa.array(chunk.placeholder_orders)
        parts = [chunk.pixel, chunk.capi, chunk.orders]
        self.held.append([t.filter(pc.is_in(t["order"], held)) for t in parts])
        parts = [t.filter(pc.invert(pc.is_in(t["order"], held))) for t in parts]
        first, last = chunk.orders["order"][0].as_py(), chunk.orders["order"][-1].as_py()
        for lo in range(first, last + 1, self.chunk_orders):
            mask = [pc.and_(pc.greater_equal(t["order"], lo), pc.less(t["order"], lo + self.chunk_orders)) for t in parts]
            self._run(*(t.filter(m) for t, m in zip(parts, mask)))
        self.seconds += time.perf_counter() - started

    def _run(self, pixel: pa.Table, capi: pa.Table, orders: pa.Table) -> None:
        counts = model.figure_counts(_rows(pixel), _rows(capi), _rows(orders), self.rules)
        self.counts = counts if self.counts is None else model.add_counts(self.counts, counts)

    def figures(self) -> list[dict]:
        """The `platforms` list as `dedupaudit check --format json` gives it (the keys the model defines)."""
        started = time.perf_counter()
        if self.held:
            self._run(*(pa.concat_tables(tables) for tables in zip(*self.held)))
            self.held = []
        self.seconds += time.perf_counter() - started
        return model.figures(self.counts or {"orders": 0, "entries": {}}, self.rules)
