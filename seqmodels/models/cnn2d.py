"""A 2-D convolutional network (LeNet's pattern): conv blocks with an activation and pooling, a dense read-out.

    h_0 = x                                        [H, W, C]   (a grey image [H, W] gets C = 1)
    h_l = pool(act(conv_l(h_{l-1})))               [H_l, W_l, C_l],  l = 1..L   (seqmodels.nn.conv2d)
    z = vec(h_L);   z = act(W_h z + b_h)  (if hidden_size > 0);   logits = W_o dropout(z) + b_o

Each conv has kernel K x K, stride 1 and 'SAME' (H_l = H_{l-1} before pooling) or 'VALID' padding; pooling
('max' | 'avg' | 'none') takes non-overlapping P x P windows, H_l = floor(H_{l-1} / P). One example at a
time; `apply_batch` vmaps. Keys: one per conv, one for the hidden layer (if any), one for the read-out.
"""

import dataclasses

import jax

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.models.heads import readout_init, split_parts
from seqmodels.nn import activations, dense, dropout
from seqmodels.nn.conv2d import Conv2D, pool

POOLINGS = ("max", "avg", "none")


@dataclasses.dataclass(frozen=True)
class CNN2D:
    """x [H, W] or [H, W, C] -> logits [num_classes]. `features(params, x)` gives each block's activation map."""
    image_size: tuple[int, int]  # (H, W)
    in_channels: int
    channels: tuple[int, ...]  # C_l of each conv block
    num_classes: int
    kernel_size: int = 3
    padding: str = "SAME"  # 'SAME' | 'VALID'
    pooling: str = "max"  # max | avg | none
    pool_size: int = 2
    activation: str = "relu"  # a name of seqmodels.nn.activations
    hidden_size: int = 0  # a dense hidden layer before the read-out (0: none)
    drop_rate: float = 0.0  # dropout on z, before the read-out

    def __post_init__(self):
        object.__setattr__(self, "image_size", tuple(self.image_size))
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.pooling not in POOLINGS:
            raise ValueError(f"CNN2D.pooling: expected one of {POOLINGS}, got {self.pooling!r}")
        if not self.channels:
            raise ValueError("CNN2D.channels: expected at least one conv block, got ()")
        activations.get(self.activation)
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"CNN2D.drop_rate: expected a rate in [0, 1), got {self.drop_rate}")
        if min(min(s) for s in self.block_sizes) < 1:
            raise ValueError(f"CNN2D: {len(self.channels)} blocks of {self.kernel_size} x {self.kernel_size} "
                             f"convs ({self.padding}) and {self.pool_size} x {self.pool_size} {self.pooling} "
                             f"pooling leave no pixel of a {self.image_size[0]} x {self.image_size[1]} image")

    @property
    def convs(self) -> list[Conv2D]:
        return [Conv2D(a, b, self.kernel_size, padding=self.padding)
                for a, b in zip((self.in_channels, *self.channels), self.channels)]

    @property
    def block_sizes(self) -> list[tuple[int, int]]:
        """(H_l, W_l) after each block's pooling."""
        sizes, size = [], self.image_size
        for conv in self.convs:
            size = conv.output_size(size)
            if self.pooling != "none":
                size = (size[0] // self.pool_size, size[1] // self.pool_size)
            sizes.append(size)
        return sizes

    @property
    def feature_size(self) -> int:
        """len(z) = H_L W_L C_L."""
        h, w = self.block_sizes[-1]
        return h * w * self.channels[-1]

    def init(self, key: Key) -> Params:
        convs = self.convs
        keys = split_parts(key, len(convs) + 1 + bool(self.hidden_size))
        params = {"convs": [c.init(k) for c, k in zip(convs, keys)]}
        fan_in = self.feature_size
        if self.hidden_size:
            params["hidden"] = readout_init(keys[len(convs)], fan_in, self.hidden_size)
            fan_in = self.hidden_size
        params["readout"] = readout_init(keys[-1], fan_in, self.num_classes)
        return params

    def _image(self, x):
        x = x[..., None] if x.ndim == 2 else x  # a grey image: one channel
        if x.shape != (*self.image_size, self.in_channels):
            raise ValueError(f"CNN2D: expected one image [{self.image_size[0]}, {self.image_size[1]}] or "
                             f"[{self.image_size[0]}, {self.image_size[1]}, {self.in_channels}] (vmap over the "
                             f"batch: apply_batch), got shape {x.shape}")
        return x

    def features(self, params: Params, x: Float[Array, "H W *C"]) -> list[Float[Array, "H_l W_l C_l"]]:
        """act(conv_l(h_{l-1})) of every block, before its pooling (the feature maps)."""
        h, maps = self._image(x), []
        act = activations.get(self.activation)
        for conv, p in zip(self.convs, params["convs"]):
            maps.append(act(conv.apply(p, h)))
            h = maps[-1] if self.pooling == "none" else pool(self.pooling, maps[-1], self.pool_size)
        return maps

    def apply(self, params: Params, x: Float[Array, "H W *C"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "K"]:
        if lengths is not None:
            raise ValueError("CNN2D: reads a whole fixed-size image; lengths are not supported")
        maps = self.features(params, x)
        h = maps[-1] if self.pooling == "none" else pool(self.pooling, maps[-1], self.pool_size)
        z = h.reshape(-1)  # [H_L W_L C_L]
        if self.hidden_size:
            z = activations.get(self.activation)(dense.apply(params["hidden"], z))
        z = dropout.apply(z, self.drop_rate, key=key, deterministic=deterministic, name="CNN2D")
        return dense.apply(params["readout"], z)

    def apply_batch(self, params: Params, xs: Float[Array, "B H W *C"], lengths=None, *, key: Key | None = None,
                    deterministic: bool = False) -> Float[Array, "B K"]:
        if lengths is not None:
            raise ValueError("CNN2D: reads whole fixed-size images; lengths are not supported")
        if key is None or deterministic:
            return jax.vmap(lambda x: self.apply(params, x, deterministic=deterministic))(xs)
        keys = jax.random.split(key, xs.shape[0])
        return jax.vmap(lambda x, k: self.apply(params, x, key=k, deterministic=deterministic))(xs, keys)


__all__ = ["CNN2D", "POOLINGS"]
