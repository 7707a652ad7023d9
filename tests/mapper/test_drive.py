import numpy as np
import pytest

from mapper.config import drive_steps, input_range, step_count, step_weights
from mapper.common import SwsError


@pytest.mark.parametrize("bits, signed, encoding", [(8, True, "twos"), (8, True, "signmag"), (4, False, "twos"),
                                                     (3, True, "signmag"), (2, True, "twos")])
def test_the_weighted_drive_steps_sum_back_to_every_input_in_range(bits, signed, encoding):
    lo, hi = input_range(bits, signed, encoding)
    x = np.arange(lo, hi + 1)[None, :]
    d = drive_steps(x, bits, signed, encoding)
    assert d.shape == (1, step_count(bits, signed, encoding), x.shape[1])
    assert set(np.unique(d)) <= {0, 1}
    np.testing.assert_array_equal(np.einsum("vpk,p->vk", d.astype(np.int64), step_weights(bits, signed, encoding)), x)


def test_sign_magnitude_drives_only_the_low_bits_of_a_small_negative_input():
    # -3 in 8-bit two's complement is 11111101: seven of eight steps driven; in sign-magnitude only the
    # negative pass's bits 0 and 1.
    assert drive_steps([[-3]], 8, True, "twos")[0, :, 0].tolist() == [1, 0, 1, 1, 1, 1, 1, 1]
    assert drive_steps([[-3]], 8, True, "signmag")[0, :, 0].tolist() == [0] * 7 + [1, 1, 0, 0, 0, 0, 0]
    assert step_weights(8, True, "signmag").tolist() == [1, 2, 4, 8, 16, 32, 64, -1, -2, -4, -8, -16, -32, -64]
    assert input_range(8, True, "signmag") == (-127, 127) and input_range(8, True, "twos") == (-128, 127)


def test_sign_magnitude_needs_signed_inputs():
    with pytest.raises(SwsError, match="'signmag' is for signed inputs"):
        step_count(8, False, "signmag")
    with pytest.raises(SwsError, match="'bipolar' is for signed inputs"):
        step_count(8, False, "bipolar")
    with pytest.raises(SwsError, match="input encoding must be one of twos, signmag, bipolar, not 'gray'"):
        step_count(8, True, "gray")


def test_the_bipolar_drive_by_hand():
    # One pass of 7 magnitude steps: -3 = 0000011 drives -1 in steps 0 and 1; 5 = 0000101 +1 in steps 0 and 2.
    d = drive_steps([[-3, 5, 0]], 8, True, "bipolar")[0]
    assert d[:, 0].tolist() == [-1, -1, 0, 0, 0, 0, 0] and d[:, 1].tolist() == [1, 0, 1, 0, 0, 0, 0]
    assert not d[:, 2].any()
    assert step_weights(8, True, "bipolar").tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert step_count(8, True, "bipolar") == 7 and input_range(8, True, "bipolar") == (-127, 127)
