"""One dropout rule for every layer that has dropout (`seqmodels.nn.dropout`): `apply(..., key=None,
deterministic=False)`. (a) deterministic=True: the same output with or without a key; (b) not
deterministic, drop_rate > 0 and no key: ValueError, naming the layer where it is the layer's own
dropout; (c) with a key the output differs from the deterministic one. Layers without dropout that take
a key take `deterministic` too, and ignore both."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.attention import dot_product
from seqmodels.attention.multi_head import MultiHeadAttention
from seqmodels.conv import TCN, TDNN, ConvAutoencoder, ConvStack, ConvTranspose1D, Conv1D, FIR, WaveNet
from seqmodels import recurrence
from seqmodels.cells import GRU
from seqmodels.models import heads, mixer
from seqmodels.models import transformer as tf
from seqmodels.models.encoder_decoder import EncoderDecoder
from seqmodels.models.language_model import LanguageModel
from seqmodels.nn import dropout

D, N, F, T, V = 8, 2, 16, 6, 7
RATE = 0.5
_RNN = recurrence.RNN(GRU(3, 4))


def _normal(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape)


def _ids(seed=1):
    return jax.random.randint(jax.random.key(seed), (T,), 0, V)


def _layer(spec, *args, method="apply", **kwargs):
    """run(key, deterministic) for spec.<method>(params, *args, **kwargs)."""
    params = spec.init(jax.random.key(0))
    return lambda key, deterministic: getattr(spec, method)(params, *args, key=key, deterministic=deterministic,
                                                            **kwargs)


def _attention(fn, **kwargs):
    q, k, v = (_normal((T, N, 4), seed) for seed in range(3))
    return lambda key, deterministic: fn(q, k, v, drop_rate=RATE, key=key, deterministic=deterministic, **kwargs)


def _mha_apply():
    spec = MultiHeadAttention(num_heads=N, head_dim=4, drop_rate=RATE)
    params = spec.init(jax.random.key(0), D)
    x = _normal((T, D))
    return lambda key, deterministic: spec.apply(params, x, causal=True, key=key, deterministic=deterministic)


def _mha_decode():
    spec = MultiHeadAttention(num_heads=N, head_dim=4, drop_rate=RATE)
    params = spec.init(jax.random.key(0), D)
    return lambda key, deterministic: spec.decode(params, spec.init_cache(T), _normal((T, D)), key=key,
                                                  deterministic=deterministic)[1]


BLOCK = tf.Block(D, N, F, drop_rate=RATE)
CAUSAL = tf.Block(D, N, F, causal=True, drop_rate=RATE)
CROSS = tf.Block(D, N, F, causal=True, cross_attention=True, drop_rate=RATE)
MIXER_BLOCK = mixer.MixerBlock(T, D, 5, 7, drop_rate=RATE)

# (the layer, run(key, deterministic), the name its own dropout error starts with)
CASES = {
    "dropout.apply": (lambda: lambda key, det: dropout.apply(_normal((T, D)), RATE, key=key, deterministic=det),
                      "dropout"),
    "dot_product_attention": (lambda: _attention(dot_product.dot_product_attention), "dot_product_attention"),
    "blockwise_attention": (lambda: _attention(dot_product.blockwise_attention, block_size=3), "blockwise_attention"),
    "attention": (lambda: _attention(dot_product.attention, causal=True), "dot_product_attention"),
    "MultiHeadAttention.apply": (_mha_apply, "dot_product_attention"),
    "MultiHeadAttention.decode": (_mha_decode, "dot_product_attention"),
    "TCN": (lambda: _layer(TCN(3, (4, 5), kernel_size=2, drop_rate=RATE), _normal((T, 3)), lengths=5), "TCN"),
    "Block": (lambda: _layer(BLOCK, _normal((T, D)), lengths=5), "Block"),
    "Stack": (lambda: _layer(tf.Stack(CROSS, 2), _normal((T, D)), _normal((4, D), 1), memory_lengths=3), "Block"),
    "LanguageModel": (lambda: _layer(LanguageModel(V, tf.Stack(CAUSAL, 1), max_len=T), _ids(), lengths=4),
                      "LanguageModel"),
    "EncoderDecoder.apply": (lambda: _layer(EncoderDecoder(V, V, tf.Stack(BLOCK, 1), tf.Stack(CROSS, 1)),
                                            _ids(), _ids(2)), "EncoderDecoder"),
    "EncoderDecoder.encode": (lambda: _layer(EncoderDecoder(V, V, tf.Stack(BLOCK, 1), tf.Stack(CROSS, 1)),
                                             _ids(), method="encode"), "EncoderDecoder"),
    "SequenceClassifier": (lambda: _layer(heads.SequenceClassifier(heads.transformer(tf.Stack(BLOCK, 1), vocab_size=V),
                                                                    3), _ids(), lengths=4), "Block"),
    "FrameHead": (lambda: _layer(heads.FrameHead(heads.recurrent(_RNN, drop_rate=RATE), 2), _normal((T, 3)), lengths=4),
                  "recurrent backbone"),
    "MixerBlock": (lambda: _layer(MIXER_BLOCK, _normal((T, D)), lengths=4), "MixerBlock"),
    "Mixer": (lambda: _layer(mixer.Mixer(MIXER_BLOCK, 2, input_dim=3, num_classes=4), _normal((T, 3))),
              "MixerBlock"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_dropout_rule(name):
    make, error_name = CASES[name]
    run = make()
    key = jax.random.key(3)
    evaluation = run(None, True)
    np.testing.assert_array_equal(run(key, True), evaluation)  # (a) the key is unused when deterministic
    with pytest.raises(ValueError, match=rf"^{error_name}: dropout with drop_rate=.* needs a PRNG `key`"):
        run(None, False)  # (b) training without a key is an error, not a silent evaluation
    assert not np.allclose(run(key, False), evaluation)  # (c) with a key, dropout runs


NO_DROPOUT = {
    "Conv1D": lambda: _layer(Conv1D(3, 4, 3), _normal((T, 3)), lengths=5),
    "ConvTranspose1D": lambda: _layer(ConvTranspose1D(3, 4, 2, stride=2), _normal((T, 3)), lengths=5),
    "ConvStack": lambda: _layer(ConvStack(3, (4, 4), dilations=(1, 2)), _normal((T, 3)), lengths=5),
    "FIR": lambda: _layer(FIR(3, 4, 3), _normal((T, 3)), lengths=5),
    "TDNN": lambda: _layer(TDNN((3, 4, 2), (3, 2)), _normal((T, 3)), lengths=5),
    "WaveNet": lambda: _layer(WaveNet(num_classes=8, dilations=(1, 2), residual_channels=4, dilation_channels=4,
                                      skip_channels=4), jnp.arange(T) % 8, lengths=5),
    "ConvAutoencoder": lambda: _layer(ConvAutoencoder(1, (3, 4), kernel_size=4, stride=2), _normal((8, 1)),
                                      lengths=7),
}


@pytest.mark.parametrize("name", list(NO_DROPOUT))
def test_layers_without_dropout_take_and_ignore_key_and_deterministic(name):
    run = NO_DROPOUT[name]()
    evaluation = run(None, True)
    np.testing.assert_array_equal(run(None, False), evaluation)
    np.testing.assert_array_equal(run(jax.random.key(3), False), evaluation)
