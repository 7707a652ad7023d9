"""Row orderings beyond magnitude: orders that let the sections' cuts land where the ADCs are cheapest.

Each keeps the rule of docs/design.md section 3 that zero-key rows are dropped and every group's kept rows are a
permutation of its nonzero-key rows; only the order of those rows changes.

- `signed`: rows with the same sign pattern over the group's outputs together (for G = 1: the
  positive weights, then the negative ones), each run by descending key. A row only puts ones in the
  columns of its own sign, so a section of one sign never starts the other sign's ADCs.
- `gray`: the sign pattern, then the key's highest set bit (descending), then the key's lower bits in
  the order of their Gray code, so that neighbouring rows tend to share their bit patterns.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ORDERING_KEYS", "order_rows"]


def _sign_codes(wg: np.ndarray) -> np.ndarray:
    """(n_groups, K, G): 0 for a positive weight, 1 negative, 2 zero."""
    return np.where(wg > 0, 0, np.where(wg < 0, 1, 2))


def _signed_keys(wg, keys):
    return [-keys]


def _gray_keys(wg, keys):
    top = np.frexp(np.maximum(keys, 1))[1] - 1                 # highest set bit (keys > 0)
    low = keys & ((1 << top) - 1)
    return [low ^ (low >> 1), -top]


#: ordering name -> the sort keys after the sign pattern (the last one is the primary key).
ORDERING_KEYS = {"signed": _signed_keys, "gray": _gray_keys}


def order_rows(wg: np.ndarray, keys: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(order, kept) for the grouped weights wg (n_groups, K, G) and the row keys (n_groups, K)."""
    n_groups, k, g = wg.shape
    codes = _sign_codes(wg)
    index = np.broadcast_to(np.arange(k), keys.shape)
    # lexsort sorts by the last key first: zero rows last, then the sign pattern (output 0 first), then
    # the ordering's own keys; ties by ascending input index.
    sort_keys = [index] + ORDERING_KEYS[name](wg, keys) + [codes[:, :, j] for j in range(g - 1, -1, -1)] \
        + [keys == 0]
    order = np.lexsort(np.stack([np.broadcast_to(x, keys.shape) for x in sort_keys]), axis=-1)
    return order, np.count_nonzero(keys, axis=1)
