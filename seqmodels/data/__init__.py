"""Data: generated tasks (numpy and TFDS builders), packaged and TFDS data sets, tokenisers, batching.

    synthetic   make_adding, make_copy_memory, make_delay_sum, make_listops, make_sentiment (plain numpy)
    builders    the same tasks as TFDS builders (ArrayRecord, `as_data_source()`, no TensorFlow)
    packaged    mnist1d, santa_fe_laser, bach_chorales, load_jsb_chorales, digits (offline)
    real        imdb_reviews, tiny_shakespeare, mnist, ted_hrlr_translate through tfds.data_source
    tokenizers  CharTokenizer, WordTokenizer, BPETokenizer (save / load)
    translation English -> French quantities and dates (generated), the TFDS ted_hrlr_translate loader
    captions    captioned canvases of sklearn's 8x8 digits ("two above small five")
    melodies    one-second synthetic melodies at 16 kHz and their note tokens
    batching    sources, pad_batch, bucketing, TrainIterator (resumable), eval_batches

`builders` and `real` import tensorflow_datasets (about a second), so they
are not imported here: `from seqmodels.data import builders`.
"""

from seqmodels.data import batching, synthetic, tokenizers
from seqmodels.data.batching import ArraySource, MapSource, TrainIterator, WindowSource, eval_batches, pad_batch

__all__ = ["batching", "synthetic", "tokenizers", "ArraySource", "MapSource", "WindowSource", "TrainIterator",
           "eval_batches", "pad_batch"]
