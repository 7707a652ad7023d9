"""Preparing a layer's weights: unstructured pruning (magnitude, Wanda, SparseGPT, ADC-aware) and
symmetric quantization to signed Bm-bit integers (docs/design.md section 1). ADC-aware pruning
prices weights with the sectioning, so this package sits above it."""

from .pruning import (PRUNE_METHODS, CALIBRATED_METHODS, AdcAware, magnitude, wanda, sparsegpt, input_norms,
                      hessian, check_method, dense_target, obs_factor)
from .quantize import prune, quantize, prepare_layer, prepare_layers, check_sparsity

__all__ = ["PRUNE_METHODS", "CALIBRATED_METHODS", "AdcAware", "magnitude", "wanda", "sparsegpt", "input_norms",
           "hessian", "check_method", "dense_target", "obs_factor", "prune", "quantize", "prepare_layer",
           "prepare_layers", "check_sparsity"]
