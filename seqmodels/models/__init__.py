"""Full models, each a composition of seqmodels layers (init/apply pairs). Import submodules directly:

    transformer       Transformer Block and Stack (encoder, decoder, cross-attention), KV-cache decoding
    language_model    decoder-only Transformer language model, with generation
    encoder_decoder   Transformer encoder-decoder (sequence to sequence), with generation
    token_embedding   token embedding + positions, the Transformers' input layer
    decoding          greedy or sampled autoregressive generation from a cached decoder
    mixer             MLP-Mixer for sequences
"""
