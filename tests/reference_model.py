"""The reference model now lives in the package (dedupaudit/generate/model.py), where `generate` uses it for truth.json."""

from dedupaudit.generate.model import *  # noqa: F401,F403
from dedupaudit.generate.model import link_counts, reference_report, reference_series  # noqa: F401
