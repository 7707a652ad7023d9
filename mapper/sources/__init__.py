"""Weight sources (docs/design.md section 1): .npy, .npz, ONNX and safetensors files, synthetic layers and
built-in models, read into named K x N layers; the layer records every tool shares."""

from .builtin import minilm, minilm_path, minilm_linears, minilm_variant, models_dir, MINILM_NOTE, MINILM_LAYERS
from .layer import (Layer, GraphLinear, QuantLayer, check_matrix, check_size, memory_limit, BYTES_PER_WEIGHT,
                    conv_matrices)
from .onnx_weights import read_onnx_layers, read_onnx_model, onnx_layers, onnx_linears, OnnxLayer
from .weights import load_weights, check_source, source_name, read_npy, read_npz, BUILTIN_MODELS

__all__ = ["minilm", "minilm_path", "minilm_linears", "minilm_variant", "models_dir", "MINILM_NOTE", "MINILM_LAYERS", "Layer", "GraphLinear",
           "QuantLayer", "check_matrix", "check_size", "memory_limit", "BYTES_PER_WEIGHT", "conv_matrices",
           "read_onnx_layers", "read_onnx_model", "onnx_layers", "onnx_linears", "OnnxLayer", "load_weights", "check_source", "source_name",
           "read_npy", "read_npz", "BUILTIN_MODELS"]
