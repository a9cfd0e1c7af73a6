"""Character-to-vector regression (seed thread 002).

A word is spelled character by character; the target is a fixed, unit-norm,
word2vec-style vector. No download is possible, so by default both the words
and their vectors are synthetic but meaningful:

* Words are pseudo-words from a seeded syllable model (onset, nucleus, coda),
  so they look like words and their spelling carries structure.
* Each vector mixes a *compositional* part, the normalised sum of hashed
  character n-gram vectors of ``<word>`` (as in fastText), which a model can
  learn from spelling, and an *idiosyncratic* part, a per-word random vector
  that can only be memorised. ``compositional_weight`` (a) sets the mix:
  ``v = normalise(sqrt(a) * c + sqrt(1 - a) * i)``. On held-out words the best
  achievable cosine similarity is therefore about ``sqrt(a)``.

Users can instead point ``vectors_path`` at a word2vec or GloVe text file.
Splits are made of disjoint words: a word's split is a function of its
spelling (a hash for train/validation/test; length above
``max_word_length`` for ``test_long``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from seqtasks import _random
from seqtasks.config import TaskConfig
from seqtasks.registry import register
from seqtasks.tasks.base import SupervisedSpec, Batch, Preset, Task

LOWERCASE = "abcdefghijklmnopqrstuvwxyz"
_ONSETS = ("", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "bl", "cr", "cl", "dr", "fr", "fl", "gr", "pl", "pr", "st", "tr", "ch", "sh", "th", "sp")
_NUCLEI = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou", "io", "ee", "oo", "y")
_CODAS = ("", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "rt", "x")
_SYLLABLE_COUNT_CDF = np.array([0.25, 0.70, 0.93, 1.0])  # 1, 2, 3 or 4 syllables
_MAX_SYLLABLES = 4
POOL_CACHE_LIMIT = 200_000  # pools up to this size keep all vectors in memory (80 MB at dim 100)


@dataclasses.dataclass(frozen=True)
class CharToVectorConfig(TaskConfig):
    """Configuration of the character-to-vector task.

    Attributes:
        dim: Vector dimension.
        vocab_size: Number of distinct synthetic words over all splits.
        compositional_weight: Share ``a`` of each vector's energy predictable from spelling.
        ngram_min: Shortest character n-gram of the compositional part.
        ngram_max: Longest character n-gram of the compositional part.
        min_word_length: Shortest word.
        max_word_length: Longest word in train, validation and test.
        long_max_word_length: Longest word of ``test_long`` (words longer than
            ``max_word_length``); ``None``: no ``test_long``.
        vocab_seed: Seed of the synthetic vocabulary and vectors (part of the
            dataset definition, independent of the sampling seed).
        vectors_path: A word2vec/GloVe text file to use instead of synthetic
            words and vectors (its vectors are scaled to unit norm; ``dim`` must
            match the file; ``vocab_size``, ``compositional_weight``, the n-gram
            range and ``vocab_seed`` then do not apply).
    """

    task_name: ClassVar[str] = "char_to_vector"
    dim: int = 100
    vocab_size: int = 20_000
    compositional_weight: float = 0.75
    ngram_min: int = 3
    ngram_max: int = 5
    min_word_length: int = 2
    max_word_length: int = 12
    long_max_word_length: int | None = 20
    vocab_seed: int = 0
    vectors_path: str | None = None

    def validate(self) -> None:
        self.check_int("dim", 2, 4096)
        self.check_int("vocab_size", 10, 2_000_000)
        self.check_float("compositional_weight", 0.0, 1.0)
        self.check_int("ngram_min", 1, 10)
        self.check_int("ngram_max", self.ngram_min, 10)
        self.check_int("min_word_length", 1, 64)
        self.check_int("max_word_length", self.min_word_length, 64)
        if self.long_max_word_length is not None:
            self.check_int("long_max_word_length", self.max_word_length + 1, 128)
        self.check_int("vocab_seed", 0, 2**63 - 1)
        if self.vectors_path is not None:
            words, vectors = load_vectors_file(self.vectors_path)
            if vectors.shape[1] != self.dim:
                self._fail("dim", self.dim, f"{vectors.shape[1]}, the dimension of {self.vectors_path}")


@functools.lru_cache(maxsize=4)
def _load_vectors_cached(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    del mtime_ns, size  # cache keys only
    words: list[str] = []
    rows: list[list[float]] = []
    dim = None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: "count dim"
            if not line.strip():
                continue
            try:
                values = [float(p) for p in parts[1:]]
            except ValueError:
                raise ValueError(
                    f"char_to_vector: invalid vectors_path={path!r}: line {number} has a non-numeric value; "
                    "allowed: lines of 'word v1 v2 ... vD'"
                ) from None
            if dim is None:
                dim = len(values)
            if len(values) != dim or dim < 2 or not all(math.isfinite(v) for v in values):
                raise ValueError(
                    f"char_to_vector: invalid vectors_path={path!r}: line {number} has {len(values)} finite values "
                    f"where {dim} were expected; allowed: lines of 'word v1 ... vD' with one D >= 2"
                )
            words.append(parts[0])
            rows.append(values)
    if not words:
        raise ValueError(f"char_to_vector: invalid vectors_path={path!r}: no vectors found; allowed: a non-empty file")
    if len(set(words)) != len(words):
        raise ValueError(f"char_to_vector: invalid vectors_path={path!r}: a word appears twice; allowed: unique words")
    vectors = np.array(rows, dtype=np.float64)
    norms = np.sqrt(_random.sequential_sum(vectors * vectors))
    if np.any(norms == 0):
        raise ValueError(f"char_to_vector: invalid vectors_path={path!r}: a vector is all zeros; allowed: non-zero vectors")
    return np.array(words), (vectors / norms[:, None]).astype(np.float32)


def load_vectors_file(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads a word2vec (with ``count dim`` header) or GloVe text file.

    Args:
        path: The file.

    Returns:
        Words and their unit-norm float32 vectors.

    Raises:
        ValueError: The file is missing or malformed (the message names the line).
    """
    if not isinstance(path, str) or not os.path.isfile(path):
        raise ValueError(
            f"char_to_vector: invalid vectors_path={path!r}; allowed: the path of an existing word2vec/GloVe text file"
        )
    stat = os.stat(path)
    return _load_vectors_cached(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


def _strings_from_codes(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes.astype(np.uint32)).view(f"<U{codes.shape[1]}").reshape(-1)


def _codes_from_strings(words: np.ndarray) -> np.ndarray:
    words = np.asarray(words, dtype=str)
    width = max(int(np.char.str_len(words).max(initial=1)), 1)
    return np.ascontiguousarray(words.astype(f"<U{width}")).view(np.uint32).reshape(len(words), width)


def synthetic_words(count: int, seed: int, min_length: int, max_length: int) -> np.ndarray:
    """Distinct pseudo-words from a seeded syllable model, in a fixed order.

    Args:
        count: Number of words.
        seed: Vocabulary seed.
        min_length: Shortest word kept.
        max_length: Longest word kept.

    Returns:
        A unicode array of ``count`` distinct words.
    """
    parts = [np.array(table) for table in (_ONSETS, _NUCLEI, _CODAS)]
    found: list[np.ndarray] = []
    seen: set[str] = set()
    have = 0
    for round_index in range(1000):
        draws = _random.Draws(_random.block_bit_generator(seed, _random.salt_words("syllables"), "train", round_index))
        n = max(2 * (count - have), 1024)
        syllables = 1 + np.searchsorted(_SYLLABLE_COUNT_CDF, draws.uniform(n), side="right")
        words = np.full(n, "", dtype="<U64")
        for position in range(_MAX_SYLLABLES):
            picks = [table[draws.integers(0, len(table), n)] for table in parts]
            syllable = np.char.add(np.char.add(picks[0], picks[1]), picks[2])
            words = np.where(position < syllables, np.char.add(words, syllable), words)
        lengths = np.char.str_len(words)
        words = words[(lengths >= min_length) & (lengths <= max_length)]
        _, first = np.unique(words, return_index=True)
        words = words[np.sort(first)]
        fresh = np.array([w not in seen for w in words.tolist()], dtype=bool) if seen else np.ones(len(words), bool)
        words = words[fresh][: count - have]
        seen.update(words.tolist())
        found.append(words)
        have += len(words)
        if have >= count:
            return np.concatenate(found)
    raise ValueError(f"char_to_vector: could not find {count} distinct words of length {min_length}..{max_length}")


def _gaussian_rows(keys: np.ndarray, dim: int) -> np.ndarray:
    """A standard normal vector per uint64 key, counter-based (``(n, dim)``)."""
    with np.errstate(over="ignore"):
        base = keys.astype(np.uint64)[:, None] * np.uint64(2 * dim) + np.arange(2 * dim, dtype=np.uint64)[None, :]
    bits = _random.splitmix64(base)
    return _random.uniforms_to_normal(_random.bits_to_uniform(bits[:, :dim]), _random.bits_to_uniform(bits[:, dim:]))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.sqrt(_random.sequential_sum(vectors * vectors))
    return vectors / np.where(norms > 0, norms, 1.0)[:, None]


def synthetic_vectors(words: np.ndarray, config: CharToVectorConfig) -> np.ndarray:
    """Unit-norm float32 vectors of words; each depends only on the word and the config.

    Args:
        words: Unicode array of words.
        config: Supplies ``dim``, ``compositional_weight``, the n-gram range and ``vocab_seed``.

    Returns:
        ``(len(words), dim)`` float32 array.
    """
    n, dim = len(words), config.dim
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    salt = _random.salt_words("char_to_vector", config.vocab_seed, dim)
    word_key, ngram_key = np.uint64(salt[0] << 32 | salt[1]), np.uint64(salt[2] << 32 | salt[3])
    codes = _codes_from_strings(words).astype(np.int64)
    lengths = np.char.str_len(np.asarray(words, dtype=str)).astype(np.int64)
    bounded = np.zeros((n, codes.shape[1] + 2), dtype=np.int64)  # "<" + word + ">"
    bounded[:, 0] = ord("<")
    bounded[:, 1:-1] = codes
    bounded[np.arange(n), lengths + 1] = ord(">")
    # Each distinct n-gram's vector is computed once, then added in a fixed (size, start) order.
    occurrences = []
    for size in range(config.ngram_min, config.ngram_max + 1):
        for start in range(bounded.shape[1] - size + 1):
            valid = start + size <= lengths + 2
            if valid.any():
                hashes = _random.hash_rows(bounded, np.full(n, size), start)
                occurrences.append((valid, hashes[valid] ^ ngram_key))
    keys, inverse = np.unique(np.concatenate([k for _, k in occurrences]), return_inverse=True)
    ngram_vectors = _gaussian_rows(keys, dim)
    compositional = np.zeros((n, dim))
    offset = 0
    for valid, occurrence_keys in occurrences:
        compositional[valid] += ngram_vectors[inverse[offset : offset + len(occurrence_keys)]]
        offset += len(occurrence_keys)
    idiosyncratic = _gaussian_rows(_random.hash_rows(codes, lengths) ^ word_key, dim)
    a = config.compositional_weight
    mixed = math.sqrt(a) * _unit(compositional) + math.sqrt(1.0 - a) * _unit(idiosyncratic)
    return _unit(mixed).astype(np.float32)


@register
class CharToVector(Task[CharToVectorConfig]):
    """Regress a word's dense vector from its spelling."""

    name = "char_to_vector"
    config_class = CharToVectorConfig
    version = "1.0.0"
    sequence_fields = ("chars",)
    description = (
        "Words spelled character by character, each paired with a fixed unit-norm dense vector that mixes "
        "a part predictable from character n-grams with a per-word part that can only be memorised. "
        "Held-out words never occur in train."
    )
    citation = """@article{bojanowski2017enriching,
  title={Enriching Word Vectors with Subword Information},
  author={Bojanowski, Piotr and Grave, Edouard and Joulin, Armand and Mikolov, Tomas},
  journal={Transactions of the Association for Computational Linguistics},
  volume={5}, pages={135--146}, year={2017}
}"""
    presets = (
        Preset(
            "synthetic_d100",
            CharToVectorConfig(),
            {"train": None, "validation": None, "test": None, "test_long": None},
            "20,000 pseudo-words with 100-d synthetic vectors (75% compositional); each split is one pass over its words.",
        ),
    )
    default_preset = "synthetic_d100"

    @property
    def splits(self) -> tuple[str, ...]:
        base = ("train", "validation", "test")
        return base + (("test_long",) if self.config.long_max_word_length is not None else ())

    @functools.cached_property
    def _pool(self) -> tuple[np.ndarray, np.ndarray | None, str]:
        """All words, their vectors (file mode) and the alphabet."""
        c = self.config
        longest = c.long_max_word_length or c.max_word_length
        if c.vectors_path is not None:
            words, vectors = load_vectors_file(c.vectors_path)
            alphabet = "".join(sorted(set("".join(words.tolist()))))
            return words, vectors, alphabet
        return synthetic_words(c.vocab_size, c.vocab_seed, c.min_word_length, longest), None, LOWERCASE

    @functools.cached_property
    def _synthetic_pool_vectors(self) -> np.ndarray:
        """Vectors of every pool word, computed once (vectors depend on the word only)."""
        words = self._pool[0]
        chunks = [synthetic_vectors(words[i : i + 4096], self.config) for i in range(0, len(words), 4096)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.config.dim), np.float32)

    @property
    def alphabet(self) -> str:
        """Characters of the words; ``chars`` holds indices into this string."""
        return self._pool[2]

    @functools.cached_property
    def _split_indices(self) -> dict[str, np.ndarray]:
        words = self._pool[0]
        codes = _codes_from_strings(words)
        lengths = np.char.str_len(words)
        c = self.config
        short = (lengths >= c.min_word_length) & (lengths <= c.max_word_length)
        longest = c.long_max_word_length
        out = {}
        hashes = _random.hash_rows(codes, lengths)
        for split in ("train", "validation", "test"):
            out[split] = np.flatnonzero(short & self.split_bucket_mask(hashes, split))
        if longest is not None:
            out["test_long"] = np.flatnonzero((lengths > c.max_word_length) & (lengths <= longest))
        return out

    def split_words(self, split: str) -> np.ndarray:
        """The words of a split, in pool order."""
        self._check_split(split)
        return self._pool[0][self._split_indices[split]]

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        self._check_target(target)
        return SupervisedSpec("chars", len(self.alphabet), "vector", "dense")

    def natural_size(self, split: str) -> int:
        """Number of distinct words in a split."""
        self._check_split(split)
        return len(self._split_indices[split])

    def generate(self, split: str, start: int, stop: int, seed: int = 0) -> Batch:
        """Examples ``[start, stop)``: epoch ``i // N`` visits the split's N words in a seeded order.

        Args:
            split: One of :attr:`splits`.
            start: First example index.
            stop: One past the last example index.
            seed: The user's seed.

        Returns:
            A :class:`Batch` with ``word``, ``chars``, ``length`` and ``vector``.
        """
        self._check_request(split, start, stop, seed)
        pool = self._split_indices[split]
        if len(pool) == 0:
            raise ValueError(f"{self.name}: split {split!r} has no words; widen the word length range or vocab_size")
        index = np.arange(start, stop, dtype=np.int64)
        epochs = index // len(pool)
        chosen = np.empty(len(index), dtype=np.int64)
        for epoch in np.unique(epochs):
            bits = _random.block_bit_generator(seed, [*self.salt, 0xE90C], split, int(epoch))
            order = _random.Draws(bits).permutation(len(pool))
            where = epochs == epoch
            chosen[where] = pool[order[index[where] % len(pool)]]
        return self._examples_for(chosen)

    def _examples_for(self, pool_index: np.ndarray) -> Batch:
        words_all, vectors_all, alphabet = self._pool
        words = words_all[pool_index]
        if vectors_all is not None:
            vectors = vectors_all[pool_index]
        elif len(words_all) <= POOL_CACHE_LIMIT:
            vectors = self._synthetic_pool_vectors[pool_index]
        else:
            vectors = synthetic_vectors(words, self.config)
        lengths = np.char.str_len(words).astype(np.int32) if len(words) else np.zeros(0, np.int32)
        codes = _codes_from_strings(words) if len(words) else np.zeros((0, 1), np.uint32)
        table = np.frombuffer(alphabet.encode("utf-32-le"), dtype=np.uint32)
        chars = np.searchsorted(table, codes).astype(np.int32)
        chars = np.where(np.arange(codes.shape[1])[None, :] < lengths[:, None], chars, 0)
        batch = Batch(word=words.astype(str), chars=chars, length=lengths, vector=vectors)
        return batch

    def _generate_block(self, draws: _random.Draws, split: str, block: int) -> dict[str, np.ndarray]:
        raise NotImplementedError("char_to_vector overrides generate()")

    def describe(self, example: Mapping[str, Any]) -> str:
        vector = np.asarray(example["vector"])
        head = " ".join(f"{x:+.3f}" for x in vector[:4])
        return f"{example['word']!s:<14} |v|={np.linalg.norm(vector):.6f}  v[:4]=[{head} ...]"

    def loss_floor(self, batch) -> float:
        """0: a model can memorise the training words' vectors exactly."""
        return 0.0
