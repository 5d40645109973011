"""Golden files guard the JSON, Markdown, JUnit and SARIF views of the example shop (tool version masked).

After an intended change: UPDATE_GOLDEN=1 python -m pytest tests/test_reports_golden.py, then review the diff.
"""

from __future__ import annotations

import pytest

from dedupaudit.reports import RENDERERS, RenderOptions
from tests.report_helpers import assert_golden, example_result, mask

CASES = [("json", "example.json"), ("markdown", "example.md"), ("junit", "example.junit.xml"), ("sarif", "example.sarif")]


@pytest.mark.parametrize("fmt, golden", CASES, ids=[c[0] for c in CASES])
def test_example_shop_matches_golden(fmt, golden):
    result = example_result()
    text = RENDERERS[fmt](result, RenderOptions(title="Example shop", client="Northwind Outfitters"))
    assert_golden(golden, mask(text, result.tool["version"]))


def test_masking_hides_the_version_only():
    result = example_result()
    text = mask(RENDERERS["json"](result, RenderOptions()), result.tool["version"])
    assert '"version": "<version>"' in text and result.tool["version"] not in text
