"""Each ADC model against numbers worked out by hand from its published table or formula (not from the code).

The expected values were computed with a pocket calculator from the constants quoted in the sources:
isaac_adc.csv (Accelergy library plug-in), SarADC.cpp (DNN_NeuroSim V1.4), model.yaml (Accelergy ADC
plug-in, the Murmann survey fit), ADC.py (MNSIM 2.0). See docs/design.md section 4.
"""

import math

import numpy as np
import pytest

from mapper.config import MODELS, compare_models
from mapper.config import ArrayConfig, EnergyConfig
from mapper.config import adc_area, conversion_energy
from mapper.common import SwsError

BITS = np.arange(1, 11)


def energy(law, bits, **fields):
    return conversion_energy(ArrayConfig(law=law, **fields), bits)


def area(law, bits, **fields):
    return adc_area(ArrayConfig(law=law, **fields), bits)


def test_isaac_is_the_accelergy_table_and_scales_by_bits_below_4():
    # isaac_adc.csv, 32 nm, 4..10 bits; below 4 bits E(4) * b / 4: 0.79 / 4 = 0.1975, 0.395, 0.5925.
    assert energy("isaac", BITS) == pytest.approx(
        [0.1975, 0.395, 0.5925, 0.79, 0.99, 1.20, 1.42, 1.67, 1.969078145, 2.379022742])
    assert area("isaac", BITS) == pytest.approx(
        [90.26, 180.52, 270.78, 361.04, 476.91, 626.91, 845.18, 1200, 1827.911647, 3002.008032])


def test_isaac_is_the_default_law_and_stops_at_10_bits():
    assert ArrayConfig().energy.law == "isaac"
    assert ArrayConfig(rows=1023).hw.full_resolution == 10
    with pytest.raises(SwsError, match="law 'isaac' covers ADCs of at most 10 bits, but rows 1024 need 11"):
        ArrayConfig(rows=1024)
    ArrayConfig(rows=1024, law="walden")   # a law without a ceiling


# NeuroSim LP, E = (a b + b0) uW x (b + 1) ns: 32 nm a = 1.1294, b0 = 8.8998; b = 1: 10.0292 uW x 2 ns = 20.0584 fJ.
NEUROSIM_32 = [0.0200584, 0.0334758, 0.0491520, 0.0670870, 0.0872808, 0.1097334, 0.1344448, 0.1614150]
# 22 nm: a = 0.538, b0 = 4.3753; b = 8: 8.6793 uW x 9 ns = 78.1137 fJ.
NEUROSIM_22 = [0.0098266, 0.0163539, 0.0239572, 0.0326365, 0.0423918, 0.0532231, 0.0651304, 0.0781137]
# Area 212.8 F^2 (296 + 182 b): F = 32 nm: F^2 = 1.024e-3 um^2, b = 1: 212.8 * 1.024e-3 * 478 = 104.16 um^2.
NEUROSIM_AREA_32 = [104.160, 143.819, 183.478, 223.137, 262.796, 302.455, 342.114, 381.773]
NEUROSIM_AREA_22 = [49.232, 67.977, 86.722, 105.467, 124.212, 142.957, 161.702, 180.448]


def test_neurosim_is_the_sar_adc_fit_at_its_nodes():
    b = np.arange(1, 9)
    assert energy("neurosim", b) == pytest.approx(NEUROSIM_32, rel=1e-6)          # 32 nm by default
    assert energy("neurosim", b, node_nm=22) == pytest.approx(NEUROSIM_22, rel=1e-6)
    assert area("neurosim", b) == pytest.approx(NEUROSIM_AREA_32, abs=1e-3)
    assert area("neurosim", b, node_nm=22) == pytest.approx(NEUROSIM_AREA_22, abs=1e-3)
    # 130 nm: a = 8.4483, b0 = 65.243: b = 8 -> (67.5864 + 65.243) uW x 9 ns = 1195.4646 fJ.
    assert energy("neurosim", [8], node_nm=130) == pytest.approx([1.1954646])


# Murmann fit at 32 nm, 1 GS/s per ADC (the default): FOMS = min(213.7807 - 2.8719 ln f, max_by_enob[ceil b]),
# E = 1 / (2 * 10^((FOMS - SNDR) / 10)) * exp(26.0496 + 1.8800 ln 32 - 2.8291 ln b - 1.4702) pJ.
MURMANN_1G = {4: 0.923749, 5: 0.936251, 6: 1.065093, 7: 1.312186, 8: 1.713712, 9: 4.697071, 10: 13.945479}
MURMANN_AREA_1G = {4: 4963.79, 5: 4983.79, 6: 5179.75, 7: 5513.30, 8: 5971.63, 9: 8073.77, 10: 11180.07}
MURMANN_100M = {8: 1.713712, 9: 2.340075, 10: 3.309672}


def test_murmann_is_the_survey_fit_and_scales_by_bits_below_4():
    b = np.arange(4, 11)
    assert energy("murmann", b) == pytest.approx([MURMANN_1G[x] for x in b], rel=1e-5)
    assert area("murmann", b) == pytest.approx([MURMANN_AREA_1G[x] for x in b], rel=1e-5)
    assert energy("murmann", [8, 9, 10], sample_rate_hz=1e8) == pytest.approx(list(MURMANN_100M.values()), rel=1e-5)
    assert area("murmann", [8], sample_rate_hz=1e8) == pytest.approx([3938.93], rel=1e-5)
    assert energy("murmann", [1, 2, 3]) == pytest.approx([0.923749 / 4, 0.923749 / 2, 0.923749 * 3 / 4], rel=1e-5)


def test_murmann_worked_example_at_8_bits():
    # Written out step by step: ln(1e9) = 20.723266, FOMS_f = 154.2655 > max_by_enob[8] = 154.0709 (binds);
    # SNDR = 6.0206 * 8 + 1.7609 = 49.9257 dB; E0 = 1 / (2 * 10^10.41452) = 1.925081e-11;
    # exp(26.049622 + 1.880037 * ln 32 - 2.829126 * ln 8 - 1.470202) = exp(25.212130) = 8.902023e10.
    e0 = 1 / (2 * 10 ** ((154.0709208277022 - (8 * 20 * math.log10(2) + 10 * math.log10(1.5))) / 10))
    scale = math.exp(26.0496215686518 + 1.8800369206815004 * math.log(32) - 2.8291256050594527 * math.log(8)
                     - 1.4702022133784405)
    assert e0 * scale == pytest.approx(1.713712, rel=1e-6)
    assert energy("murmann", [8]) == pytest.approx([e0 * scale])
    # At 16 nm the energy falls by (16 / 32) ** 1.880037.
    assert energy("murmann", [8], node_nm=16) == pytest.approx([e0 * scale * 0.5 ** 1.8800369206815004])


def test_mnsim_is_power_times_b_plus_2_over_the_sample_rate():
    # ADC_Choice 4: 1.26 mW, 1 GS/s, 580 um^2: b = 6 -> 1.26e-3 W x 8 ns = 10.08 pJ.
    assert energy("mnsim", np.arange(1, 9)) == pytest.approx([3.78, 5.04, 6.30, 7.56, 8.82, 10.08, 11.34, 12.60])
    assert area("mnsim", [1, 8]) == pytest.approx([580, 580])


@pytest.mark.parametrize("law", ["isaac", "neurosim", "murmann", "mnsim", "walden", "thermal"])
def test_every_model_costs_more_at_more_bits(law):
    # The per-column split bound (mapper.cost.bound.column_bound) relies on it.
    top = MODELS[law].max_bits or 10
    e = energy(law, np.arange(1, top + 1))
    assert np.all(np.diff(e) > 0)


@pytest.mark.parametrize("fields, message", [
    ({"e8_pj": 2.0}, "law 'isaac' has its own published energies, so e8_pj must stay 1.67, not 2.0"),
    ({"law": "mnsim", "e8_pj": 1.0}, "law 'mnsim' has its own published energies"),
    ({"node_nm": 32}, "node_nm is only used with law neurosim or murmann, not with law 'isaac'"),
    ({"law": "neurosim", "node_nm": 28}, "node_nm of law neurosim must be one of its planar nodes 130, 90, 65, 45, "
                                         "32, 22, not 28"),
    ({"law": "murmann", "node_nm": -5}, "node_nm must be a finite number > 0, not -5"),
    ({"law": "neurosim", "sample_rate_hz": 1e9}, "sample_rate_hz is only used with law murmann"),
    ({"law": "murmann", "sample_rate_hz": 0}, "sample_rate_hz must be a finite number > 0, not 0"),
    ({"macro": 5}, "macro must be the path of a JSON file, not 5"),
])
def test_energy_parameters_are_checked(fields, message):
    with pytest.raises(SwsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EnergyConfig(**fields)


def test_the_relative_laws_keep_their_calibration():
    assert energy("walden", [8, 7], e8_pj=2.0) == pytest.approx([2.0, 1.0])
    assert EnergyConfig(law="murmann", node_nm=7.5, sample_rate_hz=2e8).node_nm == 7.5


def test_compare_models_lists_every_model_side_by_side():
    c = compare_models(10, node_nm=22)
    assert set(c["models"]) == {"isaac", "neurosim", "murmann", "mnsim", "walden", "thermal"}
    assert c["models"]["neurosim"]["energy_pj"][:8] == pytest.approx(NEUROSIM_22, rel=1e-6)
    assert c["models"]["isaac"]["energy_pj"][7] == pytest.approx(1.67)
    assert len(compare_models(12)["models"]["isaac"]["energy_pj"]) == 10       # isaac stops at 10 bits
    table = compare_models(8, law_table=(1, 2, 3, 4, 5, 6, 7, 8))
    assert table["models"]["table"]["energy_pj"] == pytest.approx([1.67 * b / 8 for b in range(1, 9)])
