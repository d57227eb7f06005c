"""Hopfield network (Hopfield 1982) with bipolar units s in {-1, +1}^N.

    Hebbian storage of P patterns x_p:   W = (1/N) sum_p x_p x_p^T,  W_ii = 0      (symmetric)
    energy:                              E(s) = -1/2 s^T W s + theta^T s
    local field of unit i:               h_i = sum_j W_ij s_j - theta_i
    update of unit i:                    s_i <- sign(h_i)   (h_i = 0 keeps s_i)

Asynchronous recall updates one unit at a time, every unit once per sweep in a
fresh random order; with W symmetric and W_ii = 0 a flip changes the energy by
-2 |h_i| <= 0, so E never increases and recall ends in a fixed point.
Synchronous recall updates all units at once (s <- sign(W s - theta)); it can
end in a 2-cycle instead. Capacity of Hebbian storage for random patterns:
about 0.138 N (Amit, Gutfreund & Sompolinsky 1985).

Params are {"W": [N, N], "theta": [N]}; a state is one example s [N] (vmap for a batch).
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params

__all__ = ["hebbian", "energy", "local_field", "update_unit", "async_sweep", "sync_sweep", "recall"]

MODES = ("async", "sync")


def hebbian(patterns: Float[Array, "P N"], theta: Float[Array, "N"] | None = None) -> Params:
    """W = (1/N) X^T X with a zero diagonal, for bipolar patterns X [P, N]; thresholds theta (default 0)."""
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"hebbian: patterns must be [P, N] (one bipolar pattern per row), got shape {patterns.shape}")
    n = patterns.shape[1]
    w = patterns.T @ patterns / n  # [N, N]
    w = w * (1.0 - jnp.eye(n, dtype=w.dtype))
    return {"W": w, "theta": jnp.zeros(n, w.dtype) if theta is None else jnp.asarray(theta, w.dtype)}


def energy(params: Params, s: Float[Array, "N"]) -> Float[Array, ""]:
    return -0.5 * s @ params["W"] @ s + params["theta"] @ s


def local_field(params: Params, s: Float[Array, "N"]) -> Float[Array, "N"]:
    return params["W"] @ s - params["theta"]


def _sign(h, s):
    return jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, s)).astype(s.dtype)  # a zero field keeps the state


def update_unit(params: Params, s: Float[Array, "N"], i: Array) -> Float[Array, "N"]:
    """s with unit i set to sign(h_i)."""
    h_i = params["W"][i] @ s - params["theta"][i]
    return s.at[i].set(_sign(h_i, s[i]))


def async_sweep(params: Params, s: Float[Array, "N"], key: Key) -> Float[Array, "N"]:
    """One asynchronous sweep: every unit updated once, in a random order drawn from `key`."""
    order = jax.random.permutation(key, s.shape[0])
    return jax.lax.fori_loop(0, s.shape[0], lambda t, s: update_unit(params, s, order[t]), s)


def sync_sweep(params: Params, s: Float[Array, "N"], key: Key | None = None) -> Float[Array, "N"]:
    """All units at once: s <- sign(W s - theta)."""
    del key
    return _sign(local_field(params, s), s)


def recall(params: Params, s: Float[Array, "N"], key: Key | None = None, *, num_sweeps: int,
           mode: str = "async") -> tuple[Float[Array, "T N"], Float[Array, "T"]]:
    """Run `num_sweeps` sweeps from s: (states [num_sweeps + 1, N], energies [num_sweeps + 1]), row 0 the start.

    mode "async" needs `key` (one permutation per sweep); "sync" ignores it. Jittable (`num_sweeps`, `mode` static).
    """
    if mode not in MODES:
        raise ValueError(f"recall: mode must be one of {MODES}, got {mode!r}")
    if s.shape != params["theta"].shape:
        raise ValueError(f"recall: the state must be one example [N] = {params['theta'].shape}, got {s.shape}")
    if mode == "async" and key is None:
        raise ValueError("recall: asynchronous recall needs a PRNG key (a random unit order per sweep)")
    sweep = async_sweep if mode == "async" else sync_sweep
    keys = jax.random.split(key, num_sweeps) if key is not None else jnp.zeros((num_sweeps, 2), jnp.uint32)

    def body(s, k):
        s = sweep(params, s, k)
        return s, (s, energy(params, s))

    _, (states, energies) = jax.lax.scan(body, s, keys)
    return jnp.concatenate([s[None], states]), jnp.concatenate([energy(params, s)[None], energies])
