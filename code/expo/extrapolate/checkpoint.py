"""Read a checkpoint directory lazily: find its weight files, parse and check safetensors headers, read tensor slices.

Nothing here loads a whole model. A safetensors shard is described by its header (parsed by hand, so a corrupt or
truncated file is reported by name before any work starts), and tensor data is read with plain file reads at
offsets, in element ranges, into caller-owned buffers (no mmap, so input pages never count in our RSS), and
offered to the files' content hashes on the way (:mod:`expo.extrapolate.fingerprints`). Safetensors are read
without torch. Pickle checkpoints (``*.bin``/``*.pt``) are read only on request (``allow_pickle``), through
``torch.load`` with ``weights_only=True`` and ``mmap=True``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from expo.errors import ExpoError

log = logging.getLogger(__name__)

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
PICKLE_INDEX = "pytorch_model.bin.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth")
MAX_HEADER_BYTES = 100 * 1024 * 1024

# safetensors dtype code -> (item size in bytes, torch dtype attribute name)
DTYPES: dict[str, tuple[int, str]] = {
    "BOOL": (1, "bool"),
    "U8": (1, "uint8"),
    "I8": (1, "int8"),
    "I16": (2, "int16"),
    "U16": (2, "uint16"),
    "I32": (4, "int32"),
    "U32": (4, "uint32"),
    "I64": (8, "int64"),
    "U64": (8, "uint64"),
    "F8_E4M3": (1, "float8_e4m3fn"),
    "F8_E5M2": (1, "float8_e5m2"),
    "F16": (2, "float16"),
    "BF16": (2, "bfloat16"),
    "F32": (4, "float32"),
    "F64": (8, "float64"),
}
# dtypes the extrapolation arithmetic is defined for
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})


def torch_dtype(code: str):
    import torch

    return getattr(torch, DTYPES[code][1])


def dtype_code(torch_dtype_obj) -> str:
    name = str(torch_dtype_obj).removeprefix("torch.")
    for code, (_, attr) in DTYPES.items():
        if attr == name:
            return code
    raise ExpoError(f"unsupported tensor dtype {name}")


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: file, dtype code, shape, and (safetensors) absolute byte range in the file."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    begin: int = -1  # absolute file offset of the first byte (safetensors only)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return DTYPES[self.dtype][0]

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES


@dataclass
class Checkpoint:
    """A model directory's weights (name -> TensorInfo, in file/offset order) and its config."""

    role: str  # "sft" or "aligned", used in messages
    root: Path
    kind: str  # "safetensors" or "pickle"
    tensors: dict[str, TensorInfo]
    config: dict[str, Any]
    fingerprint_file: Path  # index file, or the single weight file whose header is hashed
    fingerprint_sha256: str
    weight_files: list[Path] = field(default_factory=list)
    # safetensors file -> its raw header (length + JSON), to hash the file without reading it twice
    headers: dict[Path, bytes] = field(default_factory=dict)

    @property
    def ties_word_embeddings(self) -> bool:
        """Whether config.json ties the output embedding to the input one (transformers' default is True)."""
        if not self.config:
            return False
        for cfg in (self.config, self.config.get("text_config") or {}):
            if isinstance(cfg, dict) and "tie_word_embeddings" in cfg:
                return bool(cfg["tie_word_embeddings"])
        return True


def _check_dir(path: Path, role: str) -> None:
    if not path.exists():
        raise ExpoError(f"{role} model directory {path} does not exist")
    if not path.is_dir():
        raise ExpoError(f"{role} model path {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ExpoError(f"{role} model directory {path} is not readable")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except PermissionError:
        raise ExpoError(f"{what} {path} is not readable") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExpoError(f"{what} {path} is not valid JSON: {exc}") from None


def read_safetensors_header(path: Path) -> tuple[dict[str, TensorInfo], bytes]:
    """Parse and check one safetensors file's header; return its tensors and the raw header bytes (length + JSON).

    Raises ExpoError naming the file when the header is unreadable or the file is shorter than the header says.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise ExpoError(f"corrupt safetensors file {path}: {size} bytes, too short for a header")
            header_len = int.from_bytes(prefix, "little")
            if header_len > min(size - 8, MAX_HEADER_BYTES):
                raise ExpoError(
                    f"corrupt or truncated safetensors file {path}: header length {header_len} "
                    f"but the file has {size} bytes"
                )
            raw = fh.read(header_len)
    except PermissionError:
        raise ExpoError(f"safetensors file {path} is not readable") from None
    except OSError as exc:
        raise ExpoError(f"cannot read safetensors file {path}: {exc}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExpoError(f"corrupt safetensors file {path}: header unreadable ({exc})") from None
    data_start = 8 + header_len
    tensors: dict[str, TensorInfo] = {}
    data_end = 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = meta["dtype"]
            shape = tuple(int(d) for d in meta["shape"])
            begin, end = (int(x) for x in meta["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ExpoError(f"corrupt safetensors file {path}: bad header entry for tensor {name}") from None
        if dtype not in DTYPES:
            raise ExpoError(f"safetensors file {path}: tensor {name} has unsupported dtype {dtype}")
        if any(d < 0 for d in shape) or end - begin != math.prod(shape) * DTYPES[dtype][0] or begin < 0:
            raise ExpoError(
                f"corrupt safetensors file {path}: tensor {name} offsets {begin}..{end} do not match "
                f"its shape {list(shape)} and dtype {dtype}"
            )
        data_end = max(data_end, end)
        tensors[name] = TensorInfo(name, path, dtype, shape, data_start + begin)
    if data_start + data_end > size:
        raise ExpoError(
            f"truncated safetensors file {path}: header says {data_start + data_end} bytes, file has {size}"
        )
    return dict(sorted(tensors.items(), key=lambda kv: kv[1].begin)), prefix + raw


def _open_safetensors(
    root: Path, role: str
) -> tuple[dict[str, TensorInfo], Path, str, list[Path], dict[Path, bytes]] | None:
    index = root / SAFETENSORS_INDEX
    if index.is_file():
        data = _read_json(index, f"{role} safetensors index")
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ExpoError(f"{role} safetensors index {index} has no 'weight_map'")
        files = sorted(set(weight_map.values()), key=str)
        tensors: dict[str, TensorInfo] = {}
        headers: dict[Path, bytes] = {}
        for fname in files:
            shard = root / str(fname)
            if not shard.is_file():
                raise ExpoError(f"{role} safetensors index {index} lists {fname}, which does not exist")
            in_file, headers[shard] = read_safetensors_header(shard)
            for name, info in in_file.items():
                if weight_map.get(name) == fname:
                    tensors[name] = info
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise ExpoError(
                f"{role} safetensors index {index} maps tensor {missing[0]} to {weight_map[missing[0]]}, "
                "whose header does not have it"
            )
        digest = hashlib.sha256(index.read_bytes()).hexdigest()
        return tensors, index, digest, [root / str(f) for f in files], headers
    single = root / SAFETENSORS_SINGLE
    if not single.is_file():
        found = sorted(p for p in root.glob("*.safetensors") if p.is_file())
        if not found:
            return None
        if len(found) > 1:
            raise ExpoError(
                f"{role} model directory {root} has {len(found)} .safetensors files but no {SAFETENSORS_INDEX}"
            )
        single = found[0]
    tensors, header = read_safetensors_header(single)
    return tensors, single, hashlib.sha256(header).hexdigest(), [single], {single: header}


def _pickle_files(root: Path) -> list[Path]:
    index = root / PICKLE_INDEX
    if index.is_file():
        data = _read_json(index, "pickle index")
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict):
            raise ExpoError(f"pickle index {index} has no 'weight_map'")
        return [root / str(f) for f in sorted(set(weight_map.values()), key=str)]
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix in PICKLE_SUFFIXES)


def _open_pickle(root: Path, role: str, files: list[Path]) -> tuple[dict[str, TensorInfo], Path, str]:
    import torch

    log.warning(
        "%s model %s has no safetensors; reading pickle checkpoints (%s) with torch.load(weights_only=True)",
        role,
        root,
        ", ".join(f.name for f in files),
    )
    tensors: dict[str, TensorInfo] = {}
    for path in files:
        if not path.is_file():
            raise ExpoError(f"{role} pickle checkpoint {path} does not exist")
        state = _load_pickle(path)
        for name, value in state.items():
            if not isinstance(value, torch.Tensor):
                raise ExpoError(f"{role} pickle checkpoint {path}: entry {name} is not a tensor")
            tensors[name] = TensorInfo(name, path, dtype_code(value.dtype), tuple(value.shape))
    index = root / PICKLE_INDEX
    fp_file = index if index.is_file() else files[0]
    digest = hashlib.sha256()
    with open(fp_file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    return tensors, fp_file, digest.hexdigest()


def _load_pickle(path: Path) -> dict:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for corrupt pickles
        raise ExpoError(
            f"cannot read pickle checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ExpoError(f"pickle checkpoint {path} does not hold a state dict")
    return state


def open_checkpoint(path: str | os.PathLike, role: str, allow_pickle: bool = False) -> Checkpoint:
    """Find, parse and check the weights of one model directory (no tensor data is read)."""
    root = Path(path)
    _check_dir(root, role)
    config_path = root / "config.json"
    config = _read_json(config_path, f"{role} config") if config_path.is_file() else {}
    if not isinstance(config, dict):
        raise ExpoError(f"{role} config {config_path} is not a JSON object")
    found = _open_safetensors(root, role)
    headers: dict[Path, bytes] = {}
    if found is not None:
        tensors, fp_file, digest, files, headers = found
        kind = "safetensors"
    else:
        pickles = _pickle_files(root)
        if not pickles:
            raise ExpoError(f"{role} model directory {root} has no safetensors weights (no *.safetensors)")
        if not allow_pickle:
            raise ExpoError(
                f"{role} model directory {root} has only pickle weights ({pickles[0].name}); "
                "pass --allow-pickle to read them (unsafe for untrusted files)"
            )
        tensors, fp_file, digest = _open_pickle(root, role, pickles)
        files, kind = pickles, "pickle"
    if not tensors:
        raise ExpoError(f"{role} model directory {root} has no tensors in its weight files")
    return Checkpoint(role, root, kind, tensors, config, fp_file, digest, files, headers)


class TensorReader:
    """Reads element ranges of tensors into caller buffers, keeping file handles (or pickle dicts) open.

    With ``fingerprints`` every safetensors read is offered to the file's content hash. One reader per thread.
    """

    def __init__(self, fingerprints=None) -> None:
        self._files: dict[Path, Any] = {}
        self._pickles: dict[Path, dict] = {}
        self.fingerprints = fingerprints
        self.read_seconds = 0.0  # wall time in read calls (hashing excluded)
        self.hash_seconds = 0.0

    def read(self, info: TensorInfo, start: int, count: int, out) -> Any:
        """Fill the start of ``out`` (a uint8 buffer of at least count*itemsize bytes) and return a 1-D view.

        ``out`` a numpy array: the bytes (a uint8 view); a torch tensor: a view typed as the tensor's dtype.
        """
        nbytes = count * info.itemsize
        view = out[:nbytes]
        as_torch = not isinstance(view, np.ndarray)
        arr = view.numpy() if as_torch else view
        mem = memoryview(arr)
        if info.begin >= 0:
            t0 = time.perf_counter()
            fh = self._files.get(info.file)
            if fh is None:
                fh = self._files[info.file] = open(info.file, "rb", buffering=0)
            offset = info.begin + start * info.itemsize
            done = 0
            while done < nbytes:
                got = os.preadv(fh.fileno(), [mem[done:]], offset + done)
                if got <= 0:
                    raise ExpoError(
                        f"truncated safetensors file {info.file}: read past its end ({info.name})"
                    )
                done += got
            t1 = time.perf_counter()
            self.read_seconds += t1 - t0
            if self.fingerprints is not None:
                self.fingerprints.feed(info.file, offset, mem)
                self.hash_seconds += time.perf_counter() - t1
        else:
            import torch

            state = self._pickles.get(info.file)
            if state is None:
                state = self._pickles[info.file] = _load_pickle(info.file)
            src = state[info.name].reshape(-1)[start : start + count].contiguous()
            arr[:] = src.view(torch.uint8).numpy()
        return view.view(torch_dtype(info.dtype)) if as_torch else view

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        self._pickles.clear()

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
