"""Block RAM reads with registered data (hwgen/bram.py): the DP16KD's shape and initial contents, worked
out by hand from the ECP5 memory layout (1024 rows of 18 bits, the 9th bit of each byte unused below
width 9, 16 rows of 20 bits to an INITVAL parameter)."""

import pytest

from hwgen.bram import ECP5, dp16kd_initvals, dp16kd_width, platform_for


def test_the_narrowest_dp16kd_width_that_holds_the_memory_is_chosen():
    assert dp16kd_width(1, 16384) == 1
    assert dp16kd_width(3, 100) == 4
    assert dp16kd_width(8, 512) == 9          # the input buffer: 512 words of 8 bits
    assert dp16kd_width(10, 1024) == 18
    for width, depth in ((18, 2048), (4, 4097)):      # 36 kbit and 16 kbit + 4 bits
        with pytest.raises(ValueError, match=f"cannot hold {depth} words of {width} bits"):
            dp16kd_width(width, depth)


def test_initial_contents_below_width_9_skip_the_ninth_bit_of_each_byte():
    # Width 2: four words to a byte. Word 0 = 1 -> bit 0; word 1 = 2 -> bit 3; word 2 = 3 -> bits 4, 5;
    # word 4 = 1 starts the second byte at bit 9; word 8 = 1 the third byte at bit 18 = row 1, bit 0,
    # which sits at bit 20 of INITVAL_00.
    init = dp16kd_initvals([1, 2, 3, 0, 1, 0, 0, 0, 1], 2, 2)
    assert init == {"INITVAL_00": (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 9) | (1 << 20)}


def test_initial_contents_at_width_18_are_one_word_a_row_and_sixteen_rows_a_parameter():
    words = [0] * 17
    words[0], words[15], words[16] = 0x3FFFF, 5, 7
    init = dp16kd_initvals(words, 18, 18)
    assert init == {"INITVAL_00": 0x3FFFF | (5 << (15 * 20)), "INITVAL_01": 7}


def test_only_ecp5_synthesis_elaborates_for_the_dp16kd():
    assert platform_for("ecp5") is ECP5
    assert platform_for("ice40") is None and platform_for("generic") is None
