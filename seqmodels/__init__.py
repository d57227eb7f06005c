"""seqmodels: sequence models as pure JAX functions on explicit parameters.

Every layer is a pair of pure functions (`init`, `apply`); every recurrent
cell is the body of a `lax.scan` (`init`, `initial_carry`, `step`). Code is
written for ONE example, time first (`x: [T, D]`); batch with `jax.vmap`.
"""

__version__ = "0.1.0"
