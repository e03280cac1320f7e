"""Streaming ExPO extrapolation of checkpoints: theta = aligned + alpha * (aligned - sft), tensor by tensor.

Modules: ``checkpoint`` (find and check weight files, read tensor slices), ``plan`` (match sft and aligned
tensors, tied embeddings, every mismatch as an error), ``compute`` (the tensor math), ``writer`` (streaming
sharded safetensors), ``provenance`` (copied files and the provenance record), ``engine`` (the whole run).
"""

from expo.extrapolate.compute import PRECISIONS
from expo.extrapolate.engine import DEFAULT_SHARD_SIZE_MB, extrapolate

__all__ = ["DEFAULT_SHARD_SIZE_MB", "PRECISIONS", "extrapolate"]
