"""ExPO pipeline: model extrapolation for LLM alignment (theta = aligned + alpha * (aligned - sft))."""

__version__ = "0.1.0"
