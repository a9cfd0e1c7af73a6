"""Deterministic, machine-independent random draws.

Every random number in seqtasks comes from the raw 64-bit output of NumPy's
``PCG64`` bit generator (whose stream NumPy keeps stable across versions) or
from the counter-based ``splitmix64`` hash, and is turned into values with
integer arithmetic and correctly rounded IEEE-754 float64 operations only
(``+ - * /`` and ``sqrt``). Library transcendental functions (``np.log``,
``np.cos``) are avoided because their SIMD implementations differ by a few ULP
between machines; :func:`_log`, :func:`_exp` and :func:`_cos_2pi` below use fixed
series instead. The result: the same seed gives the same bytes on any machine.
Standard normals come from a ziggurat (:func:`ziggurat_normal`: table lookups
and one multiplication per value, the series only for the rare wedge and tail
draws) or, slower, from Box-Muller (:meth:`Draws.normal`).

Seeding (see ``docs/determinism.md``): examples are generated in fixed-size
blocks. Block ``b`` of split ``s`` of a task with salt ``salt`` under user seed
``seed`` draws from ``PCG64(SeedSequence(entropy=[seed, *salt],
spawn_key=(SPLIT_IDS[s], b)))``, so any block can be generated alone.

This is the module a task draws from (``Task._generate_block`` receives a
:class:`Draws`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence

import numpy as np

from seqtasks._arrays import length_mask

__all__ = [
    "SPLIT_IDS",
    "ZIGGURAT_LAYERS",
    "ZIGGURAT_R",
    "ZIGGURAT_V",
    "Draws",
    "ZigguratTables",
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
    "ziggurat_normal",
    "ziggurat_tables",
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
        """Standard normal float64 values (Box-Muller; :meth:`ziggurat_normal` is faster)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        count = int(np.prod(shape, dtype=np.int64))
        first, second = self.raw(count), self.raw(count)  # all first uniforms, then all second ones
        out = np.empty(count, dtype=np.float64)
        for start in range(0, count, _NORMAL_CHUNK):  # cache-sized pieces: the series make many passes
            piece = slice(start, start + _NORMAL_CHUNK)
            out[piece] = uniforms_to_normal(bits_to_uniform(first[piece]), bits_to_uniform(second[piece]))
        return out.reshape(shape)

    def ziggurat_normal(self, shape: int | tuple[int, ...], dtype: np.dtype | type = np.float64) -> np.ndarray:
        """Standard normal values of ``dtype`` by a ziggurat (:func:`ziggurat_normal`): about ten times
        faster than :meth:`normal`, and other values (a different algorithm on the same words)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return ziggurat_normal(self._bits, int(np.prod(shape, dtype=np.int64)), dtype).reshape(shape)

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


def _log_scalar(x: float) -> float:
    """:func:`_log` of one float, operation for operation (the same result, without numpy's per-call cost)."""
    mantissa, exponent = math.frexp(x)
    if mantissa < 0.7071067811865476:
        mantissa, exponent = mantissa * 2.0, exponent - 1
    t = (mantissa - 1.0) / (mantissa + 1.0)
    t2 = t * t
    series = 0.0
    for k in range(29, 0, -2):
        series = series * t2 + 1.0 / k
    return float(exponent) * _LN2 + 2.0 * t * series


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


# -- Ziggurat normals --------------------------------------------------------------------------------

ZIGGURAT_LAYERS = 256
"""Layers of :func:`ziggurat_normal`'s ziggurat (Marsaglia and Tsang's construction, 256 layers as in numpy)."""
ZIGGURAT_R = 3.6541528853610088
"""Where the base layer's tail starts: ``|x| >= r`` is drawn from the tail."""
ZIGGURAT_V = 4.928673233974658e-3
"""Area of each layer under ``f(x) = exp(-x**2 / 2)``: ``r f(r) + integral_r^inf f`` for the base."""
_ZIGGURAT_CHUNK = 1 << 15  # values per main-pass piece: even, cache-sized; the values do not depend on it
_ZIGGURAT_BITS = {np.dtype(np.float32): 23, np.dtype(np.float64): 53}  # magnitude bits of the odd integer j
_ZIGGURAT_VECTOR_ROUND = 48  # rounds of step 2 with fewer pending values go value by value (the same values)
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_TERMS = 14  # |t| <= 0.35: the next term is below 1e-17 of the sum


def _exp(x: np.ndarray) -> np.ndarray:
    """exp of float64 values in ``[-700, 700]`` with basic IEEE operations only.

    ``x = k ln 2 + t`` with ``k = rint(x / ln 2)`` (Cody-Waite reduction, ``|t| <= 0.35``),
    then a fixed Taylor series of ``exp(t)`` and an exact ``ldexp`` by ``k``.
    """
    x = np.asarray(x, dtype=np.float64)
    k = np.rint(x * _INV_LN2)
    t = (x - k * _LN2_HI) - k * _LN2_LO
    series = 1.0 + t * (1.0 / _EXP_TERMS)
    for n in range(_EXP_TERMS - 1, 0, -1):  # Horner over 1 + t (1 + t/2 (1 + t/3 (...)))
        series *= t
        series *= 1.0 / n
        series += 1.0
    return np.ldexp(series, k.astype(np.int32))


def _exp_scalar(x: float) -> float:
    """:func:`_exp` of one float, operation for operation (``round`` rounds half to even, as ``rint``)."""
    k = float(round(x * _INV_LN2))
    t = (x - k * _LN2_HI) - k * _LN2_LO
    series = 1.0 + t * (1.0 / _EXP_TERMS)
    for n in range(_EXP_TERMS - 1, 0, -1):
        series = series * t * (1.0 / n) + 1.0
    return math.ldexp(series, int(k))


@dataclasses.dataclass(frozen=True)
class ZigguratTables:
    """The layers of the ziggurat, in Marsaglia and Tsang's order (``1`` the top, ``255`` above the base).

    Layer ``i >= 1`` is the rectangle ``[0, edges[i]] x [f(edges[i]), f(inner[i])]``;
    layer ``0`` is the base strip ``[0, edges[0]] x [0, f(r)]``, whose part beyond ``r``
    stands for the tail. Every layer has the area :data:`ZIGGURAT_V`.

    Attributes:
        edges: Right edge of each layer (``edges[0] = v / f(r)``, ``edges[255] = r``).
        inner: Below it, a layer's points are under ``f`` for sure: ``r`` for the base,
            ``0`` for the top, else the edge of the layer above.
        f_edges: ``f(edges)`` (``f(r)`` for the base).
        f_inner: ``f(inner)``.
    """

    edges: np.ndarray
    inner: np.ndarray
    f_edges: np.ndarray
    f_inner: np.ndarray

    def unit(self, dtype: np.dtype | type) -> np.ndarray:
        """Per layer, the step ``w`` of the odd integer ``j``: a draw is ``x = j * w`` in ``dtype``."""
        dtype = np.dtype(dtype)
        return (self.edges * 2.0 ** -_ZIGGURAT_BITS[dtype]).astype(dtype)

    def thresholds(self, dtype: np.dtype | type) -> np.ndarray:
        """Per layer, the smallest ``|j|`` with ``|j| * w >= inner`` (int64): smaller ones are accepted at once."""
        return np.ceil(self.inner / self.unit(dtype).astype(np.float64)).astype(np.int64)


def _scalar(function: Callable[[np.ndarray], np.ndarray], value: float) -> float:
    return float(function(np.array([value]))[0])


@functools.lru_cache(maxsize=None)
def ziggurat_tables() -> ZigguratTables:
    """The ziggurat's layers from :data:`ZIGGURAT_R` and :data:`ZIGGURAT_V` by Marsaglia and Tsang's recurrence.

    ``x[i - 1] = sqrt(-2 log(v / x[i] + f(x[i])))`` from ``x[255] = r``, with the
    portable :func:`_exp` and :func:`_log` and correctly rounded ``sqrt`` and ``/``:
    the same tables on every machine.
    """
    r, v, layers = ZIGGURAT_R, ZIGGURAT_V, ZIGGURAT_LAYERS

    def f(x: float) -> float:
        return _scalar(_exp, -0.5 * x * x)

    edges = [0.0] * layers
    edges[0], edges[-1] = v / f(r), r
    for i in range(layers - 2, 0, -1):
        edges[i] = math.sqrt(-2.0 * _scalar(_log, v / edges[i + 1] + f(edges[i + 1])))
    inner = [r, 0.0, *edges[1:-1]]
    f_edges = [f(r)] + [f(x) for x in edges[1:]]
    f_inner = [f(r), 1.0] + f_edges[1:-1]
    return ZigguratTables(*(np.array(values, dtype=np.float64) for values in (edges, inner, f_edges, f_inner)))


@functools.lru_cache(maxsize=None)
def _ziggurat_lookup(dtype: np.dtype) -> np.ndarray:
    """Per layer, ``(w, k)`` side by side in one 8- or 16-byte item, so that one gather fetches both."""
    tables = ziggurat_tables()
    width = np.uint32 if dtype == np.float32 else np.uint64
    rows = np.empty((ZIGGURAT_LAYERS, 2), dtype=width)
    rows[:, 0] = tables.unit(dtype).view(width)
    rows[:, 1] = tables.thresholds(dtype).astype(width)
    return rows.view(np.uint64 if dtype == np.float32 else np.complex128).reshape(-1)


def _ziggurat_words(words: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The signed integers the draws read: each 64-bit word (float64), or its low then its high 32 bits (float32)."""
    if dtype == np.float64:
        return words.view(np.int64)
    if np.little_endian:
        return words.view(np.int32)
    halves = np.empty((len(words), 2), dtype=np.uint32)
    halves[:, 0] = words & np.uint64(0xFFFFFFFF)
    halves[:, 1] = words >> np.uint64(32)
    return halves.reshape(-1).view(np.int32)


def _ziggurat_step(
    signed: np.ndarray, dtype: np.dtype, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One ziggurat draw per signed word: its layer, odd integer ``j``, value ``x = j * w`` and ``|j| >= k``.

    The low 8 bits pick the layer; the word shifted right by 8 (int32) or 10 (int64)
    bits, its lowest bit set to 1, is the odd integer ``j`` (``|j| < 2**23`` or
    ``2**53``), whose sign is the value's. ``|j| < k[layer]`` puts the point under
    the curve for sure; the others go to the wedge or tail test.
    """
    layer = (signed & (ZIGGURAT_LAYERS - 1)).astype(np.intp)
    j = signed >> (8 if dtype == np.float32 else 10)
    j |= 1
    rows = _ziggurat_lookup(dtype).take(layer).view(j.dtype).reshape(-1, 2)  # one gather of (w, k) per draw
    x = np.multiply(j.astype(dtype), rows[:, 0].view(dtype), out=out)
    outside = np.abs(j) >= rows[:, 1]
    return layer, j, x, outside


def ziggurat_normal(bit_generator: np.random.BitGenerator, count: int, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Standard normal values by a vectorised 256-layer ziggurat, from raw bits only.

    The common case (98.5%) is a table lookup and one multiplication; only the draws
    outside a layer's sure part use :func:`_exp` and :func:`_log`, so the values are
    the same on every machine. The words are read in a fixed order, whatever the
    internal chunk size:

    1. one draw per value, in order, from ``ceil(count / 2)`` words (float32: the low,
       then the high 32 bits of each word) or ``count`` words (float64); see
       :func:`_ziggurat_step`. A draw of layer ``i`` with ``|x| < inner[i]`` is the value.
    2. the other draws are redone in rounds until none is left: each round gives every
       pending value, in position order, two more words ``a`` and ``b``. A *tail* draw
       (base layer, ``|x| >= r``) takes ``t = -log(u(a)) / r`` and ``s = -log(u(b))``
       (``u(w) = ((w >> 11) + 1) / 2**53``, in ``(0, 1]``) and ends as ``r + t`` with its
       draw's sign if ``2s >= t**2``, else stays a tail draw. A *wedge* draw of layer
       ``i`` ends as its ``x`` if ``f(edges[i]) + U(a) (f(inner[i]) - f(edges[i])) <
       exp(-x**2 / 2)`` (``U(a) = (a >> 11) / 2**53``), else draws again as in step 1
       from ``b`` (float32: its low 32 bits).

    Args:
        bit_generator: The source of raw 64-bit words (``random_raw``).
        count: Number of values, >= 0.
        dtype: ``np.float32`` or ``np.float64``: the precision of ``x = j * w``
            (``j`` has 23 or 53 bits besides its sign).

    Returns:
        ``count`` standard normal values of ``dtype``; never zero.
    """
    dtype = np.dtype(dtype)
    if dtype not in _ZIGGURAT_BITS:
        raise ValueError(f"invalid dtype={dtype}; allowed: float32 or float64")
    count = int(count)
    out = np.empty(count, dtype=dtype)
    per_word = 2 if dtype == np.float32 else 1
    positions, layers, signs = [], [], []
    for start in range(0, count, _ZIGGURAT_CHUNK):
        size = min(_ZIGGURAT_CHUNK, count - start)
        words = bit_generator.random_raw(-(-size // per_word))
        layer, j, _, outside = _ziggurat_step(_ziggurat_words(words, dtype)[:size], dtype, out[start : start + size])
        rejected = np.flatnonzero(outside)
        positions.append(rejected + start)
        layers.append(layer[rejected])
        signs.append(j[rejected])
    if count:
        _ziggurat_fix(bit_generator, out, np.concatenate(positions), np.concatenate(layers), np.concatenate(signs))
    return out


def _ziggurat_fix(
    bit_generator: np.random.BitGenerator, out: np.ndarray, positions: np.ndarray, layer: np.ndarray, j: np.ndarray
) -> None:
    """Step 2 of :func:`ziggurat_normal`: settles the pending values at ``positions`` (ascending) in rounds."""
    tables = ziggurat_tables()
    dtype, r = out.dtype, ZIGGURAT_R
    x = out[positions].astype(np.float64)
    while len(positions) >= _ZIGGURAT_VECTOR_ROUND:
        words = bit_generator.random_raw(2 * len(positions)).reshape(-1, 2)
        a, b = words[:, 0], words[:, 1]
        low = tables.f_edges[layer]
        height = bits_to_uniform(a) * (tables.f_inner[layer] - low) + low
        done = height < _exp(-0.5 * x * x)  # the wedge test (tail draws are settled below instead)
        tail = np.flatnonzero(layer == 0)
        if len(tail):
            t = -_log(((a[tail] >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0**-53) / r
            s = -_log(((b[tail] >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0**-53)
            ok = s + s >= t * t
            x[tail] = np.where(ok, np.copysign(r + t, j[tail].astype(np.float64)), x[tail])
            done[tail] = ok
        again = np.flatnonzero(~done & (layer != 0))  # failed wedge tests draw again from b
        if len(again):
            fresh = b[again]
            fresh = (fresh & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32) if dtype == np.float32 else fresh.view(np.int64)
            layer[again], j[again], new_x, outside = _ziggurat_step(fresh, dtype)
            x[again] = new_x
            done[again] = ~outside
        out[positions[done]] = x[done]
        keep = ~done
        positions, layer, j, x = positions[keep], layer[keep], j[keep], x[keep]
    if len(positions):
        _ziggurat_fix_scalar(bit_generator, out, positions, layer, j, x)


def _ziggurat_fix_scalar(
    bit_generator: np.random.BitGenerator,
    out: np.ndarray,
    positions: np.ndarray,
    layer: np.ndarray,
    j: np.ndarray,
    x: np.ndarray,
) -> None:
    """The rounds of :func:`_ziggurat_fix` one value at a time: the same words, operations and values."""
    tables = ziggurat_tables()
    f_edges, f_inner = tables.f_edges.tolist(), tables.f_inner.tolist()
    dtype, r = out.dtype, ZIGGURAT_R
    units = tables.unit(dtype).astype(np.float64).tolist()
    thresholds = tables.thresholds(dtype).tolist()
    shift, word_bits = (8, 32) if dtype == np.float32 else (10, 64)
    pending = list(zip(positions.tolist(), layer.tolist(), j.tolist(), x.tolist()))
    while pending:
        words = bit_generator.random_raw(2 * len(pending)).tolist()
        left = []
        for index, (position, level, odd, value) in enumerate(pending):
            a, b = words[2 * index], words[2 * index + 1]
            if level == 0:  # the tail
                t = -_log_scalar(float((a >> 11) + 1) * 2.0**-53) / r
                s = -_log_scalar(float((b >> 11) + 1) * 2.0**-53)
                if s + s >= t * t:
                    out[position] = math.copysign(r + t, odd)
                else:
                    left.append((position, level, odd, value))
                continue
            low = f_edges[level]
            if float(a >> 11) * (1.0 / 9007199254740992.0) * (f_inner[level] - low) + low < _exp_scalar(-0.5 * value * value):
                out[position] = value
                continue
            fresh = b & ((1 << word_bits) - 1)
            fresh -= (fresh >> (word_bits - 1)) << word_bits  # as a signed integer
            level, odd = fresh & (ZIGGURAT_LAYERS - 1), (fresh >> shift) | 1
            value = float(dtype.type(odd * units[level]))  # exact product, rounded once to dtype
            if abs(odd) < thresholds[level]:
                out[position] = value
            else:
                left.append((position, level, odd, value))
        pending = left
