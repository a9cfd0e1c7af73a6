"""The fast array kernels equal the plain formulations they replace, and the data did not change.

The digests below were computed with both the block-at-a-time generators of
0.1.0 and the current ones (compact blocks expanded once, integer thresholds,
chunked draws): they cover ranges that cross block boundaries and narrow
configurations that need several rounds of candidates, which the recorded
fingerprints (the first 512 examples) do not reach.
"""

import numpy as np
import pytest

import seqtasks
from seqtasks import _random, fingerprint
from seqtasks._arrays import allocate_fields, length_mask
from seqtasks.tasks import reber_grammar
from seqtasks.tasks.base import fill_by_rejection
from seqtasks.tasks.reber_grammar import ReberConfig, ReberGrammar
from seqtasks.tasks.sequence_reversal import ReversalConfig, SequenceReversal, reverse_padded

CROSS_BLOCK_DIGESTS = {
    ("reber_grammar/embedded", "train"): "9f060aa6ac5423ab496785ed77509f020e92e6f6ac247929687b73c6c8cafdc4",
    ("reber_grammar/embedded_depth2", "train"): "73dd7014cf7c00ca2cf5f525f2e9b806915987030ae1f3f61a2bd9c154b577a1",
    ("sequence_reversal/len5_vocab10", "train"): "2dee74cf2a8ea3af86d53fd3872365b47f879d3d5734456f59cfde4d90d3827d",
    ("sequence_reversal/len1to40_vocab2", "test_long"): "8910bd4c76b04de0cf31f68fdda26e248e7168a729e52794d9e483a11c28c77c",
}


@pytest.mark.parametrize(("name", "split"), sorted(CROSS_BLOCK_DIGESTS))
def test_ranges_across_block_boundaries_are_unchanged(name, split):
    task = seqtasks.make(name)
    size = task.block_size
    batch = task.generate(split, size - 100, 2 * size + 100, seed=5)
    assert fingerprint.fingerprint(task, batch) == CROSS_BLOCK_DIGESTS[(name, split)]


@pytest.mark.parametrize(
    ("task", "dropped", "digest"),
    [
        (
            ReberGrammar(ReberConfig(variant="plain", min_length=8, max_length=9, long_max_length=None)),
            47481,
            "c94c218519b067049113986a39b9ca2045156b3ce5fcf4ec9cda443d136b13cd",
        ),
        (
            SequenceReversal(ReversalConfig(vocab_size=2, min_length=3, max_length=4)),
            501225,
            "a210d9e1fcacacbd92642818dbb6688eddff2884307a7c49367110e8dc7ae036",
        ),
    ],
    ids=["reber_plain_8_9", "reversal_vocab2_3_4"],
)
def test_several_rounds_of_candidates_are_unchanged(task, dropped, digest):
    """A tiny sequence space: the validation share needs many rounds (and drops) per block."""
    batch = task.generate("validation", 0, 300, seed=1)
    assert batch.dropped == dropped
    assert fingerprint.fingerprint(task, batch) == digest


@pytest.mark.parametrize("width", [1, 7, 40, 1025])
def test_length_mask_matches_comparison(width):
    lengths = np.random.default_rng(width).integers(0, width + 1, 500)
    expected = np.arange(width)[None, :] < lengths[:, None]
    np.testing.assert_array_equal(length_mask(lengths, width), expected)


def test_allocate_fields_gives_separate_aligned_arrays():
    fields = allocate_fields({"a": ((3, 5), np.int32), "b": ((3, 5, 7), np.uint8), "c": ((4,), np.float64)})
    for name, value in fields.items():
        assert value.flags.c_contiguous and value.flags.writeable, name
        assert value.ctypes.data % 64 == 0, name
    fields["a"][...] = -1
    fields["b"][...] = 7
    fields["c"][...] = 0.5
    assert (fields["a"] == -1).all() and (fields["b"] == 7).all() and (fields["c"] == 0.5).all()


@pytest.mark.parametrize("high", [2, 8, 10, 300, 70_000, 2**31, 2**32 - 1])
def test_below_equals_integers(high):
    count = 3 * _random._DRAW_CHUNK + 17  # crosses chunk boundaries
    expected = _random.Draws(np.random.PCG64(high)).integers(0, high, count)
    dtype = np.min_scalar_type(high - 1)
    got = _random.Draws(np.random.PCG64(high)).below(high, count, dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_integers_with_offsets_and_bounds_per_element():
    draws_a, draws_b = _random.Draws(np.random.PCG64(3)), _random.Draws(np.random.PCG64(3))
    low, high = np.arange(1000) - 500, np.arange(1000) + 2
    got = draws_a.integers(low, high, 1000)
    bits = draws_b.raw(1000)
    expected = low + (((bits >> np.uint64(32)) * (high - low).astype(np.uint64)) >> np.uint64(32)).astype(np.int64)
    np.testing.assert_array_equal(got, expected)
    assert ((got >= low) & (got < high)).all()


def test_hash_variants_equal_hash_rows():
    rng = np.random.default_rng(0)
    n, width = 3000, 2 * (1 << 16) // 3000 + 5  # row chunks of the matrix product are crossed
    lengths = rng.integers(0, width + 1, n)
    tokens = rng.integers(0, 9, (n, width)) * length_mask(lengths, width)
    expected = _random.hash_rows(tokens, lengths)
    np.testing.assert_array_equal(_random.hash_zero_padded(tokens.astype(np.uint8), lengths), expected)
    shifted = (tokens + 1) * length_mask(lengths, width)
    np.testing.assert_array_equal(_random.hash_shifted(shifted, lengths), expected)
    np.testing.assert_array_equal(_random.hash_shifted(np.ascontiguousarray(shifted.T), lengths, time_major=True), expected)
    # hash_rows masks what lies beyond each length itself, and hashes from a start column.
    noisy = np.where(length_mask(lengths, width), tokens, 5)
    np.testing.assert_array_equal(_random.hash_rows(noisy, lengths), expected)
    np.testing.assert_array_equal(_random.hash_rows(np.hstack([noisy[:, :2], noisy]), lengths, start=2), expected)


def test_uniform_thresholds_decide_like_float_comparison():
    probabilities = np.array([0.0, 1e-300, 2.0**-53, 0.25, 0.5 + 2.0**-53, 1 / 3, 1.0 - 2.0**-53, 1.0, 1.0 + 1e-12])
    thresholds = _random.uniform_thresholds(probabilities)
    k = np.concatenate([np.arange(4), 2**51 + np.arange(-2, 3), 2**52 + np.arange(-2, 3), 2**53 - np.arange(1, 4)])
    k = np.unique(np.concatenate([k, np.random.default_rng(1).integers(0, 2**53, 1000)])).astype(np.uint64)
    uniforms = k.astype(np.float64) / 2.0**53
    for p, threshold in zip(probabilities, thresholds):
        np.testing.assert_array_equal(k >= threshold, uniforms >= p)


def test_fill_by_rejection_draws_chunks_lazily():
    drawn = []

    def candidates(n):
        for start in range(0, n, 10):
            drawn.append(start)
            yield {"x": np.arange(start, min(start + 10, n))}

    keep = lambda chunk: chunk["x"] % 3 == 0  # noqa: E731
    chunked, rejected = fill_by_rejection(candidates, keep, 8, "demo", "validation")
    whole, rejected_whole = fill_by_rejection(lambda n: {"x": np.arange(n)}, keep, 8, "demo", "validation")
    np.testing.assert_array_equal(chunked["x"], np.arange(0, 24, 3))
    np.testing.assert_array_equal(whole["x"], chunked["x"])
    assert rejected == rejected_whole == 14  # candidates 0..21 consumed, 8 kept
    assert drawn == [0, 10, 20]  # 100 candidates per round; the other chunks were never drawn


@pytest.mark.parametrize("shape", [(5, 6), (5, 7), (1, 1), (0, 4)])
def test_legal_sets_by_pairs_equal_one_lookup(shape):
    keys = np.random.default_rng(2).integers(0, len(reber_grammar._LEGAL_BY_KEY), shape).astype(np.int8)
    out = np.full(shape + (7,), 99, dtype=np.uint8)
    reber_grammar._write_legal_sets(keys, out)
    np.testing.assert_array_equal(out, reber_grammar._LEGAL_BY_KEY[keys])


def test_reverse_padded_mixed_and_equal_lengths():
    rng = np.random.default_rng(4)
    for lengths in (rng.integers(1, 9, 50), np.full(50, 8)):
        tokens = rng.integers(1, 5, (50, 8)) * length_mask(lengths, 8)
        expected = np.zeros_like(tokens)
        for row, length in enumerate(lengths):
            expected[row, :length] = tokens[row, :length][::-1]
        np.testing.assert_array_equal(reverse_padded(tokens, lengths), expected)


def test_tokens_to_text_matches_the_batch_text():
    batch = seqtasks.make("reber_grammar/embedded").sample(300, seed=2)
    np.testing.assert_array_equal(reber_grammar.tokens_to_text(batch["tokens"], batch["length"]), batch["text"])
    assert all(len(text) == length for text, length in zip(batch["text"], batch["length"]))
