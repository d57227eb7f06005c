"""WaveNet (van den Oord et al. 2016): an autoregressive model of raw audio.

    p(x) = prod_t p(x_t | x_1, ..., x_{t-1}, h)

Input frame u_t (one-hot of the mu-law level for the categorical output, the
amplitude itself for the logistic mixture) -> causal conv (kernel 2) -> L
residual blocks with dilations cycling 1, 2, ..., 2^k (`cycle_dilations`):

    a = W_{f,g} *_d h  +  V_{f,g} c_t  +  U_{f,g} g        dilated causal conv,
                                                          local / global conditioning
    z = tanh(a_f) * sigmoid(a_g)                           gated activation unit
    skip_l = z W_skip,      h <- h + z W_res               1x1 convs

    out = relu(relu(sum_l skip_l) W_1 + b_1) W_2 + b_2     logits over the Q mu-law
                                                          levels, or 3M mixture parameters

The output at t is the distribution of the NEXT sample u_{t+1}. Receptive
field R = 1 + (W_0 - 1) + sum_l (W - 1) d_l (1025 for kernel 2, dilations
1..512). Conditioning: `global_cond` [C_g] (e.g. a speaker embedding) is added
to every frame; `local_cond` [T, C_l] (e.g. upsampled mel frames) must already
be at the sample rate. In `loss` and `generate` local frames are aligned with
the WAVEFORM: local_cond[t] conditions the prediction of sample t.

Generation streams (`init_state`/`step`: one ring buffer per dilated conv, the
fast-WaveNet scheme), so each sample costs O(L) work; `generate_reference`
recomputes the receptive field at every step and draws the same samples.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.conv import conv1d, logistic_mixture, mulaw, streaming
from seqmodels.nn import dense
from seqmodels.nn.lengths import check_lengths, clamp_lengths

OUTPUTS = ("categorical", "logistic_mixture")


def cycle_dilations(max_exponent: int, num_cycles: int = 1) -> tuple[int, ...]:
    """(1, 2, 4, ..., 2^max_exponent) repeated num_cycles times."""
    if max_exponent < 0 or num_cycles < 1:
        raise ValueError(f"cycle_dilations: expected max_exponent >= 0 and num_cycles >= 1, got "
                         f"{max_exponent}, {num_cycles}")
    return tuple(2 ** i for i in range(max_exponent + 1)) * num_cycles


@dataclasses.dataclass(frozen=True)
class WaveNet:
    """WaveNet spec. `output` is 'categorical' (Q = num_classes mu-law levels,
    inputs are int levels [T]) or 'logistic_mixture' (num_mixtures components
    over num_classes bins of [-1, 1], inputs are amplitudes [T]).

    Params: {'input': Conv1D [W_0, C_in, R], 'blocks': [{'dilated': Conv1D
    [W, R, 2C] (filter half first, then gate), 'residual': dense [C, R],
    'skip': dense [C, S], 'local': [C_l, 2C], 'global': [C_g, 2C] (when
    conditioned)}], 'output1': dense [S, S], 'output2': dense [S, O]}.
    """

    output: str = "categorical"
    num_classes: int = 256
    num_mixtures: int = 10
    dilations: tuple[int, ...] = cycle_dilations(9)
    kernel_size: int = 2
    input_kernel_size: int = 2
    residual_channels: int = 32
    dilation_channels: int = 32
    skip_channels: int = 64
    global_channels: int = 0  # 0: no global conditioning
    local_channels: int = 0  # 0: no local conditioning

    def __post_init__(self):
        object.__setattr__(self, "dilations", tuple(self.dilations))
        if self.output not in OUTPUTS:
            raise ValueError(f"WaveNet: output must be one of {OUTPUTS}, got {self.output!r}")
        if self.num_classes < 2:
            raise ValueError(f"WaveNet: expected num_classes >= 2, got {self.num_classes}")
        if not self.dilations:
            raise ValueError("WaveNet: expected at least one residual block, got dilations=()")
        conv1d._check_positive(num_mixtures=self.num_mixtures, kernel_size=self.kernel_size,
                               input_kernel_size=self.input_kernel_size,
                               residual_channels=self.residual_channels,
                               dilation_channels=self.dilation_channels,
                               skip_channels=self.skip_channels)
        self.blocks  # checks the dilations

    # -- shapes ------------------------------------------------------------------------

    @property
    def input_channels(self) -> int:
        return self.num_classes if self.output == "categorical" else 1

    @property
    def output_channels(self) -> int:
        return self.num_classes if self.output == "categorical" else 3 * self.num_mixtures

    @property
    def input_conv(self) -> conv1d.Conv1D:
        return conv1d.Conv1D(self.input_channels, self.residual_channels, self.input_kernel_size)

    @property
    def blocks(self) -> tuple[conv1d.Conv1D, ...]:
        return tuple(conv1d.Conv1D(self.residual_channels, 2 * self.dilation_channels,
                                   self.kernel_size, dilation=d) for d in self.dilations)

    @property
    def receptive_field(self) -> int:
        return conv1d.receptive_field((self.input_kernel_size,) + (self.kernel_size,) * len(self.dilations),
                                      (1,) + self.dilations)

    @property
    def silence(self) -> Array:
        """The input that means amplitude 0 (the first input when there is no prime)."""
        if self.output == "categorical":
            return mulaw.mu_law_encode(jnp.zeros((), jnp.float32), self.num_classes - 1)
        return jnp.zeros((), jnp.float32)

    def init(self, key: Key, dtype=jnp.float32) -> Params:
        R, C, S = self.residual_channels, self.dilation_channels, self.skip_channels
        k_in, k_blocks, k_o1, k_o2 = jax.random.split(key, 4)
        blocks = []
        for conv, k in zip(self.blocks, jax.random.split(k_blocks, len(self.blocks))):
            k_conv, k_res, k_skip, k_local, k_global = jax.random.split(k, 5)
            block = {"dilated": conv.init(k_conv, dtype=dtype),
                     "residual": dense.init(k_res, C, R, dtype=dtype),
                     "skip": dense.init(k_skip, C, S, dtype=dtype)}
            if self.local_channels:
                block["local"] = dense.init(k_local, self.local_channels, 2 * C, use_bias=False, dtype=dtype)
            if self.global_channels:
                block["global"] = dense.init(k_global, self.global_channels, 2 * C, use_bias=False, dtype=dtype)
            blocks.append(block)
        return {"input": self.input_conv.init(k_in, dtype=dtype),
                "blocks": blocks,
                "output1": dense.init(k_o1, S, S, dtype=dtype),
                "output2": dense.init(k_o2, S, self.output_channels, dtype=dtype)}

    # -- the network -------------------------------------------------------------------

    def _inputs(self, x) -> Float[Array, "... C_in"]:
        """Int levels -> one-hot [..., Q] (categorical); amplitudes -> [..., 1] (mixture)."""
        if self.output == "categorical":
            if not jnp.issubdtype(x.dtype, jnp.integer):
                raise ValueError(f"WaveNet: the categorical model takes int levels in "
                                 f"[0, {self.num_classes}), got dtype {x.dtype}")
            return jax.nn.one_hot(x, self.num_classes, dtype=jnp.float32)
        return x[..., None].astype(jnp.float32)

    def _check_conditioning(self, local_cond, global_cond, time: int) -> None:
        expected = {"local_cond": (local_cond, self.local_channels, (time, self.local_channels)),
                    "global_cond": (global_cond, self.global_channels, (self.global_channels,))}
        for name, (cond, channels, shape) in expected.items():
            if channels == 0 and cond is not None:
                raise ValueError(f"WaveNet: got {name} of shape {cond.shape}, but the model has "
                                 f"{name.replace('cond', 'channels')}=0")
            if channels and (cond is None or cond.shape != shape):
                raise ValueError(f"WaveNet: expected {name} of shape {shape}, "
                                 f"got {None if cond is None else cond.shape}")

    def _gate(self, p: Params, a, local_t, global_cond):
        """z = tanh(a_f) * sigmoid(a_g), conditioning added to a first."""
        if local_t is not None:
            a = a + dense.apply(p["local"], local_t)
        if global_cond is not None:
            a = a + dense.apply(p["global"], global_cond)
        a_f, a_g = jnp.split(a, 2, axis=-1)  # [..., C] each
        return jnp.tanh(a_f) * jax.nn.sigmoid(a_g)

    def _head(self, params: Params, skips):
        h = jax.nn.relu(dense.apply(params["output1"], jax.nn.relu(skips)))  # [..., S]
        return dense.apply(params["output2"], h)  # [..., Q] or [..., 3M]

    def apply(self, params: Params, x, *, local_cond=None, global_cond=None, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T O"]:
        """Outputs [T, Q] (logits) or [T, 3M] (mixture); output t is p(u_{t+1} | u_{<=t}).

        x: int levels [T] (categorical) or amplitudes [T] (mixture).
        local_cond[t] (if any) conditions output t (same time as the input).
        """
        del key, deterministic  # no dropout: the same call as a layer with dropout
        if x.ndim != 1:
            raise ValueError(f"WaveNet: expected one sequence of samples [T], got shape {x.shape}")
        self._check_conditioning(local_cond, global_cond, x.shape[0])
        lengths = check_lengths(lengths, x.shape[0], "WaveNet")
        h = self.input_conv.apply(params["input"], self._inputs(x), lengths=lengths)  # [T, R]
        skips = 0.0
        for conv, p in zip(self.blocks, params["blocks"]):
            z = self._gate(p, conv.apply(p["dilated"], h, lengths=lengths), local_cond, global_cond)  # [T, C]
            skips = skips + dense.apply(p["skip"], z)  # [T, S]
            h = h + dense.apply(p["residual"], z)  # [T, R]
        out = self._head(params, skips)  # [T, O]
        return out if lengths is None else conv1d.time_mask(out, lengths)

    # -- training loss -----------------------------------------------------------------

    def frame_loss(self, out: Float[Array, "... O"], target) -> Float[Array, "..."]:
        """-log p(target | out) per frame (nats)."""
        if self.output == "categorical":
            log_p = jax.nn.log_softmax(out, axis=-1)
            return -jnp.take_along_axis(log_p, target[..., None], axis=-1)[..., 0]
        return logistic_mixture.loss(out, target, self.num_classes)

    def loss(self, params: Params, x, *, local_cond=None, global_cond=None, lengths=None) -> Array:
        """Mean next-sample NLL (nats per sample) of x[1:] given x[:-1].

        local_cond [T, C_l] is aligned with x: local_cond[t] conditions the
        prediction of x[t]. With `lengths`, only the length - 1 valid
        predictions count.
        """
        if jnp.ndim(x) != 1:
            raise ValueError(f"WaveNet.loss: expected one sequence of samples [T], got shape {jnp.shape(x)}")
        lengths = clamp_lengths(check_lengths(lengths, x.shape[0], "WaveNet.loss"), x.shape[0])  # computed with
        local_in = None if local_cond is None else local_cond[1:]
        in_lengths = None if lengths is None else jnp.maximum(lengths - 1, 0)
        out = self.apply(params, x[:-1], local_cond=local_in, global_cond=global_cond,
                         lengths=in_lengths)  # [T - 1, O]
        nll = self.frame_loss(out, x[1:])  # [T - 1]
        if lengths is None:
            return jnp.mean(nll)
        valid = jnp.arange(nll.shape[0]) < in_lengths
        return jnp.sum(jnp.where(valid, nll, 0.0)) / jnp.maximum(in_lengths, 1)

    # -- streaming ---------------------------------------------------------------------

    def init_state(self, dtype=jnp.float32) -> Params:
        return {"input": self.input_conv.init_state(dtype),
                "blocks": [conv.init_state(dtype) for conv in self.blocks]}

    def step(self, params: Params, state: Params, x_t, local_t=None,
             global_cond=None) -> tuple[Params, Float[Array, "O"]]:
        """One sample in (an int level or an amplitude), next-sample output [O] out."""
        if jnp.ndim(x_t) != 0:
            raise ValueError(f"WaveNet.step: expected one sample (a scalar), got shape {jnp.shape(x_t)}")
        s_in, h = self.input_conv.step(params["input"], state["input"], self._inputs(x_t))  # [R]
        skips, states = 0.0, []
        for conv, p, s in zip(self.blocks, params["blocks"], state["blocks"]):
            s, a = conv.step(p["dilated"], s, h)  # [2C]
            z = self._gate(p, a, local_t, global_cond)  # [C]
            skips = skips + dense.apply(p["skip"], z)  # [S]
            h = h + dense.apply(p["residual"], z)  # [R]
            states.append(s)
        return {"input": s_in, "blocks": states}, self._head(params, skips)

    # -- generation --------------------------------------------------------------------

    def sample(self, key: Key, out: Float[Array, "O"], temperature: float = 1.0):
        """Draw one sample from one output frame: (sample, the next input)."""
        if self.output == "categorical":
            q = jax.random.categorical(key, out / temperature)
            return q, q
        x = logistic_mixture.sample(key, out, temperature=temperature)
        return x, x

    def _generation_inputs(self, prime, local_cond, global_cond, num_samples):
        if num_samples <= 0:
            raise ValueError(f"WaveNet.generate: expected num_samples > 0, got {num_samples}")
        prime = self.silence[None] if prime is None else jnp.asarray(prime)
        if prime.ndim != 1 or prime.shape[0] == 0:
            raise ValueError(f"WaveNet.generate: expected a prime of samples [P >= 1], got {prime.shape}")
        total = prime.shape[0] + num_samples
        self._check_conditioning(local_cond, global_cond, total)
        # the step consuming u_t predicts u_{t+1}, so it takes local_cond[t + 1]
        local_steps = None if local_cond is None else local_cond[1:]  # [P - 1 + N, C_l]
        return prime, local_steps

    def generate(self, params: Params, key: Key, num_samples: int, *, prime=None,
                 local_cond=None, global_cond=None, temperature: float = 1.0):
        """Draw num_samples samples, streaming (O(L) per sample).

        prime: samples [P] to continue (default: one frame of silence).
        local_cond: [P + num_samples, C_l], aligned with prime + samples.
        Returns the new samples [num_samples] (int levels or amplitudes).
        """
        prime, local_steps = self._generation_inputs(prime, local_cond, global_cond, num_samples)
        num_prime = prime.shape[0]

        def step(state, x_t, local_t=None):
            return self.step(params, state, x_t, local_t, global_cond)

        state = self.init_state()
        if num_prime > 1:
            state, _ = streaming.run(step, state, prime[:-1],
                                     None if local_steps is None else local_steps[:num_prime - 1])
        _, samples = streaming.generate(
            step, state, prime[-1], num_samples, key=key,
            sample=functools.partial(self.sample, temperature=temperature),
            extras=None if local_steps is None else local_steps[num_prime - 1:])
        return samples

    def generate_reference(self, params: Params, key: Key, num_samples: int, *, prime=None,
                           local_cond=None, global_cond=None, temperature: float = 1.0):
        """Same samples as `generate`, recomputing the receptive field at each step.

        Step t runs `apply` on the R model inputs ending at u_t (or the first
        R when t < R: the model is causal, so later frames do not matter) and
        keeps the output at u_t: O(R L) work per sample.
        """
        prime, local_steps = self._generation_inputs(prime, local_cond, global_cond, num_samples)
        num_prime = prime.shape[0]
        num_inputs = num_prime - 1 + num_samples  # u_0 .. u_{P+N-2} are fed to the model
        window = min(self.receptive_field, num_inputs)
        u = jnp.zeros((num_inputs,), prime.dtype).at[:num_prime].set(prime)

        def body(u, n):
            t = num_prime - 1 + n  # the input consumed at this step
            start = jnp.clip(t - window + 1, 0, num_inputs - window)
            local_w = (None if local_steps is None
                       else jax.lax.dynamic_slice_in_dim(local_steps, start, window))
            out = self.apply(params, jax.lax.dynamic_slice_in_dim(u, start, window),
                             local_cond=local_w, global_cond=global_cond)  # [window, O]
            sample_n, x_next = self.sample(jax.random.fold_in(key, n), out[t - start], temperature)
            # u_{t+1} is the next input (after the last step it is never read)
            u = jax.lax.dynamic_update_index_in_dim(u, x_next.astype(u.dtype),
                                                    jnp.minimum(t + 1, num_inputs - 1), 0)
            return u, sample_n

        _, samples = jax.lax.scan(body, u, jnp.arange(num_samples))
        return samples
