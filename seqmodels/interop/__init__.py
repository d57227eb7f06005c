"""Weights in and out of other frameworks.

    torch.py   PyTorch state_dicts <-> seqmodels params (nn.RNN/LSTM/GRU, Linear, Conv1d, Embedding,
               LayerNorm, MultiheadAttention, TransformerEncoderLayer); torch itself is optional

flax needs no converter: `seqmodels.flax_adapter.FlaxLayer` stores a layer's params as they are.
"""
