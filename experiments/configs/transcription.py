"""Config of experiments/transcription.py: one-second melodies (16 kHz) -> note tokens, the deck's transcriber.

    python -m experiments.transcription --workdir=workdirs/transcription

Protocol: 4000 training / 500 test melodies (seeds 0 and 1) of 2-7 notes from 8 pitches x 3 durations;
front-end 48 filters of 512 taps, stride 16, max-pool 16 (16 ms frames); bidirectional GRU 64 encoder,
GRU 64 decoder with Bahdanau attention; Adam 2e-3 (cosine), batch 16; greedy and beam-4 decoding of the
test set. Seen (results/transcription/README.md): note error rate 0.12% greedy and beam (2 edits in 1,696
test notes; the trivial baseline 98.1%), 81% of the filters peaking within a quarter tone of a note's
fundamental; without attention (--config.model.rnn.attention=none) 24.2% greedy, 20.6% beam. 17 min of
training, 20 min in all, on a heavily shared 2-vCPU AMD EPYC. `:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config
from seqmodels.data import melodies


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 4000  # Adam updates
    config.batch_size = 16  # melodies per step (the front-end on 16,000 samples is the costly part)
    config.eval_every = 500  # teacher-forced test loss and token accuracy
    config.checkpoint_every = 1000
    config.keep_checkpoints = 1
    config.log_every = 100
    config.restore_best = False  # report the last step (the test set chooses nothing)
    config.sampling_prob = 0.0  # scheduled sampling (experiments/seq2seq.py); 0 = teacher forcing

    config.data = ml_collections.ConfigDict()
    config.data.num_train = 4000
    config.data.num_test = 500
    config.data.seed = 0  # training melodies; the test melodies use seed + 1
    config.data.pitches = melodies.C_MAJOR_5  # MIDI pitches: C5 D5 E5 F5 G5 A5 B5 C6
    config.data.durations = melodies.DURATIONS  # seconds
    config.data.gaps = melodies.GAPS  # rests before a note (seconds), drawn uniformly
    config.data.seconds = 1.0
    config.data.sample_rate = 16000
    config.data.num_harmonics = 4  # partials k f0 with amplitude 1/k
    config.data.noise = 0.01  # white noise std (a note's fundamental has amplitude 0.5-1)

    config.front_end = ml_collections.ConfigDict()
    config.front_end.num_filters = 48  # F learned filters on the raw samples
    config.front_end.kernel_size = 512  # W taps: 32 ms
    config.front_end.stride = 16  # samples between filter outputs
    config.front_end.pool = 16  # max over this many outputs: frames of 16 x 16 = 256 samples (16 ms)

    config.model = ml_collections.ConfigDict()
    config.model.name = "rnn"  # experiments/seq2seq.py's build: the encoder-decoder over the frames
    config.model.rnn = dict(kind="rnn", cell="gru", hidden_size=64, embed_dim=32, num_layers=1, bidirectional=True,
                            attention="bahdanau")

    config.eval = ml_collections.ConfigDict()
    config.eval.beam_width = 4  # beam search beside greedy decoding at the end
    config.eval.batch_size = 100  # test melodies decoded at once
    config.eval.num_plotted = 3  # test melodies in plots/transcriptions.png

    config.optimizer = optimizer_config("adam", 2e-3, clip_norm=1.0, schedule="cosine", warmup_steps=100,
                                        end_factor=0.05)

    if variant == "small":  # CI smoke test
        config.num_steps = 6
        config.batch_size = 8
        config.num_devices = 1  # not split over the test suite's 8 host devices (that only adds compile time)
        config.eval_every = 3
        config.checkpoint_every = 6
        config.log_every = 3
        config.data.num_train = 16
        config.data.num_test = 8
        config.data.seconds = 0.5
        config.front_end.num_filters = 8
        config.front_end.kernel_size = 64
        config.model.rnn = dict(kind="rnn", cell="gru", hidden_size=8, embed_dim=8, num_layers=1,
                                bidirectional=True, attention="bahdanau")
        config.eval.beam_width = 2
        config.eval.batch_size = 8
        config.eval.num_plotted = 2
        config.optimizer.warmup_steps = 0
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
