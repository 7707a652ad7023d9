"""Hypothesis strategies shared by the mapper's property tests: small layers and the arrays they map onto."""

import numpy as np

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import strategies as st

from mapper.config import ArrayConfig


@st.composite
def layers_and_configs(draw, policies=("column", "section", "full"), orderings=("sorted", "natural"), caps=(None,)):
    bm = draw(st.sampled_from([2, 3, 7]))
    group = draw(st.sampled_from([1, 2, 3]))
    rows = draw(st.sampled_from([1, 2, 3, 4, 8, 16]))
    k = draw(st.integers(1, 40))
    n = draw(st.integers(1, 9))
    qmax = 2 ** bm - 1
    zero_fraction = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    w = rng.integers(-qmax, qmax + 1, (k, n))
    w[rng.random((k, n)) < zero_fraction] = 0
    ordering = draw(st.sampled_from(orderings))
    policy = draw(st.sampled_from(policies))
    if policy == "dense":
        ordering = "natural"
    cfg = ArrayConfig(rows=rows, cols=2 * bm * group * draw(st.integers(1, 3)), weight_bits=bm,
                      input_bits=draw(st.sampled_from([2, 4, 8])), group=group, ordering=ordering,
                      policy=policy, cap=draw(st.sampled_from(caps)))
    return w, cfg
