"""Every output shown in the README and on the docs home page comes from running its example."""

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_page_examples_print_what_they_show(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    assert ">>> " in text
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page, str(ROOT / page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 5 and result.failed == 0
