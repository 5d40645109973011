"""dedupaudit: find broken pixel/CAPI deduplication and measure how inflated each ad platform's counts are.

    import dedupaudit
    result = dedupaudit.audit(pixel="pixel.csv", capi="capi.jsonl", orders="orders.csv")

`audit` and `Result` load pandas and DuckDB on first use, so the command line starts fast.
"""

from dedupaudit.errors import InputError

__version__ = "0.1.0"
__all__ = ["audit", "Result", "InputError", "__version__"]


def __getattr__(name: str):
    if name in ("audit", "Result"):
        from dedupaudit import api
        return getattr(api, name)
    raise AttributeError(f"module 'dedupaudit' has no attribute {name!r}")
