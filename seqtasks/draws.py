"""Deterministic, machine-independent random draws.

Every random number in seqtasks comes from the raw 64-bit output of NumPy's
``PCG64`` bit generator (whose stream NumPy keeps stable across versions) or
from the counter-based ``splitmix64`` hash, and is turned into values with
integer arithmetic and correctly rounded IEEE-754 float64 operations only
(``+ - * /`` and ``sqrt``). Library transcendental functions (``np.log``,
``np.cos``) are avoided because their SIMD implementations differ by a few ULP
between machines; :func:`_log` and :func:`_cos_2pi` below use fixed series
instead. The result: the same seed gives the same bytes on any machine.

Seeding (see ``docs/determinism.md``): examples are generated in fixed-size
blocks. Block ``b`` of split ``s`` of a task with salt ``salt`` under user seed
``seed`` draws from ``PCG64(SeedSequence(entropy=[seed, *salt],
spawn_key=(SPLIT_IDS[s], b)))``, so any block can be generated alone.

This is the module a task draws from (``Task._generate_block`` receives a
:class:`Draws`); ``seqtasks._random``, its former private name, is an alias of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence

import numpy as np

from seqtasks._arrays import length_mask

__all__ = [
    "SPLIT_IDS",
    "Draws",
    "bits_to_uniform",
    "block_bit_generator",
    "hash_buckets",
    "hash_rows",
    "hash_shifted",
    "hash_zero_padded",
    "salt_words",
    "sequential_sum",
    "splitmix64",
    "uniform_thresholds",
    "uniforms_to_normal",
]

SPLIT_IDS: dict[str, int] = {"train": 0, "validation": 1, "test": 2, "test_long": 3}

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)  # FNV-1a constants, used as arbitrary odd seeds
_FNV_PRIME = np.uint64(0x100000001B3)
_NORMAL_CHUNK = 1 << 13  # values per piece of Draws.normal (keeps the series' temporaries in cache)
_DRAW_CHUNK = 1 << 16  # raw words per temporary in Draws.below (512 KiB)
_HASH_CHUNK_VALUES = 1 << 16  # uint64 values per temporary (512 KiB)
_LN2 = 0.6931471805599453
_TWO_PI = 6.283185307179586


def salt_words(*parts: object) -> list[int]:
    """Turns arbitrary JSON-serialisable parts into four 32-bit salt words.

    Args:
        *parts: Values that identify a dataset (task name, version, config).

    Returns:
        Four integers in ``[0, 2**32)`` taken from a SHA-256 digest.
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def block_bit_generator(seed: int, salt: Sequence[int], split: str, block: int) -> np.random.PCG64:
    """Returns the bit generator of one block of one split.

    Args:
        seed: The user's seed, a non-negative integer.
        salt: Salt words that identify the task and its configuration.
        split: Split name, one of ``SPLIT_IDS``.
        block: Index of the block of examples within the split.

    Returns:
        A freshly seeded ``PCG64``.
    """
    sequence = np.random.SeedSequence(entropy=[int(seed), *salt], spawn_key=(SPLIT_IDS[split], int(block)))
    return np.random.PCG64(sequence)


class Draws:
    """Vectorised random values computed from raw ``PCG64`` output only."""

    def __init__(self, bit_generator: np.random.PCG64) -> None:
        self._bits = bit_generator

    def raw(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Raw uint64 words."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        count = int(np.prod(shape, dtype=np.int64))
        return self._bits.random_raw(count).reshape(shape)  # already uint64

    def uniform(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Float64 uniforms in ``[0, 1)`` with 53 random bits each."""
        return bits_to_uniform(self.raw(shape))

    def integers(self, low: int | np.ndarray, high: int | np.ndarray, shape: int | tuple[int, ...]) -> np.ndarray:
        """Integers in ``[low, high)``, with ``low``/``high`` broadcastable to ``shape``."""
        low = np.asarray(low, dtype=np.int64)
        span = np.asarray(high, dtype=np.int64) - low
        if span.max(initial=1) < 2**32:  # multiply-shift on the top 32 bits: exact integer arithmetic
            offset = self.raw(shape)  # in place from here on: no temporaries of the full size
            offset >>= np.uint64(32)
            offset *= span.astype(np.uint64)
            offset >>= np.uint64(32)
            values = offset.view(np.int64)  # < 2**32, so the bits read the same as int64
            if low.any():
                values += low
            return values
        offset = np.floor(self.uniform(shape) * span).astype(np.int64)
        return low + np.minimum(offset, span - 1)

    def below(self, high: int, count: int, dtype: np.dtype | type = np.int64) -> np.ndarray:
        """``integers(0, high, count)`` as ``dtype``, drawn in chunks (same values, bounded temporaries).

        Args:
            high: Exclusive upper bound, ``2 <= high < 2**32``; values must fit ``dtype``.
            count: Number of values.
            dtype: Output integer dtype.

        Returns:
            ``count`` integers in ``[0, high)``.
        """
        high = int(high)
        out = np.empty(count, dtype=dtype)
        power_of_two = (high & (high - 1)) == 0
        for start in range(0, count, _DRAW_CHUNK):
            bits = self._bits.random_raw(min(_DRAW_CHUNK, count - start))
            if power_of_two:  # (top32 * 2**k) >> 32 is the top k bits
                bits >>= np.uint64(64 - (high.bit_length() - 1))
            else:
                bits >>= np.uint64(32)
                bits *= np.uint64(high)
                bits >>= np.uint64(32)
            out[start : start + len(bits)] = bits
        return out

    def bits53(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """The 53-bit integers ``k`` behind :meth:`uniform`'s values ``k / 2**53`` (uint64).

        Comparing ``k >= uniform_thresholds(p)`` decides exactly as ``uniform() >= p``
        without converting to floating point.
        """
        bits = self.raw(shape)
        bits >>= np.uint64(11)
        return bits

    def normal(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Standard normal float64 values (Box-Muller)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        count = int(np.prod(shape, dtype=np.int64))
        first, second = self.raw(count), self.raw(count)  # all first uniforms, then all second ones
        out = np.empty(count, dtype=np.float64)
        for start in range(0, count, _NORMAL_CHUNK):  # cache-sized pieces: the series make many passes
            piece = slice(start, start + _NORMAL_CHUNK)
            out[piece] = uniforms_to_normal(bits_to_uniform(first[piece]), bits_to_uniform(second[piece]))
        return out.reshape(shape)

    def permutation(self, n: int) -> np.ndarray:
        """A uniformly random permutation of ``range(n)``."""
        return np.argsort(self.raw(n), kind="stable")


def uniform_thresholds(probabilities: np.ndarray) -> np.ndarray:
    """uint64 ``c`` with ``k >= c`` exactly when ``k / 2**53 >= p``, for 53-bit integers ``k``.

    ``p * 2**53`` is exact (a power-of-two scaling), and for an integer ``k``,
    ``k >= x`` holds exactly when ``k >= ceil(x)``. Probabilities above 1 give
    ``2**53`` or more, which no ``k`` reaches.
    """
    scaled = np.ceil(np.asarray(probabilities, dtype=np.float64) * 9007199254740992.0)
    return np.minimum(scaled, 2.0**63).astype(np.uint64)


def bits_to_uniform(bits: np.ndarray) -> np.ndarray:
    """Maps uint64 words to float64 uniforms in ``[0, 1)``."""
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, a counter-based 64-bit hash (vectorised)."""
    z = np.asarray(values, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_rows(tokens: np.ndarray, lengths: np.ndarray, start: int = 0) -> np.ndarray:
    """64-bit hash of each row's tokens ``[start, start + length)`` (vectorised).

    A multilinear hash: ``sum_j (token_j + 1) * m_j mod 2**64`` with fixed odd
    per-position multipliers ``m_j``, then the length is mixed in with
    splitmix64. Integer arithmetic only, so it is the same on every machine.

    Args:
        tokens: Integer array of shape ``(n, width)`` with non-negative values.
        lengths: Number of tokens to hash in each row, shape ``(n,)``.
        start: First column hashed (the same for every row).

    Returns:
        uint64 hashes of shape ``(n,)``.
    """
    tokens = np.asarray(tokens)
    lengths = np.asarray(lengths, dtype=np.int64)
    window = tokens[:, start : start + int(lengths.max(initial=0))]
    window = np.where(length_mask(lengths, window.shape[1]), window, 0)
    return hash_zero_padded(window, lengths)


def hash_zero_padded(window: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """:func:`hash_rows` of rows that are already zero beyond their length.

    ``sum_j (t_j + 1) * m_j`` over ``j < length`` equals ``sum_j t_j * m_j`` over
    the whole zero-padded row plus the prefix sum of ``m`` at ``length``.

    Args:
        window: Integer tokens ``(n, width)``, zero at every position ``>= length`` of a row.
        lengths: Tokens per row, shape ``(n,)``, each ``<= width``.

    Returns:
        uint64 hashes of shape ``(n,)``, equal to ``hash_rows(window, lengths)``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    width = window.shape[1]
    total = _weighted_sum(window, time_major=False)
    with np.errstate(over="ignore"):
        total += _multiplier_prefix_sums(width)[np.minimum(lengths, width)]
        return splitmix64(total ^ (lengths.astype(np.uint64) * _FNV_PRIME))


def hash_shifted(window: np.ndarray, lengths: np.ndarray, time_major: bool = False) -> np.ndarray:
    """:func:`hash_rows` of rows stored as token + 1, with 0 beyond each row's length.

    Args:
        window: Integer ``token + 1`` values ``(n, width)``, or ``(width, n)`` when
            ``time_major``, zero at every position ``>= length`` of a row.
        lengths: Tokens per row, shape ``(n,)``.
        time_major: Whether the first axis of ``window`` is time.

    Returns:
        uint64 hashes of shape ``(n,)``, equal to ``hash_rows(window - 1, lengths)``.
    """
    total = _weighted_sum(window, time_major)
    with np.errstate(over="ignore"):
        return splitmix64(total ^ (np.asarray(lengths).astype(np.uint64) * _FNV_PRIME))


def _weighted_sum(window: np.ndarray, time_major: bool) -> np.ndarray:
    """``sum_j window[:, j] * m_j mod 2**64`` per row (exact in any order, so same on every machine)."""
    multipliers = _position_multipliers(window.shape[0 if time_major else 1])
    with np.errstate(over="ignore"):
        if not time_major:  # in row chunks: a bounded uint64 temporary
            total = np.empty(window.shape[0], dtype=np.uint64)
            rows = max(1, _HASH_CHUNK_VALUES // max(window.shape[1], 1))
            for start in range(0, window.shape[0], rows):
                total[start : start + rows] = window[start : start + rows].astype(np.uint64) @ multipliers
            return total
        # One contiguous time step at a time: no (width, n) uint64 temporary.
        total = np.zeros(window.shape[1], dtype=np.uint64)
        for step, multiplier in zip(window, multipliers):
            total += step.astype(np.uint64) * multiplier
        return total


@functools.lru_cache(maxsize=None)
def _position_multipliers(width: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers of the multilinear row hash."""
    return splitmix64(np.arange(width, dtype=np.uint64) + _FNV_OFFSET) | np.uint64(1)


@functools.lru_cache(maxsize=None)
def _multiplier_prefix_sums(width: int) -> np.ndarray:
    """``s[L] = sum(m_j for j < L) mod 2**64`` for ``L`` in ``0 .. width``."""
    sums = np.zeros(width + 1, dtype=np.uint64)
    np.cumsum(_position_multipliers(width), dtype=np.uint64, out=sums[1:])
    return sums


def hash_buckets(hashes: np.ndarray, salt: Sequence[int], buckets: int = 100) -> np.ndarray:
    """Maps content hashes to buckets in ``[0, buckets)`` (independent of the user seed)."""
    key = np.uint64((salt[0] << 32) | salt[1])
    mixed = splitmix64(np.asarray(hashes, dtype=np.uint64) ^ key)
    return np.floor(bits_to_uniform(mixed) * buckets).astype(np.int64)


def _log(x: np.ndarray) -> np.ndarray:
    """Natural log of positive float64 values with basic IEEE operations only."""
    mantissa, exponent = np.frexp(x)  # x = mantissa * 2**exponent, mantissa in [0.5, 1)
    small = mantissa < 0.7071067811865476
    mantissa = np.where(small, mantissa * 2.0, mantissa)
    exponent = np.where(small, exponent - 1, exponent).astype(np.float64)
    t = (mantissa - 1.0) / (mantissa + 1.0)  # |t| <= 0.1716
    t2 = t * t
    series = np.zeros_like(t)
    for k in range(29, 0, -2):  # atanh(t) = t + t^3/3 + ...
        series = series * t2 + 1.0 / k
    return exponent * _LN2 + 2.0 * t * series


def _cos_2pi(u: np.ndarray) -> np.ndarray:
    """cos(2*pi*u) for u in [0, 1) with basic IEEE operations only."""
    # Fold onto [0, 1/4] using the symmetries of cosine, then a Taylor series.
    v = np.where(u > 0.5, 1.0 - u, u)  # cos is symmetric around 1/2
    sign = np.where(v > 0.25, -1.0, 1.0)
    v = np.where(v > 0.25, 0.5 - v, v)
    use_sin = v > 0.125  # cos(2*pi*v) = sin(2*pi*(1/4 - v))
    angle = np.where(use_sin, 0.25 - v, v) * _TWO_PI  # in [0, pi/4]
    a2 = angle * angle
    cos_series = np.zeros_like(angle)
    sin_series = np.zeros_like(angle)
    for k in range(20, 0, -2):  # Horner over 1 - a^2/2! + a^4/4! - ...
        cos_series = 1.0 - a2 * cos_series / (k * (k - 1))
        sin_series = 1.0 - a2 * sin_series / ((k + 1) * k)
    return sign * np.where(use_sin, angle * sin_series, cos_series)


def uniforms_to_normal(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Box-Muller transform of two uniform arrays in ``[0, 1)`` to standard normals."""
    radius = np.sqrt(-2.0 * _log(1.0 - u1))
    return radius * _cos_2pi(u2)


def sequential_sum(values: np.ndarray) -> np.ndarray:
    """Sums over the last axis in a fixed left-to-right order (bit-reproducible)."""
    total = np.zeros(values.shape[:-1], dtype=values.dtype)
    for j in range(values.shape[-1]):
        total = total + values[..., j]
    return total
