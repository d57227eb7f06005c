"""One generic adapter: any seqmodels layer as a `flax.linen` Module.

Flax is the interoperability layer, not a second copy of the math. A
seqmodels layer is anything with `init(key) -> params` and a method that
takes `(params, *inputs, **kwargs)`; `FlaxLayer` stores those params as ONE
flax parameter collection entry and calls the method:

    from seqmodels import recurrence, flax_adapter
    from seqmodels.cells import LSTM

    class Tagger(nn.Module):
        @nn.compact
        def __call__(self, xs, lengths):                      # xs [B, T, D]
            rnn = flax_adapter.FlaxLayer(recurrence.RNN(LSTM(8, 32)), method="apply_batch")
            _, hs = rnn(xs, lengths=lengths)
            return nn.Dense(5)(hs)

The parameters under 'layer' are exactly `layer.init(key)`'s nested dict,
so weights move between the two worlds without conversion.
"""

from typing import Any

import flax.linen as nn


class FlaxLayer(nn.Module):
    """Wrap `layer` (a frozen dataclass with `init(key)`) as a flax Module calling `layer.<method>`."""

    layer: Any
    method: str = "apply"

    @nn.compact
    def __call__(self, *inputs, **kwargs):
        params = self.param("layer", lambda key: self.layer.init(key))
        return getattr(self.layer, self.method)(params, *inputs, **kwargs)
