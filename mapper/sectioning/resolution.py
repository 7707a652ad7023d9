"""ADC resolution policies (docs/design.md section 4): the bits each column of each section is converted at."""

from __future__ import annotations

import numpy as np

from .bits import lossless_bits
from ..config import ArrayConfig

__all__ = ["plan_resolutions"]


def plan_resolutions(counts: np.ndarray, cfg: ArrayConfig, output_mask: np.ndarray | None = None) -> np.ndarray:
    """(S, G, 2, Bm) resolutions from ones per column; 0 means the column is never converted.

    `output_mask` (S, G) marks the real outputs of each section; the dense reference converts
    every column of a real output, ones or not.
    """
    need = lossless_bits(counts)
    if cfg.mapping.policy == "column":
        res = need
    elif cfg.mapping.policy == "section":
        per_section = need.max(axis=(1, 2, 3), initial=0)
        res = np.where(need > 0, per_section[:, None, None, None], 0)
    elif cfg.mapping.policy == "full":
        res = np.where(need > 0, cfg.hw.full_resolution, 0)
    else:  # dense
        mask = np.ones(counts.shape[:2], bool) if output_mask is None else output_mask
        res = np.broadcast_to(np.where(mask, cfg.hw.full_resolution, 0)[:, :, None, None], counts.shape).copy()
    if cfg.mapping.cap is not None:
        res = np.minimum(res, cfg.mapping.cap)
    return res.astype(np.int64)
