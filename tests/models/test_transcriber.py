"""The transcriber: its front-end against numpy, a hand-tuned filterbank that hears pitch, the composition with
the RNN encoder-decoder (teacher forcing = step-by-step decoding), padding, training, bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seqmodels.data import melodies
from seqmodels.models.rnn_seq2seq import AttentionDecoder, RNNEncoder, RNNEncoderDecoder
from seqmodels.models.transcriber import FrontEnd, Transcriber

SR = 16000


def numpy_front_end(params, x, fe: FrontEnd):
    """np.correlate on the lax-'same'-padded waveform, every s-th output, ReLU, max over p, log1p."""
    kernel, bias = np.asarray(params["kernel"])[:, 0, :], np.asarray(params["bias"])  # [W, F], [F]
    n, w, s = len(x), fe.kernel_size, fe.stride
    total = max((-(-n // s) - 1) * s + w - n, 0)
    padded = np.pad(np.asarray(x, np.float64), (total // 2, total - total // 2))
    y = np.stack([np.correlate(padded, kernel[:, f], mode="valid")[::s] for f in range(fe.num_filters)], 1) + bias
    frames = len(y) // fe.pool
    pooled = np.maximum(y, 0)[:frames * fe.pool].reshape(frames, fe.pool, -1).max(1)
    return np.log1p(pooled)


@pytest.mark.parametrize("fe,n", [(FrontEnd(6, 64, 8, 4), 1000), (FrontEnd(3, 33, 5, 3), 517)])
def test_front_end_equals_numpy(fe, n):
    params = fe.init(jax.random.key(0))
    params["bias"] = jnp.linspace(-0.1, 0.1, fe.num_filters)
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = fe.apply(params, jnp.asarray(x))
    assert out.shape == (fe.num_frames(n), fe.num_filters) == (-(-n // fe.stride) // fe.pool, fe.num_filters)
    np.testing.assert_allclose(out, numpy_front_end(params, x, fe), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fe.apply(params, jnp.asarray(x)[:, None]), out)  # [S] or [S, 1]


def test_long_filters_tuned_to_the_notes_hear_the_pitch():
    """Hann-windowed cosines at the 8 fundamentals (512 taps, 32 ms) as the kernels: each note excites its own
    filter most, although its harmonics and neighbours (E5-F5: 3.8% apart) reach the others."""
    fe = FrontEnd(num_filters=8, kernel_size=512, stride=16, pool=16)
    f0 = melodies.note_frequency(melodies.C_MAJOR_5)
    t = np.arange(512) / SR
    kernel = np.hanning(512)[:, None] * np.cos(2 * np.pi * t[:, None] * f0[None]) / 128  # [W, F]
    params = {"kernel": jnp.asarray(kernel[:, None, :], jnp.float32), "bias": jnp.zeros(8)}
    for i, f in enumerate(f0):
        note = melodies.synthesize_note(f, 0.25, sample_rate=SR, num_harmonics=4)
        frames = np.asarray(fe.apply(params, jnp.asarray(note, jnp.float32)))  # [T, 8]
        assert frames.mean(0).argmax() == i


def tiny_model(vocab=10, filters=4, attention="bahdanau"):
    fe = FrontEnd(num_filters=filters, kernel_size=32, stride=8, pool=4)
    encoder = RNNEncoder(hidden_size=6, input_size=filters, bidirectional=True)
    decoder = AttentionDecoder(vocab_size=vocab, hidden_size=6, memory_dim=encoder.output_size, embed_dim=5,
                               attention=attention)
    return Transcriber(fe, RNNEncoderDecoder(encoder, decoder))


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_teacher_forcing_equals_the_encoder_decoder_on_the_frames_and_step_by_step_decoding(attention):
    model = tiny_model(attention=attention)
    params = model.init(jax.random.key(1))
    audio = jnp.asarray(np.random.default_rng(1).standard_normal(800), jnp.float32)
    tgt = jnp.asarray([2, 5, 7, 4, 3], jnp.int32)
    logits = model.apply(params, audio, tgt, deterministic=True)
    frames = numpy_front_end(params["front_end"], np.asarray(audio), model.front_end)  # [25, 4]
    expected = model.seq2seq.apply(params["seq2seq"], jnp.asarray(frames, jnp.float32), tgt, deterministic=True)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    cache = model.init_cache(params, audio)
    steps = []
    for token in tgt:
        cache, out = model.decode(params, cache, token[None])
        steps.append(out[0])
    np.testing.assert_allclose(jnp.stack(steps), logits, rtol=1e-4, atol=1e-5)


def test_padded_samples_do_not_matter():
    model = tiny_model()
    params = model.init(jax.random.key(2))
    rng = np.random.default_rng(2)
    audio = rng.standard_normal(800).astype(np.float32)
    junk = audio.copy()
    junk[500:] = 10 * rng.standard_normal(300)
    tgt = jnp.asarray([2, 5, 6, 3], jnp.int32)
    a = model.apply(params, jnp.asarray(audio), tgt, src_lengths=500, deterministic=True)
    b = model.apply(params, jnp.asarray(junk), tgt, src_lengths=500, deterministic=True)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    c = model.apply(params, jnp.asarray(junk), tgt, deterministic=True)
    assert not np.allclose(a, c)


def test_loss_goes_down_on_melodies():
    data = melodies.make_melodies(0, 8, seconds=0.25, durations=(0.0625, 0.125), gaps=(0.0,))
    model = tiny_model(vocab=melodies.vocab_size(durations=(0.0625, 0.125)))
    params = model.init(jax.random.key(3))
    tgt, length = jnp.asarray(data["tokens"]), jnp.asarray(data["length"])
    mask = jnp.arange(tgt.shape[1] - 1)[None] < (length - 1)[:, None]

    def loss(params):
        logits = jax.vmap(lambda x, y: model.apply(params, x, y, deterministic=True))(jnp.asarray(data["audio"]), tgt)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits[:, :-1], tgt[:, 1:])
        return (nll * mask).sum() / mask.sum()

    opt = optax.adam(1e-2)
    state = opt.init(params)
    step = jax.jit(lambda p, s: (lambda lv, g: (lv, *opt.update(g, s, p)))(*jax.value_and_grad(loss)(p)))
    first = None
    for _ in range(30):
        value, updates, state = step(params, state)
        params = optax.apply_updates(params, updates)
        first = value if first is None else first
    assert np.isfinite(value) and value < 0.7 * first


def test_bad_inputs_are_clear():
    model = tiny_model()
    params = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="waveform"):
        model.front_end.apply(params["front_end"], jnp.zeros(10))  # shorter than one 32-sample frame
    with pytest.raises(ValueError, match="waveform"):
        model.front_end.apply(params["front_end"], jnp.zeros((100, 2)))
    with pytest.raises(ValueError, match="front-end gives 3 filters"):
        Transcriber(FrontEnd(num_filters=3), model.seq2seq)
