import math

import numpy as np
import pytest

import seqtasks


def test_exact_positive_count_per_block():
    task = seqtasks.make("random_labels/t48_f16")
    labels = task.sample(32 * 40, seed=5)["label"].reshape(40, 32)
    assert (labels.sum(axis=1) == 5).all()
    # Positives move around within the block.
    assert len({tuple(np.flatnonzero(row)) for row in labels}) > 30


def test_inputs_are_gaussian_with_scale_and_offset():
    task = seqtasks.make("random_labels/t48_f16", input_scale=3.0, input_offset=100.0)
    x = task.sample(256)["inputs"].astype(np.float64)
    assert x.shape == (256, 48, 16) and x.dtype == np.float64
    assert abs(x.mean() - 100.0) < 0.05 and abs(x.std() - 3.0) < 0.05
    z = (x - 100.0) / 3.0
    assert abs((z > 1.0).mean() - 0.158655) < 0.005 and abs((z > 2.0).mean() - 0.02275) < 0.002


def test_labels_carry_no_signal():
    task = seqtasks.make("random_labels/t48_f16")
    batch = task.sample(3200)
    means = batch["inputs"].mean(axis=(1, 2))
    corr = np.corrcoef(means, batch["label"])[0, 1]
    assert abs(corr) < 0.06  # 3200 samples: std ~0.018


def test_floor_is_label_entropy():
    """The population floor is H(p); a batch's own floor is the entropy of its own labels."""
    task = seqtasks.make("random_labels", positive_fraction=0.25, label_block=8)
    assert task.label_entropy() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert task.loss_floor({"label": np.array([1, 0, 0, 0])}) == pytest.approx(task.label_entropy())
    assert task.loss_floor({"label": np.array([1, 0, 0, 0, 0])}) == pytest.approx(-(0.2 * math.log(0.2) + 0.8 * math.log(0.8)))


def test_fraction_must_give_whole_counts():
    with pytest.raises(ValueError, match="positive_fraction=0.2"):
        seqtasks.make("random_labels", positive_fraction=0.2, label_block=32)


def test_summary_describes_the_batch_it_is_given():
    task = seqtasks.make("random_labels/t48_f16")
    ones = {"label": np.ones(70, dtype=np.int32)}
    assert task.summary(ones) == "positives 70 of 70 (exactly 5 per block of 32); positives per block of 32: [32, 32]"
    assert task.summary({"label": np.zeros(3, dtype=np.int32)}) == "positives 0 of 3 (exactly 5 per block of 32)"
    for split, seed in (("train", 0), ("test", 3), ("validation", 11)):
        labels = task.sample(20, seed=seed, split=split)["label"]
        assert task.summary(task.sample(20, seed=seed, split=split)).startswith(f"positives {labels.sum()} of 20 ")


def test_seqtasks_show_counts_positives_of_the_split_and_seed_asked_for(capsys):
    from seqtasks.cli import main

    counts = set()
    for split, seed in (("train", 0), ("test", 3), ("validation", 7), ("test", 12)):
        assert main(["show", "random_labels/t48_f16", "--split", split, "--seed", str(seed), "-n", "20"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        expected = int(seqtasks.make("random_labels/t48_f16").sample(20, seed=seed, split=split)["label"].sum())
        assert f"positives {expected} of 20" in out
        counts.add(expected)
    assert len(counts) > 1  # the count does depend on split and seed


def test_memory_of_a_block_is_bounded_at_construction():
    with pytest.raises(ValueError, match=r"invalid time_steps=100000, features=100000, label_block=32: .* 7.02 TiB"):
        seqtasks.make("random_labels", time_steps=100_000, features=100_000)
    with pytest.raises(ValueError, match=r"label_block=1000000: one block of 1000000 examples needs about 240 GiB"):
        seqtasks.make("random_labels", label_block=1_000_000, positive_fraction=0.5)


@pytest.mark.parametrize("kwargs", [{}, {"input_scale": 64.0, "input_offset": 128.0}], ids=["normalised", "unnormalised"])
def test_peak_memory_of_a_block_is_within_the_estimate(kwargs):
    import tracemalloc

    task = seqtasks.make("random_labels", time_steps=672, features=16, **kwargs)
    task.generate("train", 0, 32)  # tables and caches outside the measurement
    tracemalloc.start()
    try:
        task.generate("train", 0, 64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= task.estimate_bytes("train", 64)


def test_version_2_inputs_are_float32_ziggurat_normals():
    """2.0.0: the inputs of the default config are the float32 ziggurat normals themselves (never 0)."""
    task = seqtasks.make("random_labels/t48_f16")
    assert task.version == "2.1.0" and {"2.1.0", "2.0.0", "1.0.0"} <= set(task.release_notes)
    x = task.sample(64)["inputs"]
    assert x.dtype == np.float32 and not (x == 0).any()
    assert len(np.unique(x)) > 0.999 * x.size  # 23 random bits besides the sign and the layer: few repeats


def test_tfds_stores_the_inputs_as_raw_bytes():
    tfds = pytest.importorskip("tensorflow_datasets")
    from seqtasks.tf.builders import features_for

    task = seqtasks.make("random_labels/t48_f16")
    features = features_for(task)
    assert features["inputs"].to_json_content().encoding == "bytes"
    assert features["inputs"].shape == (48, 16) and features["inputs"].np_dtype == np.float32
    assert features.get_serialized_info()["inputs"].shape == ()  # one string per example
    assert features["label"].to_json_content().encoding in ("none", "")
    assert isinstance(features["label"], tfds.features.Tensor)


def test_load_joins_pieces_of_a_batch_of_large_records(tmp_path, monkeypatch):
    """Batches of large fixed-size records are parsed in pieces and joined: still the numpy reference."""
    tfds = pytest.importorskip("tensorflow_datasets")
    from seqtasks.encoding import to_supervised
    from seqtasks.registry import task_class
    from seqtasks.tf import pipelines
    from seqtasks.tf.builders import builder_config_for

    config = builder_config_for(task_class("random_labels").test_preset, task_class("random_labels").version)
    monkeypatch.setattr(pipelines, "LOAD_BYTES_PER_CHUNK", 3 * (6 * 3 * 4 + 8))  # three records per piece
    task = task_class("random_labels")(config.preset.config)
    builder = tfds.builder("random_labels", config=config, data_dir=tmp_path)
    assert [pipelines.records_per_parse(builder, ("inputs", "label"), b) for b in (7, 2)] == [3, 2]  # pieces; one batch
    for batch_size in (7, 2):
        dataset = pipelines.load("random_labels", "validation", batch_size, data_dir=tmp_path, builder_config=config,
                               cache=False)
        batches = list(dataset)
        size = config.preset.split_sizes["validation"]
        assert len(batches) == -(-size // batch_size)
        for index, got in enumerate(batches):
            want = to_supervised(task, task.generate("validation", index * batch_size,
                                                     min((index + 1) * batch_size, size)))
            for got_array, want_array in zip(got, want):
                assert got_array.numpy().dtype == want_array.dtype
                np.testing.assert_array_equal(got_array.numpy(), want_array)


@pytest.mark.parametrize("preset", ["t672_f16", "t48_f16", "t48_f16_unnormalised"])
def test_version_2_1_test_splits_are_large_enough_to_tell_chance_auc_from_leakage(preset):
    """2.1.0: 3,200 test examples = 100 blocks of 5 positives in 32, so the Mann-Whitney null std is
    sqrt((n + 1) / (12 n0 n1)) = 0.014 and 0.5 +- 0.05 is more than three of them."""
    task = seqtasks.make(f"random_labels/{preset}")
    assert task.published_size("test") == 3_200
    positives, negatives = 100 * 5, 100 * 27
    expected = ((positives + negatives + 1) / (12 * positives * negatives)) ** 0.5
    assert task.null_auc_spread("test") == pytest.approx(expected, rel=1e-12)
    assert 0.05 > 3.5 * expected
