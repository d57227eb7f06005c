"""PyTorch's nn.RNN / nn.LSTM / nn.GRU parameterisation for seqmodels' cells (for reproducing papers).

Two differences from seqmodels' defaults matter when a paper's PyTorch numbers are reproduced:

* init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)) (no orthogonal recurrent matrix, no
  forget-gate bias of 1);
* two bias vectors, b_ih and b_hh, that add up. Our cells hold one, `b` (the GRU also `b_hn`, which is
  PyTorch's b_hn). As a function the second vector is redundant, but it is a parameter of its own: Adam
  moves each vector by about lr per step, and their sum starts as the sum of two uniforms. On MNIST-1D this
  moved the shuffled GRU from 48.6% to 53.7% (results/mnist1d/README.md).

`uniform_init` draws the first; `hidden_biases` makes the extra vectors (a tree beside the cells'
parameters: GRU [2H] for b_hr, b_hz; LSTM [4H]; Elman [H]) and `add_hidden_biases` folds them into `b`
before the cells run, so every kernel (the fused ones included) sees ordinary parameters and gradients
reach both vectors.

    params, extra = torch_params.init(layer.init(k1), hidden_size, k2)
    ys = layer.apply_batch(torch_params.add_hidden_biases(params, extra), xs)[1]
"""

import jax
import jax.numpy as jnp

from seqmodels.nn import initializers


def uniform_init(params, hidden_size: int, key):
    """Every leaf of `params` redrawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as nn.LSTM/GRU/RNN."""
    u = initializers.uniform(hidden_size ** -0.5)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(treedef, [u(k, x.shape, x.dtype) for k, x in zip(keys, leaves)])


def _cells(tree, path=()):
    """(path, cell params) for every dict holding a cell's "b", in the tree's own (insertion) order."""
    if isinstance(tree, dict):
        if "b" in tree:
            return [(path, tree)]
        return [c for k, v in tree.items() for c in _cells(v, path + (k,))]
    if isinstance(tree, (list, tuple)):
        return [c for i, v in enumerate(tree) for c in _cells(v, path + (i,))]
    return []


def hidden_biases(params, hidden_size: int, key):
    """PyTorch's second bias vector for every cell in `params`, U(-1/sqrt(H), 1/sqrt(H)): the same nesting
    as `params`, each cell's dict replaced by {"b_hh": [G']} (GRU G' = 2H: b_hr, b_hz; otherwise len(b)).
    The cells, in the tree's order, take the keys of `jax.random.split(key, number of cells)`."""
    cells = _cells(params)
    keys = jax.random.split(key, max(len(cells), 1))
    u = initializers.uniform(hidden_size ** -0.5)
    made = {}
    for k, (path, cell) in zip(keys, cells):
        G = cell["b"].shape[-1]
        made[path] = {"b_hh": u(k, (2 * G // 3,) if "b_hn" in cell else (G,), cell["b"].dtype)}

    def rebuild(tree, path=()):
        if path in made:
            return made[path]
        if isinstance(tree, dict):
            return {k: rebuild(v, path + (k,)) for k, v in tree.items()}
        return [rebuild(v, path + (i,)) for i, v in enumerate(tree)]

    return rebuild(params)


def init(params, hidden_size: int, key):
    """(`uniform_init` of `params`, their `hidden_biases`), from keys fold_in(key, 1) and fold_in(key, 2)."""
    params = uniform_init(params, hidden_size, jax.random.fold_in(key, 1))
    return params, hidden_biases(params, hidden_size, jax.random.fold_in(key, 2))


def add_hidden_biases(params, extra):
    """`params` with each cell's b + [b_hh, 0, ...] (the GRU's b_hn is its own): what the cells compute with."""
    if isinstance(params, dict):
        if "b" in params:
            b, b_hh = params["b"], extra["b_hh"]
            if b_hh.shape[-1] > b.shape[-1]:
                raise ValueError(f"b_hh has {b_hh.shape[-1]} entries, more than the cell's b ({b.shape[-1]})")
            return dict(params, b=b + jnp.pad(b_hh, (0, b.shape[-1] - b_hh.shape[-1])))
        return {k: add_hidden_biases(v, extra[k]) for k, v in params.items()}
    return [add_hidden_biases(v, e) for v, e in zip(params, extra)]
