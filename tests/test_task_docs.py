"""docs/tasks/<task>.md are current: regenerating them from the code changes nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import seqtasks
from seqtasks import fingerprint as fingerprints

PAGES = Path(__file__).resolve().parents[1] / "docs" / "tasks"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_pages", PAGES / "generate_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("task_name", seqtasks.list_tasks())
def test_task_page_is_current_and_complete(task_name):
    page = (PAGES / f"{task_name}.md").read_text()
    assert page == _generator().render(task_name), "stale page: run python docs/tasks/generate_pages.py"
    for heading in ("## Definition", "## Fields", "## Splits and sizes", "## Metric to report", "## Fingerprints",
                    "## Citation"):
        assert heading in page
    for preset_name in seqtasks.list_presets(task_name):
        for digest in fingerprints.recorded()[f"{task_name}/{preset_name}"].values():
            assert digest in page
    assert seqtasks.get_preset(task_name)[0].citation in page
    assert f'tfds.load("{task_name}/' in page
