"""Basic layers: dense, embedding, norms, dropout, initialisers, activations; the `lengths` rule."""

from seqmodels.nn import activations, dense, dropout, embedding, initializers, lengths, norms

__all__ = ["activations", "dense", "dropout", "embedding", "initializers", "lengths", "norms"]
