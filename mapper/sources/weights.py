"""Weight sources: .npy, .npz, .onnx, .safetensors files, synthetic layers and built-in models, read into named K x N layers."""

from __future__ import annotations

import os
import re
import zipfile
import zlib

import numpy as np

from . import builtin as models
from ..common import SwsError, open_input, read_bytes
from .layer import BYTES_PER_WEIGHT, Layer, check_matrix, check_size, conv_matrices, memory_limit

__all__ = ["load_weights", "check_source", "source_name", "read_npy", "read_npz", "BUILTIN_MODELS"]

_SYNTH = re.compile(r"^synthetic:(laplace|gauss):(\d+)x(\d+)(?::(\d+))?$")

#: Built-in models: name -> loader (no arguments, returns the layers).
BUILTIN_MODELS = {"minilm": models.minilm}


def source_name(spec: str) -> str:
    """A short name for a weight source, used for the default output folder build/<name>/."""
    m = _SYNTH.match(spec)
    if m:
        kind, k, n, seed = m.groups()
        return f"synthetic-{kind}-{k}x{n}-{seed or 0}"
    if spec in BUILTIN_MODELS:
        return spec
    if spec.startswith("minilm:"):
        return spec.replace(":", "-")
    return os.path.splitext(os.path.basename(spec.rstrip("/")))[0] or "weights"


def _synthetic(spec: str, m: re.Match) -> list[Layer]:
    _synthetic_size(spec, m)
    kind, k, n, seed = m.groups()
    k, n, seed = int(k), int(n), int(seed or 0)
    rng = np.random.default_rng(seed)
    w = rng.laplace(0.0, 1.0, (k, n)) if kind == "laplace" else rng.normal(0.0, 1.0, (k, n))
    return [Layer(f"{kind}{k}x{n}", w)]


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _open(path: str, what: str = "weights"):
    """The weight (or input) file, opened through mapper.common.reading: a regular file no larger than the
    memory this machine has (what it holds is bounded again by its header, before it is allocated)."""
    return open_input(path, what=what, limit=memory_limit())


def _kind_of(path: str, what: str = "weights") -> str:
    """"npy", "npz" or "other", from the file's first bytes."""
    with _open(path, what) as f:
        try:
            head = f.read(6)
        except OSError as e:
            raise SwsError(f"{path}: cannot read the {what} ({e.strerror})") from None
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head[:4] in _ZIP_MAGIC:
        return "npz"
    return "empty" if not head else "other"


def _npy_header(f, where: str):
    """(shape, dtype) of the .npy array at the file position of `f`, read from its header alone."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, OSError, EOFError, SyntaxError):
        # numpy's reason quotes the header, which is the file's text: name the rule only.
        raise SwsError(f"{where}: not a readable .npy array (its header is not a valid .npy header)") from None
    return shape, dtype


def _check_data_size(where: str, shape, dtype, available: int) -> None:
    """The data the header declares must be there, before an array of that size is allocated: a tiny file
    claiming millions of values is refused, not read into a large allocation."""
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > available:
        raise SwsError(f"{where}: not a readable .npy array (truncated: its header declares {need} bytes of data, "
                       f"the file holds {max(0, available)})")


def _check_header(where: str, shape, dtype, bytes_per_value: int = BYTES_PER_WEIGHT, what: str = "to map") -> None:
    if dtype.hasobject:
        raise SwsError(f"{where}: the values must be integers or floats, not Python objects ({dtype})")
    if dtype.kind in "mM":
        raise SwsError(f"{where}: the values must be integers or floats, not {dtype} (dates and durations "
                       f"are not numbers)")
    if dtype.kind == "V":
        raise SwsError(f"{where}: the values must be integers or floats, not records ({dtype})")
    noun = "layer" if what == "to map" else "array"
    if len(shape) == 2:
        check_size(where, shape[0], shape[1], bytes_per_value, what, noun)
    elif len(shape) == 1:
        check_size(where, 1, shape[0], bytes_per_value, what, noun)


def _refuse_kind(path: str, want: str, what: str = "weights") -> None:
    kind = _kind_of(path, what)
    if kind == want:
        return
    if kind == "empty":
        raise SwsError(f"{path}: the file is empty: a .{want} file starts with the "
                       f"{'NUMPY' if want == 'npy' else 'zip'} signature")
    stem = os.path.splitext(path)[0]
    if kind in ("npy", "npz"):
        raise SwsError(f"{path}: this is a .{kind} {'array' if kind == 'npy' else 'archive'}, not a .{want} "
                       f"{'array' if want == 'npy' else 'archive'}: rename it {stem}.{kind}")
    raise SwsError(f"{path}: not a .{want} file (it does not start with the "
                   f"{'NUMPY' if want == 'npy' else 'zip'} signature)")


def read_npy(path: str, *, bytes_per_value: int = BYTES_PER_WEIGHT, what: str = "to map") -> np.ndarray:
    """The array of a .npy file, refused (SwsError naming the file) if it is empty, another kind of file,
    holds Python objects, or needs more memory than mapper.sources.layer.memory_limit() at `bytes_per_value`
    bytes per element; the size is read from the header, before the array is allocated."""
    noun = "weights" if what == "to map" else "inputs"
    _refuse_kind(path, "npy", noun)
    try:
        with _open(path, noun) as f:
            shape, dtype = _npy_header(f, path)
            _check_header(path, shape, dtype, bytes_per_value, what)
            _check_data_size(path, shape, dtype, os.fstat(f.fileno()).st_size - f.tell())
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except SwsError:
        raise
    except (ValueError, OSError, EOFError) as e:
        raise SwsError(f"{path}: not a readable .npy array ({type(e).__name__})") from None


def _npy(path: str) -> list[Layer]:
    a = read_npy(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    return [Layer(stem, check_matrix(path, a))]


def read_npz(path: str, *, bytes_per_value: int = BYTES_PER_WEIGHT, what: str = "to map") -> dict[str, np.ndarray]:
    """The arrays of a .npz archive by name, each refused as `read_npy` refuses one, from its header before
    it is read; together they must fit in memory_limit() at `bytes_per_value` bytes per element."""
    noun = "weights" if what == "to map" else "inputs"
    _refuse_kind(path, "npz", noun)
    arrays, total = {}, 0
    try:
        with _open(path, noun) as fh, np.load(fh, allow_pickle=False) as z:
            for key in z.files:
                where = f"{path}[{key}]"
                member = key + ".npy"
                with z.zip.open(member) as f:
                    shape, dtype = _npy_header(f, where)
                    offset = f.tell()
                _check_header(where, shape, dtype, bytes_per_value, what)
                _check_data_size(where, shape, dtype, z.zip.getinfo(member).file_size - offset)
                total += int(np.prod(shape, dtype=object))
                check_size(path, 1, total, bytes_per_value, what, "set of arrays")
                arrays[key] = z[key]
    except SwsError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise SwsError(f"{path}: not a readable .npz archive ({type(e).__name__})") from None
    return arrays


def _npz(path: str) -> list[Layer]:
    layers = [Layer(key, check_matrix(f"{path}[{key}]", a)) for key, a in read_npz(path).items()]
    if not layers:
        raise SwsError(f"{path}: the .npz archive holds no arrays: it needs one 2-D array per layer")
    return layers


def _onnx(path: str) -> list[Layer]:
    try:
        from .onnx_weights import read_onnx_layers
    except ImportError:
        raise SwsError(f"{path}: reading ONNX needs the 'onnx' extra: pip install -e '.[onnx]'") from None
    return read_onnx_layers(path)


def _safetensors(path: str) -> list[Layer]:
    """Tensors as PyTorch stores them: a 2-D `weight` is a Linear's (out, in), mapped as its transpose; a 3-D
    to 5-D one a convolution's (out, in, k...), mapped by im2col with one group (the file does not record
    groups); other tensors (biases, norms, embeddings by name) are listed in the notes, not mapped."""
    try:
        from safetensors.numpy import load
    except ImportError:
        raise SwsError(f"{path}: reading .safetensors needs the 'safetensors' extra: "
                       f"pip install -e '.[safetensors]'") from None
    data = read_bytes(path, what="weights", limit=memory_limit() // 2)
    try:
        tensors = load(data)
    except Exception as e:  # safetensors raises SafetensorError, and TypeError for bfloat16, which numpy lacks
        raise SwsError(f"{path}: not a .safetensors file numpy can read ({type(e).__name__}: {e})") from None
    layers, skipped = [], []
    for name, t in tensors.items():
        if 2 <= t.ndim <= 5 and "embed" not in name.lower():   # mapping needs far more than the tensor itself
            check_size(f"{path}[{name}]", *((t.shape[1], t.shape[0]) if t.ndim == 2 else
                                            (int(np.prod(t.shape[1:])), t.shape[0])))
        if t.ndim == 2 and "embed" not in name.lower():
            layers.append(Layer(name, check_matrix(f"{path}[{name}]", np.ascontiguousarray(t.T))))
        elif 3 <= t.ndim <= 5:
            layers.append(Layer(name, check_matrix(f"{path}[{name}]", conv_matrices(t)[0])))
        else:
            skipped.append(name)
    notes = []
    if skipped:
        notes.append(f"safetensors: {len(skipped)} tensors ({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''})"
                     f" not mapped: 1-D (biases, norms) or embedding tables, not matrix-vector products")
    if any(t.ndim > 2 for t in tensors.values()):
        notes.append("safetensors: convolutions are mapped with one group (a .safetensors file does not record "
                     "groups)")
    if not layers:
        raise SwsError(f"{path}: the file holds no 2-D Linear or convolution weight to map")
    return [Layer(l.name, l.weights, list(notes)) for l in layers]


def _check_file(spec: str) -> str:
    """The extension of a weight file that exists and is not a folder, else an SwsError."""
    if os.path.isdir(spec):
        raise SwsError(f"{spec}: is a folder; weights are a .npy, .npz or .onnx file")
    if not os.path.lexists(spec) or (os.path.islink(spec) and not os.path.exists(spec)):
        builtins = f" or a built-in model ({', '.join(sorted(BUILTIN_MODELS))})" if BUILTIN_MODELS else ""
        raise SwsError(f"{spec}: no such file (weights are a .npy, .npz, .onnx or .safetensors file, "
                       f"synthetic:laplace:KxN[:SEED]{builtins})")
    ext = os.path.splitext(spec)[1].lower()
    if ext not in (".npy", ".npz", ".onnx", ".safetensors"):
        raise SwsError(f"{spec}: unknown weight file type {ext!r} (expected .npy, .npz, .onnx or .safetensors)")
    return ext


def _synthetic_size(spec: str, m: re.Match) -> None:
    kind, k, n, seed = m.groups()
    if int(k) == 0 or int(n) == 0:
        raise SwsError(f"{spec}: a synthetic layer needs K >= 1 and N >= 1, not {k}x{n}")
    check_size(spec, int(k), int(n))


def check_source(spec: str) -> None:
    """Every check `load_weights` makes before it reads a layer, for tools that must refuse a bad source
    before they create anything (`sws explore`): a synthetic size that fits, a built-in model whose extra
    is installed, or a weight file of a known type that is a regular file (opened through
    mapper.common.reading) whose first bytes match its extension."""
    m = _SYNTH.match(spec)
    if m:
        _synthetic_size(spec, m)
        return
    if spec.startswith("synthetic:"):
        raise SwsError(f"{spec}: a synthetic source is synthetic:laplace:KxN[:SEED] or synthetic:gauss:KxN[:SEED]")
    if spec in BUILTIN_MODELS:
        if spec == "minilm":
            models.minilm_path()       # names the extra when it is not installed
        return
    variant = models.minilm_variant(spec)   # minilm:sparseNN: its file must exist
    if variant is not None:
        _open(variant).close()
        return
    ext = _check_file(spec)
    if ext in (".npy", ".npz"):
        _refuse_kind(spec, ext[1:])
    else:
        _open(spec).close()


def load_weights(spec: str) -> list[Layer]:
    """Read the layers named by `spec`.

    Parameters
    ----------
    spec : str
        A .npy, .npz, .onnx or .safetensors file, `synthetic:laplace|gauss:KxN[:SEED]`, or a built-in model's name.

    Returns
    -------
    list of Layer
        The K x N matrices, in file (or graph) order.

    Raises
    ------
    SwsError
        For a missing or unreadable file (anything but a regular file is refused unread), a bad synthetic
        spec or a matrix that is not a layer.
    """
    m = _SYNTH.match(spec)
    if m:
        return _synthetic(spec, m)
    if spec.startswith("synthetic:"):
        raise SwsError(f"{spec}: a synthetic source is synthetic:laplace:KxN[:SEED] or synthetic:gauss:KxN[:SEED]")
    if spec in BUILTIN_MODELS:
        return BUILTIN_MODELS[spec]()
    variant = models.minilm_variant(spec)
    if variant is not None:
        return models.minilm(variant)
    ext = _check_file(spec)
    return {".npy": _npy, ".npz": _npz, ".onnx": _onnx, ".safetensors": _safetensors}[ext](spec)
