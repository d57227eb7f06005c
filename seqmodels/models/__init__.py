"""Full models, each a composition of seqmodels layers (init/apply pairs). Import submodules directly:

    transformer       Transformer Block and Stack (encoder, decoder, cross-attention), KV-cache decoding
    language_model    decoder-only Transformer language model, with generation
    rnn_language_model  embedding -> recurrent stack -> logits, stateful (carried) training and sampling
    encoder_decoder   Transformer encoder-decoder (sequence to sequence), with generation
    rnn_seq2seq       RNN encoder-decoder over any cell: context vector, Bahdanau or Luong attention
    token_embedding   token embedding + positions, the Transformers' input layer
    decoding          greedy or sampled generation, greedy to an end token, beam search (one lax.scan each)
    mixer             MLP-Mixer for sequences
    heads, mlp        heads over any backbone (classifier, per-frame), the MLP
    mlm               BERT's masking rule (80/10/10) and a masked-LM Transformer encoder
    word2vec          skip-gram with negative sampling or the full softmax, subsampling, neighbours
    hopfield          Hopfield network: Hebbian storage, energy, asynchronous/synchronous recall
    rbm               Bernoulli RBM: Gibbs sampling, free energy, CD-k and persistent CD, pseudo-likelihood
    cnn2d             2-D CNN (conv, pooling, dense read-out) over images [H, W(, C)]
    adversarial       saliency, FGSM, DeepFool, pruning by sensitivity
    autoencoder       dense and denoising autoencoders, greedy layer-wise pretraining
    backprop          backpropagation by hand: the delta rule, conv weight gradients, BPTT (tested = jax.grad)
    perceptron        Rosenblatt's learning rule, Novikoff's bound
"""
