"""Bernoulli-Bernoulli restricted Boltzmann machine (Smolensky 1986; Hinton 2002), v in {0,1}^V, h in {0,1}^H.

    energy:          E(v, h) = -b_v.v - b_h.h - v^T W h                   W [V, H]
    conditionals:    p(h_j = 1 | v) = sigmoid(b_h_j + v.W[:, j]),   p(v_i = 1 | h) = sigmoid(b_v_i + W[i].h)
    free energy:     F(v) = -log sum_h exp(-E(v, h)) = -b_v.v - sum_j softplus(b_h_j + v.W[:, j]),  p(v) = e^-F(v) / Z
    log-lik. grad:   -d log p(v)/d theta = dF(v)/d theta - E_model[dF/d theta]

Training replaces the model expectation by Gibbs samples v~ (v -> h -> v ...):
CD-k starts k steps from the data (Hinton 2002), persistent CD (PCD, Tieleman
2008, scikit-learn's BernoulliRBM) continues chains kept from the previous
update. `contrastive_loss` = mean F(v_data) - mean F(stop_gradient(v~)) is a
surrogate whose gradient is that estimate: dW = <v p(h|v)>_data - <v~ p(h|v~)>.

Pseudo-likelihood as scikit-learn's `score_samples` defines it: flip one bit i
of v, PL(v) = V log sigmoid(F(v_flipped) - F(v)). Every function takes one
example (v [V], h [H]); vmap over a batch.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params

__all__ = ["init", "energy", "free_energy", "hidden_probs", "visible_probs", "sample_hidden", "sample_visible",
           "gibbs_vhv", "gibbs_hvh", "cd_negative", "pcd_negative", "contrastive_loss", "pseudo_likelihood",
           "reconstruction_error"]


def init(key: Key, num_visible: int, num_hidden: int, stddev: float = 0.01) -> Params:
    """W ~ N(0, stddev^2) (scikit-learn's 0.01), biases zero."""
    return {"W": stddev * jax.random.normal(key, (num_visible, num_hidden)),
            "b_v": jnp.zeros(num_visible), "b_h": jnp.zeros(num_hidden)}


def energy(params: Params, v: Float[Array, "V"], h: Float[Array, "H"]) -> Float[Array, ""]:
    return -params["b_v"] @ v - params["b_h"] @ h - v @ params["W"] @ h


def free_energy(params: Params, v: Float[Array, "V"]) -> Float[Array, ""]:
    return -params["b_v"] @ v - jax.nn.softplus(params["b_h"] + v @ params["W"]).sum()


def hidden_probs(params: Params, v: Float[Array, "V"]) -> Float[Array, "H"]:
    return jax.nn.sigmoid(params["b_h"] + v @ params["W"])


def visible_probs(params: Params, h: Float[Array, "H"]) -> Float[Array, "V"]:
    return jax.nn.sigmoid(params["b_v"] + params["W"] @ h)


def sample_hidden(params: Params, v: Float[Array, "V"], key: Key) -> Float[Array, "H"]:
    p = hidden_probs(params, v)
    return jax.random.bernoulli(key, p).astype(p.dtype)


def sample_visible(params: Params, h: Float[Array, "H"], key: Key) -> Float[Array, "V"]:
    p = visible_probs(params, h)
    return jax.random.bernoulli(key, p).astype(p.dtype)


def gibbs_vhv(params: Params, v: Float[Array, "V"], key: Key, k: int = 1) -> Float[Array, "V"]:
    """k steps v -> h ~ p(h|v) -> v ~ p(v|h); returns the last visible sample."""
    def step(v, key):
        kh, kv = jax.random.split(key)
        return sample_visible(params, sample_hidden(params, v, kh), kv), None
    return jax.lax.scan(step, v, jax.random.split(key, k))[0]


def gibbs_hvh(params: Params, h: Float[Array, "H"], key: Key, k: int = 1
              ) -> tuple[Float[Array, "V"], Float[Array, "H"]]:
    """k steps h -> v ~ p(v|h) -> h ~ p(h|v), from a hidden state (a persistent chain): (last v, last h)."""
    def step(carry, key):
        kv, kh = jax.random.split(key)
        v = sample_visible(params, carry[1], kv)
        return (v, sample_hidden(params, v, kh)), None
    v0 = jnp.zeros_like(params["b_v"])
    return jax.lax.scan(step, (v0, h), jax.random.split(key, k))[0]


def cd_negative(params: Params, v: Float[Array, "V"], key: Key, k: int = 1) -> Float[Array, "V"]:
    """CD-k's negative sample: k Gibbs steps started at the data example v."""
    return gibbs_vhv(params, v, key, k)


def pcd_negative(params: Params, h_chain: Float[Array, "H"], key: Key, k: int = 1
                 ) -> tuple[Float[Array, "V"], Float[Array, "H"]]:
    """PCD's negative sample and the chain's next hidden state (scikit-learn keeps h of batch_size chains)."""
    return gibbs_hvh(params, h_chain, key, k)


def contrastive_loss(params: Params, v_data: Float[Array, "B V"], v_model: Float[Array, "B V"]) -> Float[Array, ""]:
    """mean_b F(v_data) - mean_b F(v_model): its gradient is minus the CD / PCD estimate of d log p / d theta."""
    f = jax.vmap(free_energy, in_axes=(None, 0))
    return f(params, v_data).mean() - f(params, jax.lax.stop_gradient(v_model)).mean()


def pseudo_likelihood(params: Params, v: Float[Array, "V"], index: Int[Array, ""] | None = None) -> Float[Array, ""]:
    """V log sigmoid(F(v with bit `index` flipped) - F(v)) (scikit-learn's BernoulliRBM.score_samples); with no
    index its mean over every bit, the pseudo-log-likelihood sum_i log p(v_i | v_-i) (score_samples' expectation)."""
    if index is None:
        return jax.vmap(lambda i: pseudo_likelihood(params, v, i))(jnp.arange(v.shape[0])).mean()
    flipped = v.at[index].set(1.0 - v[index])
    return v.shape[0] * jax.nn.log_sigmoid(free_energy(params, flipped) - free_energy(params, v))


def reconstruction_error(params: Params, v: Float[Array, "V"]) -> Float[Array, ""]:
    """Mean squared error of the mean-field reconstruction p(v | h = p(h|v)), per pixel."""
    return jnp.mean((v - visible_probs(params, hidden_probs(params, v))) ** 2)
