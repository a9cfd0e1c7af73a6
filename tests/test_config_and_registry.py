"""Every invalid parameter raises ValueError naming the parameter, the value and the allowed range."""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import seqtasks


@pytest.mark.parametrize(
    "name, params, pattern",
    [
        ("sequence_reversal", {"vocab_size": 1}, r"invalid vocab_size=1; allowed: an integer in \[2, "),
        ("sequence_reversal", {"min_length": 0}, r"invalid min_length=0; allowed: an integer in \[1, "),
        ("sequence_reversal", {"min_length": 9, "max_length": 4}, r"invalid max_length=4; allowed: an integer in \[9, "),
        ("sequence_reversal", {"vocab_size": 2.5}, r"invalid vocab_size=2.5"),
        ("sequence_reversal", {"vocab_size": True}, r"invalid vocab_size=True"),
        ("sequence_reversal", {"max_length": 10, "long_max_length": 10}, r"invalid long_max_length=10; allowed: an integer in \[11, "),
        ("reber_grammar", {"variant": "nested"}, r"invalid variant='nested'; allowed: one of 'plain', 'embedded'"),
        ("reber_grammar", {"variant": "plain", "depth": 2}, r"invalid depth=2; allowed: None for variant='plain'"),
        ("reber_grammar", {"depth": 0}, r"invalid depth=0; allowed: an integer in \[1, 8\]"),
        ("reber_grammar", {"max_length": 8}, r"invalid max_length=8; allowed: an integer in \[9, "),
        ("reber_grammar", {"min_length": 30, "max_length": 20}, r"invalid max_length=20; allowed: an integer in \[30, "),
        ("random_labels", {"positive_fraction": 0.0}, r"invalid positive_fraction=0.0; allowed: a finite number in \(0, 1\)"),
        ("random_labels", {"positive_fraction": 1.0}, r"invalid positive_fraction=1.0"),
        ("random_labels", {"positive_fraction": float("nan")}, r"invalid positive_fraction=nan"),
        ("random_labels", {"time_steps": 0}, r"invalid time_steps=0"),
        ("random_labels", {"input_scale": 0.0}, r"invalid input_scale=0.0"),
        ("char_to_vector", {"compositional_weight": 1.5}, r"invalid compositional_weight=1.5; allowed: a finite number in \[0, 1\]"),
        ("char_to_vector", {"ngram_min": 4, "ngram_max": 3}, r"invalid ngram_max=3"),
        ("char_to_vector", {"dim": 1}, r"invalid dim=1"),
    ],
)
def test_bad_parameters_raise(name, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        seqtasks.make(name, **params)


def test_unknown_names_and_keys():
    with pytest.raises(ValueError, match=r"invalid task name 'reber'; allowed: one of char_to_vector"):
        seqtasks.make("reber")
    with pytest.raises(ValueError, match=r"invalid config name 'huge'; allowed: one of len5_vocab10"):
        seqtasks.make("sequence_reversal/huge")
    with pytest.raises(ValueError, match=r"unknown parameter 'vocab'; allowed: vocab_size"):
        seqtasks.make("sequence_reversal", vocab=3)


def test_bad_requests():
    task = seqtasks.make("sequence_reversal")
    with pytest.raises(ValueError, match=r"invalid split='test_long'; allowed: one of train, validation, test"):
        task.sample(3, split="test_long")
    with pytest.raises(ValueError, match=r"invalid seed=-1"):
        task.sample(3, seed=-1)
    with pytest.raises(ValueError, match=r"invalid n=-2"):
        task.sample(-2)


def test_configs_are_frozen_and_revalidated():
    task = seqtasks.make("sequence_reversal")
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.config.vocab_size = 3
    with pytest.raises(ValueError, match="vocab_size=0"):
        task.config.replace(vocab_size=0)


def test_registry_lists_tasks_and_presets():
    assert seqtasks.list_tasks() == ["char_to_vector", "random_labels", "reber_grammar", "sequence_reversal"]
    assert seqtasks.list_presets("reber_grammar")[0] == "embedded"
    assert seqtasks.make("reber_grammar/reber").config.variant == "plain"
    assert seqtasks.make("reber_grammar", max_length=30).config.max_length == 30


# The subpackages that may import TensorFlow and Keras; every other module of seqtasks is the numpy core.
TF_FOLDERS = ("tf", "stability")  # seqtasks/tf/ (the TensorFlow layer), seqtasks/stability/ (the stability kit)


def seqtasks_modules() -> dict[str, Path]:
    """Every module of seqtasks and its file, found on disk (importing packages to walk them could import TensorFlow)."""
    root = Path(seqtasks.__file__).resolve().parent
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def numpy_core_modules() -> list[str]:
    """The numpy core: every module of seqtasks outside ``seqtasks/tf/`` and ``seqtasks/stability/``."""
    return [
        name for name, path in seqtasks_modules().items()
        if name != "seqtasks.__main__"
        and path.relative_to(Path(seqtasks.__file__).resolve().parent).parts[0] not in TF_FOLDERS
    ]


def test_the_numpy_core_imports_and_runs_without_tensorflow():
    """The import rule of docs/architecture.md: no numpy core module imports TensorFlow, Keras or tfds."""
    modules = numpy_core_modules()
    assert {"seqtasks.registry", "seqtasks.draws", "seqtasks.testing", "seqtasks.tasks.base"} <= set(modules)
    assert {"seqtasks.tf.builders", "seqtasks.tf.pipelines", "seqtasks.tf.build_cli"} <= set(seqtasks_modules()) - set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import seqtasks\n"
        "from seqtasks.testing import check_task, make_test_task\n"
        "[seqtasks.make(t).sample(2) for t in seqtasks.list_tasks()]\n"
        "[check_task(make_test_task(t)) for t in seqtasks.list_tasks()]\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tensorflow_datasets', 'baselines'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_nothing_in_seqtasks_imports_baselines():
    """The import rule of docs/architecture.md: no module under seqtasks (TensorFlow layer and stability
    kit included) imports ``baselines``, at the top or inside a function."""
    offenders = []
    for name, path in seqtasks_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                targets = [node.module or ""]
            else:
                continue
            offenders += [f"{name}:{node.lineno} {target}" for target in targets if target.split(".")[0] == "baselines"]
    assert offenders == []
