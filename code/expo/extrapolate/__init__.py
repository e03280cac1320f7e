"""Streaming ExPO extrapolation of checkpoints: theta = aligned + alpha * (aligned - sft), tensor by tensor.

Modules: ``checkpoint`` (find and check weight files, read tensor slices), ``plan`` (match sft and aligned
tensors, tied embeddings, every mismatch as an error), ``compute`` (the tensor math: ``extrapolate_tensors``, the
one definition of the op order on torch tensors, and the engine's torch-free numpy kernels that give the same
bits), ``stream`` (read / compute / write threads), ``writer`` (streaming sharded safetensors), ``fingerprints``
(sha256 of every weight file from the streamed bytes), ``provenance`` (copied files and the provenance record),
``engine`` (the whole run).
"""

from expo.extrapolate.compute import PRECISIONS, extrapolate_tensors
from expo.extrapolate.engine import DEFAULT_SHARD_SIZE_MB, extrapolate

__all__ = ["DEFAULT_SHARD_SIZE_MB", "PRECISIONS", "extrapolate", "extrapolate_tensors"]
