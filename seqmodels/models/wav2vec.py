"""wav2vec 2.0 (Baevski et al. 2020): self-supervised speech representations from raw audio.

One clip x: [S] samples (normalised to zero mean, unit variance) goes through

    feature encoder   z = f(x): [T, C]   L strided Conv1D layers ('valid'), each
                      h_l = GELU(LayerNorm(conv_l(h_{l-1})))   (the paper's "layer norm" encoder)
    quantiser         l = z W_q: [T, G, V] logits;  per group g a code v_g = argmax_v (l_gv + n_gv) / tau,
                      n ~ Gumbel(0, 1) (no noise at evaluation); q = concat_g e_{g, v_g} W_p: [T, E]
                      (codebooks e: [G, V, C_q / G]); straight-through Gumbel-softmax:
                      forward the hard one-hot, backward the gradient of softmax((l + n) / tau)
    masking           a fraction of the frames, in spans of M: round(p T) start frames drawn
                      without replacement from [0, T - M], each masks itself and the next M - 1
                      (p = 0.065, M = 10: about half of the frames, as the paper's ~49%); masked
                      inputs are replaced by one learned vector m: [D]
    context network   u = LayerNorm(z) W_f (+ mask);  u += GELU(conv_pos(u)) (a grouped 'same'
                      convolution: relative positions);  c = Transformer(u): [T, D];  c' = c W_c: [T, E]

and is trained with L = L_m + alpha L_d:

    contrastive   L_m = -log exp(sim(c'_t, q_t) / kappa) / sum_{q~ in {q_t} + Q_t} exp(sim(c'_t, q~) / kappa)
                  at masked t, sim = cosine; Q_t: K distractors drawn uniformly (with replacement) from the
                  other masked frames of the same clip; a distractor equal to q_t (the same codes) is left
                  out of the sum (fairseq's rule: it is no distractor)
    diversity     L_d = (G V - sum_g exp(-sum_v pbar_gv log pbar_gv)) / (G V),
                  pbar_gv = the softmax of l_g (no noise, no temperature) averaged over every frame of the
                  batch: 0 when every entry is used equally, (V - 1) / V when each group uses one entry

The temperature tau is annealed by the caller (`temperature(step)`: tau_max decay^step, floored at
tau_min). Each function is for one clip (time first); `batch_loss` vmaps it and adds the diversity loss,
which needs the batch. Clips of one length only (no padding: every frame is real).
Left out of this small version: the feature-penalty term and the 0.1 gradient scale of the encoder.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int, Key, Params
from seqmodels.conv.conv1d import Conv1D
from seqmodels.models.transformer import Block, Stack
from seqmodels.nn import activations, dense, dropout, initializers, norms


# --------------------------------------------------------------------------- the pieces, as plain functions


def gumbel_softmax(key: Key | None, logits: Float[Array, "... V"], temperature: float, *,
                   hard: bool = True) -> Float[Array, "... V"]:
    """softmax((l + n) / tau), n ~ Gumbel(0, 1) (no noise when key is None); with `hard`, the one-hot of its
    argmax in the forward pass and the soft sample's gradient in the backward pass (straight-through)."""
    noise = 0.0 if key is None else jax.random.gumbel(key, logits.shape, logits.dtype)
    soft = jax.nn.softmax((logits + noise) / temperature, axis=-1)
    if not hard:
        return soft
    one_hot = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1], dtype=soft.dtype)
    return one_hot + soft - jax.lax.stop_gradient(soft)


def diversity_loss(logits: Float[Array, "... G V"], mask: Bool[Array, "..."] | None = None) -> Float[Array, ""]:
    """(G V - sum_g exp(H(pbar_g))) / (G V), pbar = softmax(logits) averaged over the (masked-in) frames."""
    G, V = logits.shape[-2:]
    probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).reshape(-1, G, V)  # [N, G, V]
    w = jnp.ones(probs.shape[0]) if mask is None else mask.reshape(-1).astype(jnp.float32)
    pbar = jnp.einsum("n,ngv->gv", w, probs) / jnp.maximum(w.sum(), 1.0)  # [G, V]
    perplexity = jnp.exp(-jnp.sum(pbar * jnp.log(pbar + 1e-7), axis=-1))  # [G]
    return (G * V - perplexity.sum()) / (G * V)


def code_perplexity(codes: Int[Array, "... G"], num_entries: int) -> Float[Array, ""]:
    """sum_g exp(H(usage_g)) of the hard codes chosen (up to G V: every entry used equally)."""
    G = codes.shape[-1]
    usage = jax.nn.one_hot(codes.reshape(-1, G), num_entries).mean(0)  # [G, V]
    return jnp.exp(-jnp.sum(usage * jnp.log(usage + 1e-7), axis=-1)).sum()


def span_mask(key: Key, num_frames: int, mask_prob: float = 0.065, span: int = 10) -> Bool[Array, "T"]:
    """round(p T) (at least 1) distinct starts in [0, T - M], each masking M frames (module docstring)."""
    if span > num_frames:
        raise ValueError(f"span_mask: the span ({span} frames) is longer than the clip ({num_frames} frames); "
                         f"use a smaller mask_span or longer clips")
    num_starts = min(max(1, round(mask_prob * num_frames)), num_frames - span + 1)
    starts = jax.random.choice(key, num_frames - span + 1, (num_starts,), replace=False)  # [N]
    t = jnp.arange(num_frames)
    return jnp.any((t[None] >= starts[:, None]) & (t[None] < starts[:, None] + span), axis=0)  # [T]


def sample_distractors(key: Key, mask: Bool[Array, "T"], num: int) -> Int[Array, "T K"]:
    """For each frame t, K frame indices drawn uniformly with replacement from the masked frames other than t
    (t itself when it is the only masked frame: then its distractors all equal q_t and are left out).
    Draw r from the n - 1 others' ranks, skip t's own rank: one integer per distractor."""
    T = mask.shape[0]
    masked = jnp.argsort(~mask, stable=True)  # [T]: the masked frames first, in time order
    n = mask.sum()
    rank = jnp.cumsum(mask) - 1  # [T]: rank of a masked frame among the masked ones
    r = jax.random.randint(key, (T, num), 0, jnp.maximum(n - 1, 1))  # [T, K]
    r = jnp.where((r >= rank[:, None]) & (n > 1), r + 1, r)
    return jnp.where(n > 1, masked[r], jnp.arange(T)[:, None])


def contrastive_logits(c: Float[Array, "T E"], q: Float[Array, "T E"], distractors: Int[Array, "T K"],
                       kappa: float, codes: Int[Array, "T G"] | None = None) -> Float[Array, "T K+1"]:
    """cos(c_t, [q_t, q_{d_t1} .. q_{d_tK}]) / kappa; the true frame is column 0. A distractor with the same
    codes as q_t (or, without codes, the same vector) gets -inf."""
    candidates = jnp.concatenate([q[:, None], q[distractors]], axis=1)  # [T, K+1, E]
    unit = lambda v: v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-8)
    logits = jnp.einsum("te,tke->tk", unit(c), unit(candidates)) / kappa  # [T, K+1]
    if codes is None:
        same = jnp.all(q[distractors] == q[:, None], axis=-1)  # [T, K]
    else:
        same = jnp.all(codes[distractors] == codes[:, None], axis=-1)  # [T, K]
    return logits.at[:, 1:].set(jnp.where(same, -jnp.inf, logits[:, 1:]))


def contrastive_loss(logits: Float[Array, "... K+1"], mask: Bool[Array, "..."]) -> tuple[Array, Array]:
    """(mean over masked frames of -log softmax(logits)[0], the fraction of them whose true frame ranks first)."""
    nll = jax.nn.logsumexp(logits, axis=-1) - logits[..., 0]
    m = mask.astype(jnp.float32)
    n = jnp.maximum(m.sum(), 1.0)
    first = jnp.argmax(logits, axis=-1) == 0
    return jnp.sum(nll * m) / n, jnp.sum(first * m) / n


def temperature(step, tau_max: float = 2.0, tau_min: float = 0.5, decay: float = 0.999995):
    """Gumbel temperature at `step`: max(tau_max decay^step, tau_min) (the paper's annealing)."""
    return jnp.maximum(tau_max * decay ** jnp.asarray(step, jnp.float32), tau_min)


# --------------------------------------------------------------------------- the model


@dataclasses.dataclass(frozen=True)
class Wav2Vec2:
    """A small wav2vec 2.0; `init(key)`, `features(params, x)` (frozen features for probes), `batch_loss`."""

    conv_channels: tuple[int, ...] = (64, 64, 64)  # C of each encoder layer
    conv_kernels: tuple[int, ...] = (10, 8, 4)
    conv_strides: tuple[int, ...] = (5, 4, 4)  # total stride = samples per frame
    num_groups: int = 2  # G codebooks
    num_entries: int = 32  # V entries each
    code_dim: int = 64  # C_q, split over the groups
    final_dim: int = 64  # E, where c' and q are compared
    d_model: int = 64  # D
    num_heads: int = 4
    d_ff: int = 128
    num_layers: int = 2
    pos_kernel: int = 16  # width of the positional convolution
    pos_groups: int = 4
    mask_prob: float = 0.065  # p
    mask_span: int = 10  # M
    num_distractors: int = 20  # K
    kappa: float = 0.1
    diversity_weight: float = 0.1  # alpha
    drop_rate: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "conv_channels", tuple(self.conv_channels))
        object.__setattr__(self, "conv_kernels", tuple(self.conv_kernels))
        object.__setattr__(self, "conv_strides", tuple(self.conv_strides))
        if not self.conv_channels or len({len(self.conv_channels), len(self.conv_kernels),
                                          len(self.conv_strides)}) != 1:
            raise ValueError(f"Wav2Vec2: conv_channels, conv_kernels and conv_strides need one entry per layer "
                             f"(at least one), got {self.conv_channels}, {self.conv_kernels}, {self.conv_strides}")
        if self.code_dim % self.num_groups:
            raise ValueError(f"Wav2Vec2: code_dim={self.code_dim} must be divisible by num_groups={self.num_groups}")
        if self.num_entries < 2 or self.num_distractors < 1 or self.kappa <= 0 or not 0 < self.mask_prob < 1:
            raise ValueError(f"Wav2Vec2: expected num_entries >= 2, num_distractors >= 1, kappa > 0 and "
                             f"0 < mask_prob < 1, got {self.num_entries}, {self.num_distractors}, {self.kappa}, "
                             f"{self.mask_prob}")

    @property
    def convs(self) -> tuple[Conv1D, ...]:
        widths = (1,) + self.conv_channels
        return tuple(Conv1D(widths[i], widths[i + 1], k, padding="valid", stride=s)
                     for i, (k, s) in enumerate(zip(self.conv_kernels, self.conv_strides)))

    @property
    def pos_conv(self) -> Conv1D:
        return Conv1D(self.d_model, self.d_model, self.pos_kernel, padding="same", groups=self.pos_groups)

    @property
    def transformer(self) -> Stack:
        return Stack(Block(self.d_model, self.num_heads, self.d_ff, drop_rate=self.drop_rate), self.num_layers)

    def num_frames(self, num_samples: int) -> int:
        for conv in self.convs:
            num_samples = conv.output_length(num_samples)
        return num_samples

    def init(self, key: Key) -> Params:
        keys = iter(jax.random.split(key, len(self.convs) + 8))
        C, G, V = self.conv_channels[-1], self.num_groups, self.num_entries
        return {
            "encoder": [{"conv": conv.init(next(keys)), "norm": norms.layer_norm_init(conv.out_channels)}
                        for conv in self.convs],
            "quantizer": {"logits": dense.init(next(keys), C, G * V, w_init=initializers.normal(1.0)),  # fairseq
                          "codebooks": jax.random.uniform(next(keys), (G, V, self.code_dim // G)),  # fairseq's init
                          "project": dense.init(next(keys), self.code_dim, self.final_dim)},
            "feature_norm": norms.layer_norm_init(C),
            "feature_project": dense.init(next(keys), C, self.d_model),
            "mask_embedding": jax.random.uniform(next(keys), (self.d_model,)),
            "pos_conv": self.pos_conv.init(next(keys)),
            "transformer": self.transformer.init(next(keys)),
            "final_project": dense.init(next(keys), self.d_model, self.final_dim),
        }

    def encode(self, params: Params, x: Float[Array, "S"]) -> Float[Array, "T C"]:
        """The feature encoder's latent frames z of one clip (normalised first)."""
        if x.ndim != 1:
            raise ValueError(f"Wav2Vec2: expected one clip of shape [S] (vmap over the batch), got {x.shape}")
        h = ((x - x.mean()) / (x.std() + 1e-5))[:, None]  # [S, 1]
        for conv, p in zip(self.convs, params["encoder"]):
            h = activations.get("gelu")(norms.layer_norm(p["norm"], conv.apply(p["conv"], h)))  # [T_l, C_l]
        return h

    def quantize(self, params: Params, z: Float[Array, "T C"], key: Key | None, tau) -> tuple[Array, Array, Array]:
        """(q [T, E], logits [T, G, V], codes [T, G]); Gumbel noise only with a key."""
        G, V = self.num_groups, self.num_entries
        p = params["quantizer"]
        logits = dense.apply(p["logits"], z).reshape(z.shape[0], G, V)  # [T, G, V]
        one_hot = gumbel_softmax(key, logits, tau)  # [T, G, V]
        entries = jnp.einsum("tgv,gvc->tgc", one_hot, p["codebooks"]).reshape(z.shape[0], -1)  # [T, C_q]
        return dense.apply(p["project"], entries), logits, jnp.argmax(one_hot, axis=-1)

    def context(self, params: Params, z: Float[Array, "T C"], mask: Bool[Array, "T"] | None = None, *,
                key: Key | None = None, deterministic: bool = True) -> Float[Array, "T D"]:
        """The Transformer's output c for latent frames z, the masked ones replaced by the mask embedding."""
        k_in, k_stack = dropout.split(key, 2)
        u = dense.apply(params["feature_project"], norms.layer_norm(params["feature_norm"], z))  # [T, D]
        if mask is not None:
            u = jnp.where(mask[:, None], params["mask_embedding"], u)
        u = u + activations.get("gelu")(self.pos_conv.apply(params["pos_conv"], u))
        u = dropout.apply(u, self.drop_rate, key=k_in, deterministic=deterministic, name="Wav2Vec2")
        return self.transformer.apply(params["transformer"], u, key=k_stack, deterministic=deterministic)

    def features(self, params: Params, x: Float[Array, "S"]) -> dict[str, Array]:
        """Frozen features of one clip, nothing masked: {'latent': z [T, C], 'context': c [T, D]}."""
        z = self.encode(params, x)
        return {"latent": z, "context": self.context(params, z)}

    def example(self, params: Params, x: Float[Array, "S"], key: Key, tau, *, deterministic: bool = False) -> dict:
        """One clip's masked prediction: contrastive logits [T, K+1], mask [T], quantiser logits and codes."""
        k_mask, k_gumbel, k_neg, k_drop = jax.random.split(key, 4)
        z = self.encode(params, x)
        mask = span_mask(k_mask, z.shape[0], self.mask_prob, self.mask_span)
        q, q_logits, codes = self.quantize(params, z, None if deterministic else k_gumbel, tau)
        c = dense.apply(params["final_project"],
                        self.context(params, z, mask, key=k_drop, deterministic=deterministic))  # [T, E]
        negatives = sample_distractors(k_neg, mask, self.num_distractors)
        return {"logits": contrastive_logits(c, q, negatives, self.kappa, codes), "mask": mask,
                "q_logits": q_logits, "codes": codes}

    def batch_loss(self, params: Params, xs: Float[Array, "B S"], key: Key, tau, *,
                   deterministic: bool = False) -> tuple[Array, dict]:
        """L = L_m + alpha L_d over a batch of clips, and metrics (contrastive accuracy, code perplexity)."""
        keys = jax.random.split(key, xs.shape[0])
        out = jax.vmap(lambda x, k: self.example(params, x, k, tau, deterministic=deterministic))(xs, keys)
        l_m, accuracy = contrastive_loss(out["logits"], out["mask"])
        l_d = diversity_loss(out["q_logits"])
        return l_m + self.diversity_weight * l_d, {
            "contrastive_loss": l_m, "diversity_loss": l_d, "contrastive_accuracy": accuracy,
            "code_perplexity": code_perplexity(out["codes"], self.num_entries),
            "masked_fraction": out["mask"].mean(), "temperature": jnp.asarray(tau, jnp.float32)}


__all__ = ["Wav2Vec2", "gumbel_softmax", "diversity_loss", "code_perplexity", "span_mask", "sample_distractors",
           "contrastive_logits", "contrastive_loss", "temperature"]
