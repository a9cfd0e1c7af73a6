"""A JAX GRU on embedded Reber, trained on the protocol's batches and scored: train_batches -> score.

Pure JAX (no Flax or Optax): a GRU of 32 units, a softmax head over the 7 symbols, Adam with
gradient-norm clipping, trained on ``protocol.train_batches(seed)`` (the Keras baselines' batches,
byte for byte) and scored by ``seqtasks.score``, which passes it each published evaluation batch.
Batches are zero-padded to a few fixed widths so that ``jax.jit`` compiles only a few shapes; the
GRU is causal, so padding after a sequence changes none of its outputs there. Run it with
``python docs/examples/jax_reber.py OUT_DIR [UPDATES]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import seqtasks

NAME = "reber_grammar/embedded"
UNITS, LEARNING_RATE, CLIP_NORM, WIDTH_STEP = 32, 0.01, 1.0, 32


def init(key: jax.Array, depth: int, units: int = UNITS) -> dict[str, jax.Array]:
    """GRU and head weights (scaled normal), zero biases."""
    keys = jax.random.split(key, 3)
    normal = lambda k, shape: jax.random.normal(k, shape) / np.sqrt(shape[0])  # noqa: E731
    return {"wx": normal(keys[0], (depth, 3 * units)), "wh": normal(keys[1], (units, 3 * units)),
            "b": jnp.zeros(3 * units), "wo": normal(keys[2], (units, depth)), "bo": jnp.zeros(depth)}


def logits(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """``(n, T, depth)`` one-hot inputs -> ``(n, T, depth)`` next-symbol logits."""
    units = params["wh"].shape[0]

    def step(h, x_t):
        gx, gh = x_t @ params["wx"] + params["b"], h @ params["wh"]
        z = jax.nn.sigmoid(gx[:, :units] + gh[:, :units])
        r = jax.nn.sigmoid(gx[:, units:2 * units] + gh[:, units:2 * units])
        h = (1 - z) * h + z * jnp.tanh(gx[:, 2 * units:] + r * gh[:, 2 * units:])
        return h, h

    _, hidden = jax.lax.scan(step, jnp.zeros((x.shape[0], units)), jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(hidden, 0, 1) @ params["wo"] + params["bo"]


def loss(params, x, y, w):
    """Cross-entropy averaged over the weighted steps (weights: 0 at padding and unscored steps)."""
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits(params, x)), y[..., None], axis=-1)[..., 0]
    return (nll * w).sum() / jnp.maximum(w.sum(), 1.0)


@jax.jit
def update(params, moments, step, x, y, w):
    """One Adam update with the gradient's global norm clipped to ``CLIP_NORM``."""
    value, grads = jax.value_and_grad(loss)(params, x, y, w)
    norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(grads)))
    grads = jax.tree_util.tree_map(lambda g: g * jnp.minimum(1.0, CLIP_NORM / (norm + 1e-12)), grads)
    first, second = moments
    first = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, first, grads)
    second = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g ** 2, second, grads)
    scale = LEARNING_RATE * jnp.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
    params = jax.tree_util.tree_map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + 1e-7), params, first, second)
    return params, (first, second), value


def padded(array: np.ndarray) -> np.ndarray:
    """Zero-padded along time to the next multiple of ``WIDTH_STEP`` (few shapes, few compilations)."""
    width = -(-array.shape[1] // WIDTH_STEP) * WIDTH_STEP
    return np.pad(array, [(0, 0), (0, width - array.shape[1])] + [(0, 0)] * (array.ndim - 2))


def train(seed: int, updates: int | None = None) -> tuple[dict[str, jax.Array], int]:
    """Trains on ``protocol.train_batches(seed)`` (``updates``: the first that many; ``None``: the whole budget)."""
    p = seqtasks.protocol(NAME)
    params = init(jax.random.PRNGKey(seed), p.task.supervised_spec(p.target).input_depth)
    moments = (jax.tree_util.tree_map(jnp.zeros_like, params), jax.tree_util.tree_map(jnp.zeros_like, params))
    made = 0
    for batch in p.train_batches(seed, stop=updates):
        params, moments, _ = update(params, moments, made + 1, padded(batch.one_hot), padded(batch.targets),
                                    padded(batch.weights))
        made += 1
    return params, made


def main(out: Path, updates: int | None = None, seeds: int = 1) -> list[dict]:
    """Trains and scores ``seeds`` GRUs; writes one record per seed under ``out``."""
    records = []
    for seed in range(seeds):
        params, made = train(seed, updates)
        predict = lambda batch: np.asarray(logits(params, padded(batch.one_hot)))[:, : batch.ids.shape[1]]  # noqa: E731
        records.append(seqtasks.score(NAME, predict, model_name="GRU-32", seed=seed, framework=f"jax {jax.__version__}",
                                      parameter_count=sum(int(v.size) for v in params.values()), updates=made,
                                      logits=True, out=out / f"jax_gru_seed{seed}.json"))
    return records


if __name__ == "__main__":
    result = main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/jax_reber"),
                  int(sys.argv[2]) if len(sys.argv) > 2 else None)[0]
    print(result["follows_protocol"], result["departures"], result["metrics"]["test"])
