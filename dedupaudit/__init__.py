"""dedupaudit: find broken pixel/CAPI deduplication and measure how inflated each ad platform's counts are."""

__version__ = "0.1.0"
