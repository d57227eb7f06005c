"""minGRU and minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadegh 2024,
"Were RNNs All We Needed?"): the gates see x only, never h', so the
recurrence is LINEAR in the state,

    h_t = a_t * h_{t-1} + b_t,        (a_t, b_t) functions of x_t alone,

and a whole sequence runs as an associative (parallel) scan of depth
O(log T) instead of T sequential steps (`recurrence.scan_linear_cell`).

Equations (s = sigmoid, x a row vector, every "W x + b" one dense layer):

    minGRU:   z  = s(W_z x + b_z)
              h~ = W_h x + b_h                  (g(W_h x + b_h) with log_space)
              h  = (1 - z) * h' + z * h~          a = 1 - z,   b = z * h~
    minLSTM:  f  = s(W_f x + b_f),  i = s(W_i x + b_i)
              h~ = W_h x + b_h                  (g(W_h x + b_h) with log_space)
              f' = f / (f + i),   i' = i / (f + i)
              h  = f' * h' + i' * h~              a = f',      b = i' * h~

log_space (the paper's recommended form, the default): the candidate goes
through g(v) = v + 1/2 for v >= 0, s(v) for v < 0, which is positive, so
with h_0 >= 0 every state is positive and the scan can run on logarithms
(`ScanKind.LOG_LINEAR`: `log_coefficients`, `recurrence.linear_scan_log`,
`recurrence.scan_log`):

    log h_t = logaddexp(log a_t + log h_{t-1}, log b_t)
    log a = -softplus(k),  log z = -softplus(-k)                 (minGRU, k = W_z x + b_z)
    log f' = -softplus(d), log i' = -softplus(-d),
        d = softplus(-k_f) - softplus(-k_i)                      (minLSTM)
    log g(v) = log(v + 1/2) for v >= 0, -softplus(-v) for v < 0

Parameters (blocks in the order z, h or f, i, h):

    minGRU:  W: [D, 2H]   b: [2H]
    minLSTM: W: [D, 3H]   b: [3H]

The carry is the state itself, h: [H] (an array, not a dict: the linear
scans take it as h_0); the output y_t equals the new h.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.cells.base import Carry, Cell, ScanKind
from seqmodels.nn import initializers


def g(v: Array) -> Array:
    """The paper's positive candidate activation: v + 1/2 for v >= 0, sigmoid(v) for v < 0."""
    return jnp.where(v >= 0, v + 0.5, jax.nn.sigmoid(v))


def log_g(v: Array) -> Array:
    """log g(v), computed without forming g(v): log(v + 1/2) for v >= 0, -softplus(-v) for v < 0."""
    return jnp.where(v >= 0, jnp.log(jax.nn.relu(v) + 0.5), -jax.nn.softplus(-v))


# -- the cells ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _MinRNN(Cell):
    """Shared parts: one dense layer W x + b for all blocks, a linear recurrence."""

    input_size: int
    hidden_size: int
    log_space: bool = True  # h~ = g(W_h x + b_h) > 0 and a log-space scan is possible
    kernel_init: str = "lecun_normal"

    num_blocks = 0  # set by the subclasses (a class constant, not a field)

    @property
    def scan_kind(self) -> ScanKind:
        """LOG_LINEAR with log_space (b > 0, so the log-space scan applies), else LINEAR."""
        return ScanKind.LOG_LINEAR if self.log_space else ScanKind.LINEAR

    def init(self, key: Key, dtype=jnp.float32) -> Params:
        D, H, n = self.input_size, self.hidden_size, self.num_blocks
        return {
            "W": initializers.blockwise(initializers.get(self.kernel_init), n)(key, (D, n * H), dtype),
            "b": jnp.zeros((n * H,), dtype),
        }

    def initial_carry(self, params: Params) -> Carry:
        return jnp.zeros((self.hidden_size,), params["W"].dtype)

    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... G"]:
        """W x + b for every block at once (any leading axes): all the cell ever computes from x."""
        return x @ params["W"] + params["b"]

    def candidate(self, v: Array) -> Array:
        return g(v) if self.log_space else v

    def _coefficients(self, gx: Float[Array, "... G"]) -> tuple[Array, Array]:
        """(a, b) of h = a * h' + b from the input projection (any leading axes)."""
        raise NotImplementedError

    def _log_coefficients(self, gx: Float[Array, "... G"]) -> tuple[Array, Array]:
        """(log a, log b) from the input projection (any leading axes)."""
        raise NotImplementedError

    # -- sequential form (the `lax.scan` body) --------------------------------
    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "G"]) -> tuple[Carry, Array]:
        a, b = self._coefficients(gx_t)  # [H] each
        h = a * carry + b
        return h, h

    # -- parallel form ----------------------------------------------------------
    def linear_coefficients(self, params: Params, xs: Float[Array, "T D"]) -> tuple[Array, Array]:
        """(a [T, H], b [T, H]) with h_t = a_t * h_{t-1} + b_t, for `recurrence.scan_linear_cell`."""
        self.check_input(xs, rank=2)
        return self._coefficients(self.input_projection(params, xs))

    def log_coefficients(self, params: Params, xs: Float[Array, "T D"]) -> tuple[Array, Array]:
        """(log a [T, H], log b [T, H]), for `recurrence.scan_log`; needs log_space=True (b > 0)."""
        if not self.log_space:
            raise ValueError(f"{type(self).__name__}: log_coefficients needs log_space=True "
                             f"(b = z * h~ can be negative), got log_space={self.log_space}")
        self.check_input(xs, rank=2)
        return self._log_coefficients(self.input_projection(params, xs))


@dataclasses.dataclass(frozen=True)
class MinGRU(_MinRNN):
    """minGRU (Feng et al. 2024): h = (1 - z) * h' + z * h~, z and h~ from x only."""

    num_blocks = 2

    def _coefficients(self, gx):
        H = self.hidden_size
        k, v = gx[..., :H], gx[..., H:]
        z = jax.nn.sigmoid(k)
        return jax.nn.sigmoid(-k), z * self.candidate(v)  # s(-k) = 1 - z, without cancellation where z ~ 1

    def _log_coefficients(self, gx):
        H = self.hidden_size
        k, v = gx[..., :H], gx[..., H:]
        return -jax.nn.softplus(k), -jax.nn.softplus(-k) + log_g(v)


@dataclasses.dataclass(frozen=True)
class MinLSTM(_MinRNN):
    """minLSTM (Feng et al. 2024): h = f' * h' + i' * h~ with f' + i' = 1, gates from x only."""

    num_blocks = 3

    def _coefficients(self, gx):
        H = self.hidden_size
        k_f, k_i, v = gx[..., :H], gx[..., H:2 * H], gx[..., 2 * H:]
        # f' = f / (f + i) = s(log f - log i); written this way it cannot divide 0 by 0.
        d = jax.nn.softplus(-k_f) - jax.nn.softplus(-k_i)  # log i - log f
        return jax.nn.sigmoid(-d), jax.nn.sigmoid(d) * self.candidate(v)

    def _log_coefficients(self, gx):
        H = self.hidden_size
        k_f, k_i, v = gx[..., :H], gx[..., H:2 * H], gx[..., 2 * H:]
        d = jax.nn.softplus(-k_f) - jax.nn.softplus(-k_i)
        return -jax.nn.softplus(d), -jax.nn.softplus(-d) + log_g(v)

