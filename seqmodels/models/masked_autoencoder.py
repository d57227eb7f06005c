"""Masked autoencoder (MAE, He et al. 2022) for 1-D signals: hide most patches, predict their samples.

One example x: [T, C] is cut into P = T / p patches of p frames, x_patches: [P, p C]. Masking draws one
uniform noise value per patch and keeps the K = int(P (1 - mask_ratio)) patches with the smallest noise
(the paper's shuffle / keep-first-K / unshuffle formulation, `mask_from_noise`):

    shuffle = argsort(noise)        restore = argsort(shuffle)        keep = shuffle[:K]
    m_i = 1 if patch i is masked    (exactly P - K ones)

Encoder (a Transformer Stack) on the K visible patches only; decoder (a lighter Stack) on all P:

    e = x_patches W_e + b_e + pos_e                    [P, D]   pos: fixed sinusoids (positional.sinusoidal)
    h = Encoder(e[keep])                               [K, D]
    z = concat(h W_d + b_d, [mask token] * (P - K))    [P, E]   in shuffled order
    z = z[restore] + pos_d                             [P, E]   back to patch order
    y = Decoder(z) W_o + b_o                           [P, p C] predicted samples of every patch

    loss = sum_i m_i mean_j (y_ij - t_ij)^2 / sum_i m_i           masked patches only

t = x_patches, or with `norm_pix_loss` each patch standardised by its own mean and variance
(t_i = (x_i - mean(x_i)) / sqrt(var(x_i) + 1e-6)). Fine-tuning keeps the encoder and reads all P patches
(`encode` without `keep`); the decoder is thrown away.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int, Key, Params
from seqmodels.attention import positional
from seqmodels.models import heads
from seqmodels.models.transformer import Stack
from seqmodels.nn import dense

NORM_PIX_EPS = 1e-6


def patchify(x: Float[Array, "T C"], patch_size: int) -> Float[Array, "P pC"]:
    """[T, C] -> [T / p, p C], patch i = frames i p .. i p + p - 1."""
    if x.ndim != 2 or x.shape[0] % patch_size:
        raise ValueError(f"patchify: expected x of shape [T, C] with T a multiple of patch_size={patch_size} "
                         f"(one example; vmap over the batch), got shape {x.shape}")
    return x.reshape(x.shape[0] // patch_size, patch_size * x.shape[1])  # [P, p C]


def unpatchify(patches: Float[Array, "P pC"], channels: int) -> Float[Array, "T C"]:
    return patches.reshape(-1, channels)  # [P p, C]


def num_kept(num_patches: int, mask_ratio: float) -> int:
    """K = int(P (1 - mask_ratio)), the paper's len_keep; at least one patch is kept and one masked."""
    keep = int(num_patches * (1 - mask_ratio))
    if not 0 < keep < num_patches:
        raise ValueError(f"masked autoencoder: mask_ratio={mask_ratio} keeps {keep} of {num_patches} patches; "
                         f"expected a ratio that keeps at least one patch and masks at least one")
    return keep


def mask_from_noise(noise: Float[Array, "P"], num_keep: int
                    ) -> tuple[Int[Array, "K"], Int[Array, "P"], Float[Array, "P"]]:
    """(keep [K]: the visible patches in shuffled order, restore [P]: the unshuffling permutation,
    mask [P]: 1.0 where a patch is masked) of the K patches with the smallest noise."""
    shuffle = jnp.argsort(noise)  # [P] ascending: small noise is kept
    restore = jnp.argsort(shuffle)  # [P]
    mask = jnp.ones(noise.shape[0]).at[:num_keep].set(0.0)[restore]  # [P] in patch order
    return shuffle[:num_keep], restore, mask


def masked_patch_loss(pred: Float[Array, "P pC"], patches: Float[Array, "P pC"], mask: Float[Array, "P"], *,
                      norm_pix_loss: bool = False) -> Float[Array, ""]:
    """Mean squared error per patch, averaged over the masked patches (mask 1) only."""
    target = normalise_patches(patches) if norm_pix_loss else patches
    per_patch = jnp.mean((pred - target) ** 2, axis=-1)  # [P]
    return jnp.sum(per_patch * mask) / jnp.sum(mask)


def normalise_patches(patches: Float[Array, "P pC"]) -> Float[Array, "P pC"]:
    mean, var = patches.mean(-1, keepdims=True), patches.var(-1, keepdims=True)  # [P, 1]
    return (patches - mean) / jnp.sqrt(var + NORM_PIX_EPS)


@dataclasses.dataclass(frozen=True)
class MaskedAutoencoder:
    """x [T, C] -> predicted patches [P, p C]; params {"encoder": {proj, stack}, "decoder": {...}}."""

    seq_len: int  # T
    channels: int  # C
    patch_size: int  # p
    encoder: Stack  # non-causal, d_model D
    decoder: Stack  # non-causal, d_model E (lighter than the encoder)
    mask_ratio: float = 0.75
    norm_pix_loss: bool = False

    def __post_init__(self):
        if self.seq_len % self.patch_size:
            raise ValueError(f"MaskedAutoencoder: patch_size={self.patch_size} does not divide seq_len={self.seq_len}")
        for name, stack in (("encoder", self.encoder), ("decoder", self.decoder)):
            if stack.block.causal or stack.block.cross_attention:
                raise ValueError(f"MaskedAutoencoder: the {name} block needs causal=False and cross_attention=False")
        num_kept(self.num_patches, self.mask_ratio)

    @property
    def num_patches(self) -> int:
        return self.seq_len // self.patch_size

    @property
    def num_keep(self) -> int:
        return num_kept(self.num_patches, self.mask_ratio)

    def init_encoder(self, key: Key) -> Params:
        k_proj, k_stack = jax.random.split(key)
        return {"proj": dense.init(k_proj, self.patch_size * self.channels, self.encoder.block.d_model),
                "stack": self.encoder.init(k_stack)}

    def init(self, key: Key) -> Params:
        k_enc, k_in, k_mask, k_stack, k_out = jax.random.split(key, 5)
        D, E = self.encoder.block.d_model, self.decoder.block.d_model
        return {"encoder": self.init_encoder(k_enc),
                "decoder": {"proj": dense.init(k_in, D, E), "mask_token": 0.02 * jax.random.normal(k_mask, (E,)),
                            "stack": self.decoder.init(k_stack),
                            "out": dense.init(k_out, E, self.patch_size * self.channels)}}

    def encode(self, params: Params, x: Float[Array, "T C"], keep: Int[Array, "K"] | None = None, *,
               key: Key | None = None, deterministic: bool = True) -> Float[Array, "K D"]:
        """The encoder's states of the patches `keep` (all P patches, in order, when None); params: the encoder's."""
        if x.shape != (self.seq_len, self.channels):
            raise ValueError(f"MaskedAutoencoder: expected x of shape [{self.seq_len}, {self.channels}] (one "
                             f"example; vmap over the batch), got shape {x.shape}")
        e = dense.apply(params["proj"], patchify(x, self.patch_size))  # [P, D]
        e = e + positional.sinusoidal(self.num_patches, e.shape[-1], dtype=e.dtype)
        if keep is not None:
            e = e[keep]  # [K, D]
        return self.encoder.apply(params["stack"], e, key=key, deterministic=deterministic)

    def decode(self, params: Params, h: Float[Array, "K D"], restore: Int[Array, "P"], *,
               key: Key | None = None, deterministic: bool = True) -> Float[Array, "P pC"]:
        """The predicted samples of every patch from the visible patches' states; params: the decoder's."""
        z = dense.apply(params["proj"], h)  # [K, E]
        masked = jnp.broadcast_to(params["mask_token"], (self.num_patches - h.shape[0], z.shape[-1]))  # [P-K, E]
        z = jnp.concatenate([z, masked])[restore]  # [P, E] in patch order
        z = z + positional.sinusoidal(self.num_patches, z.shape[-1], dtype=z.dtype)
        return dense.apply(params["out"], self.decoder.apply(params["stack"], z, key=key, deterministic=deterministic))

    def apply(self, params: Params, x: Float[Array, "T C"], *, key: Key, deterministic: bool = False
              ) -> tuple[Float[Array, "P pC"], Float[Array, "P"]]:
        """(predicted patches [P, p C], mask [P]) of one example under a random mask drawn from `key`."""
        k_mask, k_enc, k_dec = jax.random.split(key, 3)
        keep, restore, mask = mask_from_noise(jax.random.uniform(k_mask, (self.num_patches,)), self.num_keep)
        h = self.encode(params["encoder"], x, keep, key=k_enc, deterministic=deterministic)
        return self.decode(params["decoder"], h, restore, key=k_dec, deterministic=deterministic), mask

    def example_losses(self, params: Params, xs: Float[Array, "B T C"], key: Key, *, deterministic: bool = False
                       ) -> Float[Array, "B"]:
        """The masked-patch loss of every example of a batch, each under its own mask (one key each)."""
        def one(x, k):
            pred, mask = self.apply(params, x, key=k, deterministic=deterministic)
            return masked_patch_loss(pred, patchify(x, self.patch_size), mask, norm_pix_loss=self.norm_pix_loss)

        return jax.vmap(one)(xs, jax.random.split(key, xs.shape[0]))

    def loss(self, params: Params, xs: Float[Array, "B T C"], key: Key, *, deterministic: bool = False
             ) -> Float[Array, ""]:
        """The batch mean (every example masks P - K patches: equal weights)."""
        return jnp.mean(self.example_losses(params, xs, key, deterministic=deterministic))

    def backbone(self) -> heads.Backbone:
        """The encoder on all P patches, h [P, D], as a backbone for a head (fine-tuning); params: the encoder's."""
        def apply(params, x, *, lengths=None, key=None, deterministic=False):
            if lengths is not None:
                raise ValueError("MaskedAutoencoder: patches of a fixed-length input; lengths are not supported")
            return self.encode(params, x, key=key, deterministic=deterministic)

        return heads.Backbone(self.init_encoder, apply, self.encoder.block.d_model)

    def reconstruct(self, params: Params, x: Float[Array, "T C"], key: Key
                    ) -> tuple[Float[Array, "T C"], Bool[Array, "T"]]:
        """(x with its masked patches replaced by the prediction [T, C], masked frames [T]); with norm_pix_loss
        each predicted patch is put back on its true patch's mean and scale (as the paper's figures do)."""
        pred, mask = self.apply(params, x, key=key, deterministic=True)
        patches = patchify(x, self.patch_size)
        if self.norm_pix_loss:
            pred = pred * jnp.sqrt(patches.var(-1, keepdims=True) + NORM_PIX_EPS) + patches.mean(-1, keepdims=True)
        filled = jnp.where(mask[:, None] > 0, pred, patches)  # [P, p C]
        return unpatchify(filled, self.channels), jnp.repeat(mask > 0, self.patch_size)


__all__ = ["patchify", "unpatchify", "num_kept", "mask_from_noise", "masked_patch_loss", "normalise_patches",
           "MaskedAutoencoder"]
