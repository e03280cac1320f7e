"""The in-engine α sweep: one vLLM engine per pair, its weights set to θ(α) in place for every α of the grid.

Modules: ``weights`` (θ(α) tensors bit-identical to ``expo extrapolate``, pre-flight checks), ``worker`` (the
vLLM worker extension doing the swap through vLLM's loaders), ``run`` (``SweepRequest`` and ``run``).
"""

from expo.sweep.run import SweepRequest, SweepResult, run

__all__ = ["SweepRequest", "SweepResult", "run"]
