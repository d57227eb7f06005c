"""Basic layers: dense, embedding, norms, dropout, initialisers, activations."""

from seqmodels.nn import activations, dense, dropout, embedding, initializers, norms

__all__ = ["activations", "dense", "dropout", "embedding", "initializers", "norms"]
