"""The ziggurat normals of ``seqtasks.draws``: tables, distribution, byte stability, chunking.

The checks are derived independently of the generator's code: the tables against the
equal-area property and a tail start solved here with libm, the values against the normal
CDF computed with ``math.erf``, and the word-by-word algorithm against a plain Python
transcription of the steps the docstring and ``docs/determinism.md`` state.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqtasks import draws

DTYPES = (np.float32, np.float64)
N_STAT = 1_000_000


def _f(x: float) -> float:
    return math.exp(-0.5 * x * x)


def _tail_area(r: float) -> float:
    return math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))


# -- Tables ------------------------------------------------------------------------------------------


def test_every_layer_has_the_same_area():
    t = draws.ziggurat_tables()
    v, r = draws.ZIGGURAT_V, draws.ZIGGURAT_R
    assert len(t.edges) == draws.ZIGGURAT_LAYERS == 256
    assert t.edges[-1] == r and t.inner[0] == r and t.inner[1] == 0.0
    # Base strip: the rectangle up to r plus the tail beyond it.
    assert r * _f(r) + _tail_area(r) == pytest.approx(v, rel=1e-12)
    assert t.edges[0] * _f(r) == pytest.approx(v, rel=1e-12)
    # Layer i (>= 1) spans [f(edges[i]), f(edges[i - 1])] (f(0) = 1 at the top) over [0, edges[i]].
    tops = [1.0] + [_f(x) for x in t.edges[1:-1]]
    areas = [x * (top - _f(x)) for x, top in zip(t.edges[1:], tops)]
    np.testing.assert_allclose(areas, v, rtol=1e-9)
    assert np.all(np.diff(t.edges[1:]) > 0)  # edges grow towards the base
    np.testing.assert_allclose(t.f_edges[1:], [_f(x) for x in t.edges[1:]], rtol=1e-15)
    np.testing.assert_allclose(t.f_inner[1:], [_f(x) for x in t.inner[1:]], rtol=1e-15)


def _closure(r: float) -> float:
    """``v / x[1] + f(x[1]) - 1`` for a ziggurat started at ``r`` (0 when the top layer closes at x = 0)."""
    v, x = r * _f(r) + _tail_area(r), r
    for _ in range(draws.ZIGGURAT_LAYERS - 2):
        y = v / x + _f(x)
        if y >= 1.0:  # the layers reach the peak too early: r too small
            return 1.0
        x = math.sqrt(-2.0 * math.log(y))
    return v / x + _f(x) - 1.0


def test_tail_start_closes_the_top_layer():
    low, high = 3.0, 4.5
    assert _closure(low) > 0 > _closure(high)
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if _closure(mid) > 0 else (low, mid)
    assert abs(low - draws.ZIGGURAT_R) < 1e-9
    assert draws.ZIGGURAT_V == pytest.approx(low * _f(low) + _tail_area(low), rel=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_quick_acceptance_stays_under_the_curve(dtype):
    """``|j| < k`` exactly covers ``|j| * w < inner``: the accepted rectangle of each layer, no more."""
    t = draws.ziggurat_tables()
    unit = t.unit(dtype).astype(np.float64)
    k = t.thresholds(dtype)
    bits = 23 if dtype == np.float32 else 53
    np.testing.assert_allclose(unit * 2.0**bits, t.edges, rtol=2.0**-23 if dtype == np.float32 else 1e-15)
    assert k[1] == 0 and np.all(k < 2**bits)
    close = 1e-15  # the products below round once
    assert np.all((k - 1) * unit <= t.inner * (1 + close))  # the largest accepted |x| is inside
    assert np.all(k * unit >= t.inner * (1 - close))  # the smallest rejected |x| is not


def test_portable_exp_and_its_scalar_twin():
    u = draws.Draws(np.random.PCG64(1)).uniform(50_000)
    x = np.concatenate([-7.0 * u, 700.0 * u - 350.0, [0.0, -0.5, 1e-300, -1e-300]])
    np.testing.assert_allclose(draws._exp(x), np.exp(x), rtol=1e-15)
    scalar = np.array([draws._exp_scalar(float(value)) for value in x[:5000]])
    assert scalar.tobytes() == draws._exp(x[:5000]).tobytes()
    y = np.concatenate([1.0 - u[:5000], u[:5000] * 1e3 + 1e-12])
    assert np.array([draws._log_scalar(float(value)) for value in y]).tobytes() == draws._log(y).tobytes()


# -- Distribution --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=DTYPES, ids=["float32", "float64"])
def sample(request) -> np.ndarray:
    values = draws.ziggurat_normal(np.random.PCG64(20261201), N_STAT, request.param)
    assert values.dtype == request.param and values.shape == (N_STAT,)
    return values.astype(np.float64)


def test_kolmogorov_smirnov_below_the_1e3_critical_value(sample):
    x = np.sort(sample)
    n = len(x)
    cdf = 0.5 * (1.0 + np.frompyfunc(math.erf, 1, 1)(x / math.sqrt(2)).astype(np.float64))
    statistic = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    critical = math.sqrt(-math.log(1e-3 / 2) / 2) / math.sqrt(n)  # 1.949 / sqrt(n)
    assert statistic < critical, (statistic, critical)


def test_moments(sample):
    n = len(sample)
    mean, var = sample.mean(), sample.var()
    kurtosis = np.mean((sample - mean) ** 4) / var**2 - 3.0
    assert abs(mean) < 5 / math.sqrt(n)
    assert abs(var - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(kurtosis) < 5 * math.sqrt(24 / n)
    assert abs(np.mean(sample > 0) - 0.5) < 5 * math.sqrt(0.25 / n)


@pytest.mark.parametrize("beyond", [3.0, draws.ZIGGURAT_R, 4.0])
def test_tail_mass_within_binomial_tolerance(sample, beyond):
    n = len(sample)
    p = math.erfc(beyond / math.sqrt(2))  # P(|x| > beyond)
    assert abs(np.mean(np.abs(sample) > beyond) - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_values_are_finite_and_never_zero(sample):
    assert np.isfinite(sample).all() and not (sample == 0).any()
    assert np.abs(sample).max() < 7.0  # P(|x| > 7) ~ 2.6e-12 per value


# -- Bytes ---------------------------------------------------------------------------------------

GOLDEN = {  # sha256 of ziggurat_normal(PCG64(7), 20_000, dtype), little-endian
    np.float32: "d466435a0bf02a7b4251b782d3f977af2b0d4c2eddc890a4e75138905693412b",
    np.float64: "5c7e23801c8eb6ed00e8ec15e87235dc5a81591de97031e31bae6fa11513f6d2",
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_golden_bytes(dtype):
    """A pinned draw: any change to the ziggurat's words, tables or arithmetic changes it."""
    values = draws.ziggurat_normal(np.random.PCG64(7), 20_000, dtype)
    assert hashlib.sha256(values.astype(values.dtype.newbyteorder("<")).tobytes()).hexdigest() == GOLDEN[dtype]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(0, 3000),
    chunk=st.integers(1, 600).map(lambda half: 2 * half),
    vector_round=st.sampled_from([1, 2, 48, 10**9]),
    dtype=st.sampled_from(DTYPES),
)
def test_same_values_for_any_chunking(seed, count, chunk, vector_round, dtype, monkeypatch_module):
    """The internal chunk size and the vectorised/one-by-one switch of the redraw rounds change no value,
    and the generator is left at the same word."""
    reference_bits, bits = np.random.PCG64(seed), np.random.PCG64(seed)
    reference = draws.ziggurat_normal(reference_bits, count, dtype)
    with monkeypatch_module.context() as patch:
        patch.setattr(draws, "_ZIGGURAT_CHUNK", chunk)
        patch.setattr(draws, "_ZIGGURAT_VECTOR_ROUND", vector_round)
        values = draws.ziggurat_normal(bits, count, dtype)
    assert values.tobytes() == reference.tobytes()
    assert bits.random_raw() == reference_bits.random_raw()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _reference(seed: int, count: int, dtype: type) -> tuple[np.ndarray, int]:
    """The documented algorithm, one value and one word at a time in plain Python; returns the values
    and the next raw word of the generator."""
    t = draws.ziggurat_tables()
    bits = np.random.PCG64(seed)
    float32 = dtype == np.float32
    magnitude, shift, word = (23, 8, 32) if float32 else (53, 10, 64)
    units = [float(dtype(x * 2.0**-magnitude)) for x in t.edges]

    def signed(w: int) -> int:
        w &= (1 << word) - 1
        return w - (1 << word) if w >> (word - 1) else w

    def draw(w: int) -> tuple[int, int, float]:
        w = signed(w)
        layer, j = w & 255, (w >> shift) | 1
        return layer, j, float(dtype(j * units[layer]))

    thresholds = [math.ceil(inner / unit) for inner, unit in zip(t.inner, units)]

    def inside(layer: int, j: int) -> bool:  # |j| < ceil(inner / w): |j| * w < inner, in integers
        return abs(j) < thresholds[layer]

    if float32:
        words = bits.random_raw(-(-count // 2)).tolist()
        main = [half for w in words for half in (w & 0xFFFFFFFF, w >> 32)][:count]
    else:
        main = bits.random_raw(count).tolist()
    out = [0.0] * count
    pending = []
    for position, w in enumerate(main):
        layer, j, x = draw(w)
        if inside(layer, j):
            out[position] = x
        else:
            pending.append((position, layer, j, x))
    r = draws.ZIGGURAT_R
    while pending:
        words = bits.random_raw(2 * len(pending)).tolist()
        left = []
        for index, (position, layer, j, x) in enumerate(pending):
            a, b = words[2 * index], words[2 * index + 1]
            if layer == 0:
                tail = -draws._log_scalar(((a >> 11) + 1) / 2.0**53) / r
                height = -draws._log_scalar(((b >> 11) + 1) / 2.0**53)
                if 2 * height >= tail * tail:
                    out[position] = math.copysign(r + tail, j)
                else:
                    left.append((position, layer, j, x))
                continue
            u = (a >> 11) / 2.0**53
            if t.f_edges[layer] + u * (t.f_inner[layer] - t.f_edges[layer]) < draws._exp_scalar(-0.5 * x * x):
                out[position] = x
                continue
            layer, j, x = draw(b)
            if inside(layer, j):
                out[position] = x
            else:
                left.append((position, layer, j, x))
        pending = left
    return np.array(out, dtype=dtype), int(bits.random_raw())


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("seed, count", [(0, 1), (1, 7), (2, 40_001)])
def test_matches_the_documented_algorithm(dtype, seed, count):
    expected, next_word = _reference(seed, count, dtype)
    bits = np.random.PCG64(seed)
    values = draws.ziggurat_normal(bits, count, dtype)
    assert values.tobytes() == expected.tobytes()
    assert int(bits.random_raw()) == next_word  # and exactly the documented words were read


def test_draws_method_shapes_and_bad_dtype():
    d = draws.Draws(np.random.PCG64(3))
    assert d.ziggurat_normal((4, 5, 6), np.float32).shape == (4, 5, 6)
    assert d.ziggurat_normal(0).shape == (0,) and d.ziggurat_normal(3).dtype == np.float64
    with pytest.raises(ValueError, match="invalid dtype=float16; allowed: float32 or float64"):
        d.ziggurat_normal(3, np.float16)
