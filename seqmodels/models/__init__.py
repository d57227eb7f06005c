"""Full models, each a composition of seqmodels layers (init/apply pairs)."""
