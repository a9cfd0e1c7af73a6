"""seqtasks used as a library: one-line errors, quiet internals, safe concurrent first use."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow_datasets")

import seqtasks  # noqa: E402
from seqtasks.tf.builders import build_lock_path  # noqa: E402
from seqtasks.tf.pipelines import batch_count, load  # noqa: E402
from tfds_helpers import TINY_REBER  # noqa: E402

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
NOTICES = (  # what seqtasks' own internals made TensorFlow, tfds and Keras print (issue 28)
    "has no dataset_info.json",
    "Your input ran out of data",
    "did not fully read the dataset being cached",
    "dtype` is deprecated",
)


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


# -- Errors: one line naming the problem, the right type --


@pytest.mark.parametrize(
    "name, message",
    [
        ("reber_gramar/embedded", "invalid task name 'reber_gramar'; allowed: one of char_to_vector, random_labels, "
                                  "reber_grammar, sequence_reversal"),
        ("reber_grammar/embeded", "reber_grammar: invalid config name 'embeded'; allowed: one of embedded, reber, "
                                  "embedded_depth2"),
        ("reber_grammar/embedded:9.9.9", "reber_grammar: invalid version '9.9.9'; allowed: "
                                         f"{seqtasks.registry.task_class('reber_grammar').version} (the generator's version)"),
    ],
)
def test_a_typo_in_a_load_name_is_a_one_line_value_error(name, message, tmp_path):
    with pytest.raises(ValueError) as caught:
        load(name, "train", 32, data_dir=tmp_path)
    assert str(caught.value) == message  # one line, not tfds's list of every dataset it knows
    assert list(tmp_path.iterdir()) == []


def test_the_cardinality_of_a_loaded_split_is_its_number_of_batches(tmp_path):
    examples = TINY_REBER.preset.split_sizes["train"]  # 40 examples
    for batch_size, drop, expected in ((8, False, 5), (16, False, 3), (16, True, 2), (64, False, 1)):
        assert batch_count(examples, batch_size, drop) == expected  # by hand: 40/8, ceil(40/16), floor(40/16), 1
        dataset = load("reber_grammar", "train", batch_size, data_dir=tmp_path, builder_config=TINY_REBER,
                       drop_remainder=drop)
        assert int(dataset.cardinality()) == expected == sum(1 for _ in dataset)


def test_the_batch_count_of_each_input_pipeline(tmp_path):
    import tensorflow as tf

    # 40 examples over 3 pipelines: 14, 13 and 13 examples (i, i + 3, ...), in batches of 4: 4, 4, 4.
    counts = [batch_count(40, 4, False, tf.distribute.InputContext(3, i, 1)) for i in range(3)]
    assert counts == [4, 4, 4]
    assert [batch_count(40, 5, True, tf.distribute.InputContext(3, i, 1)) for i in range(3)] == [2, 2, 2]


def test_the_baselines_command_line_reports_an_unwritable_out_in_one_line(capsys):
    from baselines.__main__ import main as baselines_main

    code = baselines_main(["train", "--recipe", "reversal_stateless_lstm", "--steps", "1", "--units", "4",
                           "--eval-size", "32", "--verbose", "0", "--out", "/proc/nope"])
    captured = capsys.readouterr()
    assert code == 1 and captured.err == "error: /proc/nope: No such file or directory\n", captured.err
    assert not Path("/proc/nope").exists()


def test_the_recipe_listing_has_a_header_row_and_no_aliases(capsys):
    from baselines.__main__ import main as baselines_main
    from baselines.catalog import list_recipes

    assert baselines_main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["recipe", "task", "description"]
    assert [line.split()[0] for line in lines[1:]] == list_recipes()
    assert not any("alias" in line for line in lines)


# -- Noise: none of the four notices from building, loading and fitting each task --


@pytest.mark.slow
def test_building_loading_and_fitting_every_task_prints_none_of_the_internal_notices(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(TESTS / "quiet_library_use.py"), str(tmp_path)],
        env=_env(TF_CPP_MIN_LOG_LEVEL="0"), capture_output=True, text=True, timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert [line for line in completed.stdout.splitlines() if line.startswith("ok ")] == [
        f"ok {name}" for name in seqtasks.list_tasks()
    ]
    assert [notice for notice in NOTICES if notice in output] == [], output[-3000:]


# -- Concurrent first use: every process succeeds and reads the same bytes --


def _start(data_dir: Path, mode: str = "load", stderr: int | object = subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TESTS / "concurrent_load_worker.py"), str(data_dir), mode],
        env=_env(), stdout=subprocess.PIPE, stderr=stderr, text=True,
    )


def _digests(processes: list[subprocess.Popen]) -> list[str]:
    digests = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        digests.append(re.search(r"^digest ([0-9a-f]{64})$", out, re.MULTILINE)[1])
    return digests


def _version_dir(data_dir: Path) -> Path:
    return data_dir / "reber_grammar" / "embedded" / seqtasks.registry.task_class("reber_grammar").version


@pytest.mark.slow
def test_four_processes_prepare_one_fresh_data_dir_at_once(tmp_path):
    digests = _digests([_start(tmp_path) for _ in range(4)])
    assert len(set(digests)) == 1
    config_dir = _version_dir(tmp_path).parent
    assert (_version_dir(tmp_path) / "dataset_info.json").exists()
    assert not [path.name for path in config_dir.iterdir() if path.name.startswith("incomplete.")]
    # the bytes are those of a build made alone
    assert _digests([_start(tmp_path / "alone")]) == digests[:1]


@pytest.mark.slow
def test_a_killed_build_then_a_concurrent_pair(tmp_path):
    data = tmp_path / "data"
    with (tmp_path / "hung.err").open("w") as err:
        hung = _start(data, "hang", stderr=err)
    lines = iter(hung.stdout.readline, "")  # tfds prints to stdout too; the worker says "hanging" once written
    assert "hanging\n" in lines, (tmp_path / "hung.err").read_text()[-3000:]
    config_dir = _version_dir(data).parent
    leftovers = [path for path in config_dir.iterdir() if path.name.startswith("incomplete.")]
    assert len(leftovers) == 1 and any(leftovers[0].iterdir())  # its files, written, never renamed into place
    hung.send_signal(signal.SIGKILL)
    hung.wait(timeout=60)
    assert not _version_dir(data).exists()
    digests = _digests([_start(data), _start(data)])
    assert len(set(digests)) == 1
    assert not leftovers[0].exists()  # the dead build's folder is gone; the version is in place
    assert (_version_dir(data) / "dataset_info.json").exists()
    assert not [path.name for path in config_dir.iterdir() if path.name.startswith("incomplete.")]
    assert _digests([_start(tmp_path / "alone")]) == digests[:1]


def test_the_build_lock_sits_beside_the_version_folder(tmp_path):
    import tensorflow_datasets as tfds

    builder = tfds.builder("reber_grammar/embedded", data_dir=tmp_path)
    version = seqtasks.registry.task_class("reber_grammar").version
    assert build_lock_path(builder) == tmp_path / "reber_grammar" / "embedded" / f".{version}.lock"
    assert not builder.is_prepared()


def test_a_builder_constructed_before_another_process_built_reads_the_built_info(tmp_path):
    """A process that waited on the lock reuses the other's files and knows their splits."""
    import tensorflow_datasets as tfds

    early = tfds.builder("reber_grammar", data_dir=tmp_path, config=TINY_REBER)
    tfds.builder("reber_grammar", data_dir=tmp_path, config=TINY_REBER).download_and_prepare()  # "another process"
    assert not early.info.splits  # constructed before the build: it knows no split yet
    early.download_and_prepare()  # reuses the files
    assert {name: split.num_examples for name, split in early.info.splits.items()} == TINY_REBER.preset.split_sizes
    assert int(load("reber_grammar", "train", 8, data_dir=tmp_path, builder_config=TINY_REBER).cardinality()) == 5
