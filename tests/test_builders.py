"""tfds builders: registration, info, builds through tfds.load, interruption, determinism, Beam."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

import seqtasks
from seqtasks.fingerprint import fingerprint
from seqtasks.testing import builder_test_case
from seqtasks.tf import builders
from tfds_helpers import TINY_CHAR_TO_VECTOR, TINY_RANDOM_LABELS, TINY_REBER, TINY_REVERSAL, file_digests

# tfds's own builder tests, at each task's test preset. Short lengths (fewer than 1,024 distinct
# sequences) are shared by every split by design, so those splits are OVERLAPPING_SPLITS; held-out
# lengths are checked for disjointness in the tests below.
ReberGrammarBuilderTest = builder_test_case("reber_grammar")
SequenceReversalBuilderTest = builder_test_case("sequence_reversal")
CharToVectorBuilderTest = builder_test_case("char_to_vector")
RandomLabelsBuilderTest = builder_test_case("random_labels")


def test_builder_test_cases_keep_their_settings():
    assert ReberGrammarBuilderTest.OVERLAPPING_SPLITS == SequenceReversalBuilderTest.OVERLAPPING_SPLITS == [
        "train", "validation", "test"]
    assert CharToVectorBuilderTest.OVERLAPPING_SPLITS == RandomLabelsBuilderTest.OVERLAPPING_SPLITS == []
    assert ReberGrammarBuilderTest.SPLITS == {"train": 40, "validation": 10, "test": 10, "test_long": 10}
    assert RandomLabelsBuilderTest.SPLITS == {"train": 64, "validation": 32, "test": 32}
    task = CharToVectorBuilderTest.DATASET_CLASS(config=TINY_CHAR_TO_VECTOR).task
    assert CharToVectorBuilderTest.SPLITS == {split: task.natural_size(split) for split in task.splits}


# The public contract: builder names, config names and feature names.
CONTRACT = {
    "reber_grammar": ({"reber", "embedded"}, "embedded", {"text", "tokens", "next_symbols"}),
    "sequence_reversal": ({"len5_vocab10", "len1to40_vocab2"}, "len5_vocab10", {"inputs", "targets"}),
    "char_to_vector": ({"synthetic_d100"}, "synthetic_d100", {"word", "chars", "vector"}),
    "random_labels": ({"t672_f16", "t48_f16"}, "t672_f16", {"inputs", "label"}),
}


def test_every_task_has_a_builder_with_a_config_per_preset():
    assert set(builders.BUILDERS) == set(seqtasks.list_tasks())
    registered = set(tfds.list_builders(with_community_datasets=False))
    for task_name, builder_cls in builders.BUILDERS.items():
        assert task_name in registered
        assert [c.name for c in builder_cls.BUILDER_CONFIGS] == seqtasks.list_presets(task_name)


@pytest.mark.parametrize("task_name", sorted(CONTRACT))
def test_builder_info_matches_the_contract(task_name, tmp_path):
    configs, default, fields = CONTRACT[task_name]
    builder = tfds.builder(task_name, data_dir=tmp_path)
    task_cls, _ = seqtasks.get_preset(task_name)
    assert builder.builder_config.name == default
    assert configs <= set(builder.builder_configs)
    info = builder.info
    assert fields <= set(info.features.keys())
    assert str(info.version) == task_cls.version and str(builder.VERSION) in builder.RELEASE_NOTES
    assert info.description == task_cls.description and info.description
    assert info.citation == task_cls.citation and "@" in info.citation
    inputs, targets = info.supervised_keys
    assert {inputs, targets} <= set(info.features.keys()) and inputs != targets
    assert not builder.is_prepared()


def test_reber_supervised_keys_are_tokens_to_legal_set(tmp_path):
    assert tfds.builder("reber_grammar", data_dir=tmp_path).info.supervised_keys == ("tokens", "next_symbols")


def _as_numpy_list(dataset) -> list[dict]:
    return list(tfds.as_numpy(dataset))


@pytest.fixture(scope="module")
def embedded_reber(tmp_path_factory):
    """The published reber_grammar/embedded, loaded through tfds.load from a fresh data_dir."""
    data_dir = tmp_path_factory.mktemp("tfds_reber")
    splits = ["train", "validation", "test", "test_long"]
    datasets, info = tfds.load("reber_grammar/embedded", split=splits, data_dir=data_dir, with_info=True)
    return dict(zip(splits, (_as_numpy_list(ds) for ds in datasets))), info, data_dir


def test_tfds_load_reber_embedded_sizes_fields_and_canonical_order(embedded_reber):
    splits, info, _ = embedded_reber
    task = seqtasks.make("reber_grammar/embedded")
    _, preset = seqtasks.get_preset("reber_grammar/embedded")
    for split, examples in splits.items():
        assert len(examples) == preset.split_sizes[split] == info.splits[split].num_examples
        expected = task.examples(task.generate(split, 0, len(examples), seed=0))
        for got, want in zip(examples, expected):
            assert got["text"].decode() == want["text"]
            np.testing.assert_array_equal(got["tokens"], want["tokens"])
            np.testing.assert_array_equal(got["next_symbols"], want["next_symbols"])
            assert got["tokens"].dtype == np.int32 and got["next_symbols"].shape == (len(want["text"]), 7)


def test_tfds_load_reber_splits_disjoint_and_test_long_longer(embedded_reber):
    """Strings of held-out lengths never occur in two splits (shared lengths may: see the task page)."""
    splits, _, _ = embedded_reber
    task = seqtasks.make("reber_grammar/embedded")
    held = {
        split: {int(L) for L, h in zip(task.length_strata(split).lengths, task.length_strata(split).held_out) if h}
        for split in splits
    }
    strings = {
        split: {ex["text"] for ex in examples if split == "test_long" or len(ex["text"]) in held[split]}
        for split, examples in splits.items()
    }
    assert strings["test"] and strings["validation"]
    names = sorted(strings)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not strings[a] & strings[b], (a, b)
    longest_train = max(len(ex["text"]) for ex in splits["train"])
    assert min(len(ex["text"]) for ex in splits["test_long"]) > longest_train


def test_tfds_load_as_supervised_feeds_keras(embedded_reber):
    _, _, data_dir = embedded_reber
    dataset = tfds.load("reber_grammar/embedded", split="test", as_supervised=True, data_dir=data_dir)
    tokens, legal = next(iter(tfds.as_numpy(dataset)))
    assert tokens.ndim == 1 and legal.shape == (len(tokens), 7)
    assert legal[0, 1] == 1 and legal[0, 4] == 1  # after B, T or P


def test_build_matches_recorded_fingerprint(embedded_reber):
    """The prepared data is the published data: the first 256 test examples give the generator's fingerprint."""
    splits, _, _ = embedded_reber
    task = seqtasks.make("reber_grammar/embedded")
    generated = task.generate("test", 0, 256, seed=0)
    examples = splits["test"]
    width = max(len(ex["tokens"]) for ex in examples)
    tokens = np.zeros((len(examples), width), np.int32)
    symbols = np.zeros((len(examples), width, 7), np.uint8)
    for i, ex in enumerate(examples):
        tokens[i, : len(ex["tokens"])], symbols[i, : len(ex["tokens"])] = ex["tokens"], ex["next_symbols"]
    rebuilt = {
        "tokens": tokens,
        "next_symbols": symbols,
        "length": np.array([ex["length"] for ex in examples], np.int32),
        "text": np.array([ex["text"].decode() for ex in examples]),
    }
    assert fingerprint(task, rebuilt) == fingerprint(task, generated)


@pytest.mark.parametrize(
    "builder_config, task_name",
    [(TINY_REVERSAL, "sequence_reversal"), (TINY_CHAR_TO_VECTOR, "char_to_vector")],
    ids=["sequence_reversal", "char_to_vector"],
)
def test_tfds_load_variable_length_splits(builder_config, task_name, tmp_path):
    task = builders.BUILDERS[task_name](config=builder_config, data_dir=tmp_path).task
    field = task.sequence_fields[0]
    splits = {}
    for split in task.splits:
        dataset = tfds.load(task_name, split=split, data_dir=tmp_path, builder_kwargs={"config": builder_config})
        splits[split] = _as_numpy_list(dataset)
    assert set(splits) == {"train", "validation", "test", "test_long"}
    expected_sizes = {s: builder_config.preset.split_sizes[s] or task.natural_size(s) for s in splits}
    assert {s: len(v) for s, v in splits.items()} == expected_sizes
    strata = {s: task.length_strata(s) for s in splits} if task.length_strata("train") else None

    def held_out(split: str, example) -> bool:  # char_to_vector has no shared lengths: every word is held out
        if strata is None:
            return True
        return split == "test_long" or bool(strata[split].held_out[list(strata[split].lengths).index(len(example[field]))])

    contents = {s: {tuple(ex[field].tolist()) for ex in v if held_out(s, ex)} for s, v in splits.items()}
    assert all(contents.values())
    for a in contents:
        for b in contents:
            if a < b:
                assert not contents[a] & contents[b], (a, b)
    train_lengths = [len(ex[field]) for ex in splits["train"]]
    assert min(len(ex[field]) for ex in splits["test_long"]) > max(train_lengths)
    if task_name == "char_to_vector":
        vectors = np.stack([ex["vector"] for ex in splits["test"]])
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    else:
        for ex in splits["test_long"]:
            np.testing.assert_array_equal(ex["targets"], ex["inputs"][::-1])


def test_interrupted_build_is_never_seen_as_complete(tmp_path, monkeypatch):
    original = builders.serialized_examples_in_range

    def failing_on_test_split(example_range, task_cls, config, split, specs):
        if split == "test":
            raise KeyboardInterrupt("simulated interruption")
        return original(example_range, task_cls, config, split, specs)

    monkeypatch.setattr(builders, "serialized_examples_in_range", failing_on_test_split)
    builder = tfds.builder("sequence_reversal", config=TINY_REVERSAL, data_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        builder.download_and_prepare()
    # Only tfds's incomplete.* folder (or nothing) is left beside the build lock; no version folder.
    lock = builders.build_lock_path(builder).name
    leftovers = [p.name for p in (tmp_path / "sequence_reversal" / TINY_REVERSAL.name).iterdir() if p.name != lock]
    assert str(TINY_REVERSAL.version) not in leftovers and all(name.startswith("incomplete") for name in leftovers)
    fresh = tfds.builder("sequence_reversal", config=TINY_REVERSAL, data_dir=tmp_path)
    assert not fresh.is_prepared()
    with pytest.raises(AssertionError, match="not found|prepare"):
        tfds.load("sequence_reversal", split="train", data_dir=tmp_path, download=False,
                  builder_kwargs={"config": TINY_REVERSAL})
    monkeypatch.setattr(builders, "serialized_examples_in_range", original)
    fresh.download_and_prepare()
    assert fresh.is_prepared() and fresh.info.splits["test"].num_examples == TINY_REVERSAL.preset.split_sizes["test"]


@pytest.mark.slow
def test_two_builds_in_two_processes_give_identical_files(tmp_path):
    """Byte-identical files, even across processes (tfds alone orders each Example's feature map per process)."""
    tfds.builder("reber_grammar", config=TINY_REBER, data_dir=tmp_path / "a").download_and_prepare()
    tests_dir = Path(__file__).resolve().parent
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "import tensorflow_datasets as tfds, seqtasks\n"
        "from tfds_helpers import TINY_REBER\n"
        "tfds.builder('reber_grammar', config=TINY_REBER, data_dir=sys.argv[3]).download_and_prepare()\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tests_dir.parent), str(tests_dir), str(tmp_path / "b")],
        check=True, capture_output=True, text=True,
    )
    version_dir = Path("reber_grammar") / TINY_REBER.name / str(TINY_REBER.version)
    first, second = file_digests(tmp_path / "a" / version_dir), file_digests(tmp_path / "b" / version_dir)
    assert sum(".tfrecord-" in name for name in first) == 4
    # All of it, dataset_info.json included: tfds 4.9.10 writes no timestamps or paths into
    # the version folder, and the examples are written in index order (shuffling disabled).
    assert first == second


@pytest.mark.beam
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("apache_beam") is None, reason="needs apache-beam (the beam extra)")
@pytest.mark.parametrize(
    "runner_flags",
    [[], ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]],
    ids=["in_process", "two_worker_processes"],
)
def test_beam_direct_runner_build_equals_plain_build(tmp_path, runner_flags):
    """Beam's DirectRunner, in process or with two worker processes, writes the plain build's record files."""
    from apache_beam.options.pipeline_options import PipelineOptions

    plain = tfds.builder("reber_grammar", config=TINY_REBER, data_dir=tmp_path / "plain")
    plain.download_and_prepare()
    beam = tfds.builder("reber_grammar", config=TINY_REBER, data_dir=tmp_path / "beam")
    options = PipelineOptions(["--runner=DirectRunner", *runner_flags])
    beam.download_and_prepare(download_config=tfds.download.DownloadConfig(beam_options=options))
    assert beam._beam_requested and not plain._beam_requested  # the Beam path really ran
    for split in plain.info.splits:
        plain_examples = _as_numpy_list(plain.as_dataset(split=split))
        beam_examples = _as_numpy_list(beam.as_dataset(split=split))
        assert len(plain_examples) == len(beam_examples) == TINY_REBER.preset.split_sizes[split]
        for a, b in zip(plain_examples, beam_examples):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
    version_dir = Path("reber_grammar") / TINY_REBER.name / str(TINY_REBER.version)
    plain_files = file_digests(tmp_path / "plain" / version_dir)
    beam_files = file_digests(tmp_path / "beam" / version_dir)
    shards = {name for name in plain_files if ".tfrecord-" in name}
    assert shards and {name: plain_files[name] for name in shards} == {name: beam_files[name] for name in shards}


@pytest.mark.parametrize(
    "builder_config, task_name",
    [(TINY_REBER, "reber_grammar"), (TINY_REVERSAL, "sequence_reversal"), (TINY_CHAR_TO_VECTOR, "char_to_vector"),
     (TINY_RANDOM_LABELS, "random_labels")],
    ids=["reber_grammar", "sequence_reversal", "char_to_vector", "random_labels"],
)
def test_build_from_arrays_writes_the_files_of_tfds_encoding(builder_config, task_name, tmp_path, monkeypatch):
    """The plain build (records serialized from the arrays) writes the files of tfds's per-example path."""
    from_arrays = tfds.builder(task_name, config=builder_config, data_dir=tmp_path / "arrays")
    from_arrays.download_and_prepare()
    monkeypatch.setattr(builders, "WRITE_FROM_ARRAYS", False)  # tfds's feature encoding, as Beam builds do
    through_tfds = tfds.builder(task_name, config=builder_config, data_dir=tmp_path / "tfds")
    through_tfds.download_and_prepare()
    arrays_files, tfds_files = file_digests(Path(from_arrays.data_dir)), file_digests(Path(through_tfds.data_dir))
    assert any(".tfrecord-" in name for name in arrays_files)
    assert arrays_files == tfds_files  # records, shard lengths and split sizes (dataset_info.json)


@pytest.mark.slow
def test_rerun_after_a_killed_build_removes_its_incomplete_folder(tmp_path):
    """A build killed mid-way leaves tfds's incomplete.* folder; the successful rerun removes it."""
    tests_dir = Path(__file__).resolve().parent
    code = (
        "import os, signal, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "import tensorflow_datasets as tfds, seqtasks\n"
        "from seqtasks.tf import builders\n"
        "from tfds_helpers import TINY_REVERSAL\n"
        "original = builders.serialized_examples_in_range\n"
        "def killed_on_test(example_range, task_cls, config, split, specs):\n"
        "    if split == 'test':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return original(example_range, task_cls, config, split, specs)\n"
        "builders.serialized_examples_in_range = killed_on_test\n"
        "tfds.builder('sequence_reversal', config=TINY_REVERSAL, data_dir=sys.argv[3]).download_and_prepare()\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code, str(tests_dir.parent), str(tests_dir), str(tmp_path)], capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    config_dir = tmp_path / "sequence_reversal" / TINY_REVERSAL.name
    assert [p.name for p in config_dir.iterdir() if p.name.startswith("incomplete.")]  # what a killed build leaves
    builder = tfds.builder("sequence_reversal", config=TINY_REVERSAL, data_dir=tmp_path)
    builder.download_and_prepare()
    assert builder.is_prepared()
    # the version folder, and the build lock (kept: removing a lock file another process may be waiting on is unsafe)
    assert sorted(p.name for p in config_dir.iterdir()) == sorted([Path(builder.data_dir).name,
                                                                   builders.build_lock_path(builder).name])
