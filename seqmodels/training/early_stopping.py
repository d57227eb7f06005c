"""Early stopping on a validation metric, with the state a checkpoint carries.

After each evaluation, with v the metric's value and b the best so far:

    improved  = v < b - min_delta   (mode "min")   or   v > b + min_delta   (mode "max")
    bad_evals = 0 if improved else bad_evals + 1
    stop      = patience > 0 and bad_evals >= patience

The loop saves the "best" checkpoint whenever `improved`; `patience = 0`
never stops (the best checkpoint is still kept). The state is plain Python
numbers (`to_dict` / `from_dict`), saved as JSON with each checkpoint so that
a resumed run stops at the same step as an uninterrupted one.
"""

import dataclasses
import math

__all__ = ["MODES", "EarlyStopping"]

MODES = ("min", "max")


@dataclasses.dataclass
class EarlyStopping:
    metric: str = "loss"  # name of the eval metric watched
    mode: str = "min"  # "min" (losses) or "max" (accuracies)
    patience: int = 0  # evaluations without improvement before stopping; 0 = never stop
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    best: float | None = None  # best value so far
    best_step: int | None = None  # step of the best value
    bad_evals: int = 0  # evaluations since the last improvement
    stopped: bool = False  # patience ran out

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"early_stopping.mode: expected one of {list(MODES)}, got {self.mode!r}")
        if self.patience < 0:
            raise ValueError(f"early_stopping.patience: expected >= 0, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"early_stopping.min_delta: expected >= 0, got {self.min_delta}")

    def update(self, step: int, metrics: dict[str, float]) -> bool:
        """Record one evaluation; return True if it is a new best."""
        if self.metric not in metrics:
            raise ValueError(f"early_stopping.metric: {self.metric!r} is not an eval metric; "
                             f"eval metrics are {sorted(metrics)}")
        value = float(metrics[self.metric])
        if math.isnan(value):
            improved = False
        elif self.best is None:
            improved = True
        elif self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.best_step, self.bad_evals = value, step, 0
        else:
            self.bad_evals += 1
        self.stopped = self.patience > 0 and self.bad_evals >= self.patience
        return improved

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> "EarlyStopping":
        return cls(**state)
