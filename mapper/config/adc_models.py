"""ADC models with provenance (docs/design.md section 4): energy per conversion and area per ADC against resolution.

Each model is a pair of functions of the resolution b (bits, >= 1) and the energy parameters (node, sample
rate, calibration), each citing the file and version its numbers come from. `MODELS` maps a law name to
its model; mapper.config.energy prices a plan with it. Four models are published: `isaac` (the default),
`neurosim`, `murmann` and `mnsim`; three are relative laws calibrated at E(8) = e8_pj: `walden`,
`thermal` and `table`.

Below a published model's smallest tabulated or valid resolution (4 bits for isaac and murmann) both
energy and area scale as E(b) = E(4) * b / 4: a documented assumption (a SAR of fewer bits makes fewer
comparator decisions and switches a smaller capacitive DAC), not part of any source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["AdcModel", "MODELS", "compare_models", "PUBLISHED", "RELATIVE", "NEUROSIM_NODES", "DEFAULT_E8_PJ",
           "DEFAULT_NODE_NM", "DEFAULT_SAMPLE_RATE_HZ", "LOW_BITS_RULE"]

#: The relative laws' calibration point: the ISAAC 8-bit SAR ADC, 1.67 pJ per conversion (32 nm, 1.2 GS/s).
DEFAULT_E8_PJ = 1.67
#: Node of the models that take one (murmann) when none is given: ISAAC's 32 nm, so the models compare.
DEFAULT_NODE_NM = 32.0
#: Conversions per second per ADC of the murmann model when none is given (MNSIM 2.0's default ADC: 1 GS/s).
DEFAULT_SAMPLE_RATE_HZ = 1e9
LOW_BITS_RULE = "below 4 bits E(b) = E(4) * b / 4 and A(b) = A(4) * b / 4 (assumption, not in the source)"


@dataclass(frozen=True)
class AdcModel:
    """One conversion-energy model: `energy(b, **params)` in pJ and `area(b, **params)` in um^2 per ADC.

    `params` are `node_nm`, `sample_rate_hz`, `e8_pj` and `law_table` (each model reads the ones it needs).
    `max_bits`: the largest resolution the model covers (None: any). `relative`: energies are relative
    and calibrated by e8_pj (walden, thermal, table); a published model carries its own absolute energies.
    """

    name: str
    energy: Callable[..., np.ndarray]
    area: Callable[..., np.ndarray]
    source: str
    formula: str
    max_bits: int | None = None
    relative: bool = False
    uses: tuple[str, ...] = ()   # the parameters (node_nm, sample_rate_hz) the model takes


def _low_bits(f: Callable[[np.ndarray], np.ndarray], b: np.ndarray, lowest: int = 4) -> np.ndarray:
    """f(b) for b >= lowest; f(lowest) * b / lowest below it."""
    b = np.asarray(b, dtype=np.float64)
    return np.where(b >= lowest, f(np.maximum(b, lowest)), f(np.full_like(b, lowest)) * b / lowest)


# --- isaac ------------------------------------------------------------------------------------------------
#: Accelergy-Project/accelergy-library-plug-in, library/isaac/isaac_adc.csv @ 542a38710a9e5020a6fa78b68f9432e8f24ea9f5:
#: 32 nm SAR ADC, pJ per convert and um^2 per ADC at 4..10 bits. The 8-bit row is ISAAC's ADC (Shafiee et al.,
#: ISCA 2016: 16 mW for 8 ADCs at 1.2 GS/s = 1.667 pJ, 9600 um^2 / 8), itself Kull et al., ISSCC 2013; the other
#: rows are scaled per Saberi et al., 2011. hwcomponents-library's isaac.py (@ 19ecd2fc) keeps them as comments.
ISAAC_ENERGY_PJ = {4: 0.79, 5: 0.99, 6: 1.20, 7: 1.42, 8: 1.67, 9: 1.969078145, 10: 2.379022742}
ISAAC_AREA_UM2 = {4: 361.04, 5: 476.91, 6: 626.91, 7: 845.18, 8: 1200.0, 9: 1827.911647, 10: 3002.008032}


def _lookup(table: dict[int, float]) -> Callable[[np.ndarray], np.ndarray]:
    lo = min(table)
    values = np.array([table[b] for b in range(lo, max(table) + 1)])
    return lambda b: values[np.asarray(b, dtype=np.int64) - lo]


def _isaac_energy(b, **_):
    return _low_bits(_lookup(ISAAC_ENERGY_PJ), b)


def _isaac_area(b, **_):
    return _low_bits(_lookup(ISAAC_AREA_UM2), b)


# --- neurosim ---------------------------------------------------------------------------------------------
#: neurosim/DNN_NeuroSim_V1.4, Inference_pytorch/NeuroSIM/SarADC.cpp @ 9e6742cd777b63f68ca56e3b60f774967b4b3c1f,
#: GetColumnPower, LP roadmap (Param.cpp's default deviceroadmap = 2): P = (a * log2(levels) + b0) uW per column
#: ADC, levels = 2**bits, for the planar nodes (V2.1 @ 1b8e89ff has the same constants).
NEUROSIM_LP = {130: (8.4483, 65.243), 90: (5.9869, 37.462), 65: (3.7506, 25.844), 45: (2.1691, 16.693),
               32: (1.1294, 8.8998), 22: (0.538, 4.3753)}
NEUROSIM_NODES = tuple(NEUROSIM_LP)


def _neurosim_energy(b, node_nm=None, **_):
    a, b0 = NEUROSIM_LP[int(node_nm or DEFAULT_NODE_NM)]
    b = np.asarray(b, dtype=np.float64)
    # (uW) x (b + 1) cycles of 1 ns (CalculateLatency: (log2(levels) + 1) * 1e-9 s) = fJ; / 1000 = pJ.
    return (a * b + b0) * (b + 1) * 1e-3


def _neurosim_area(b, node_nm=None, **_):
    # SarADC::CalculateUnitArea: A_INV,N * (269 + 109 (b - 1)) + A_INV,P * (209 + 73 (b - 1)); a minimum
    # inverter transistor of CalculateGateArea on a planar node is 7.6 F wide and 28 F high (constant.h:
    # 2 * (POLY_WIDTH 1 + MIN_GAP_BET_GATE_POLY 2.8) by MAX_TRANSISTOR_HEIGHT 28), so 212.8 F^2 each.
    f_um = float(node_nm or DEFAULT_NODE_NM) * 1e-3
    b = np.asarray(b, dtype=np.float64)
    return 212.8 * f_um ** 2 * (296.0 + 182.0 * b)


# --- murmann ----------------------------------------------------------------------------------------------
#: Accelergy-Project/accelergy-adc-plug-in, adc_data/model.yaml @ 6851cb8d3df4ba705875bc8f3f746da2c7eab7cd (the fit
#: of B. Murmann's ADC Performance Survey 1997-2023 that CiMLoop's hwcomponents-adc uses; model.py there and
#: hwcomponents_adc/model.py @ 246af7e0 compute it the same way).
MURMANN = {
    "foms_intercept": 213.7806687348118, "foms_freq": -2.8719030399529957,
    "max_by_enob": (128.3068287398817, 131.52734025085925, 134.7478517618368, 137.96836327281437,
                    141.18887478379193, 144.4093862947695, 147.62989780574708, 150.85040931672464,
                    154.0709208277022, 157.29143233867975, 160.5119438496573, 163.73245536063487,
                    166.95296687161243, 170.17347838259, 173.39398989356755, 176.61450140454514,
                    179.83501291552267, 183.05552442650026, 186.27603593747781, 189.49654744845537,
                    192.71705895943293),
    "tech_intercept": 26.0496215686518, "tech_slope": 1.8800369206815004, "enob_slope": -2.8291256050594527,
    "energy_res": -1.4702022133784405,
    "area_tech": 0.9932794744745022, "area_freq": 0.18071538424508238, "area_energy": 0.29912426192653485,
    "area_intercept": 1.3461916439910742,
}


def _murmann_max_by_enob(k: np.ndarray) -> np.ndarray:
    # model.py: foms_max_by_enob[max(min(ceil(b), len - 1), 0)]
    table = np.asarray(MURMANN["max_by_enob"])
    return table[np.clip(np.asarray(k, dtype=np.int64), 0, len(table) - 1)]


def _murmann_energy_raw(b: np.ndarray, node_nm: float, rate: float) -> np.ndarray:
    m = MURMANN
    foms = np.minimum(m["foms_intercept"] + m["foms_freq"] * math.log(rate), _murmann_max_by_enob(np.ceil(b)))
    sndr = b * 20 * math.log10(2) + 10 * math.log10(1.5)                       # headers.py bits2sndr
    e0 = 1.0 / (10 ** ((foms - sndr) / 10) * 2)                                # model.py foms_sndr2energy
    return e0 * np.exp(m["tech_intercept"] + m["tech_slope"] * math.log(node_nm)
                       + m["enob_slope"] * np.log(b) + m["energy_res"])       # pJ (the fit's target unit)


def _murmann_area_raw(b: np.ndarray, node_nm: float, rate: float) -> np.ndarray:
    m = MURMANN
    e = _murmann_energy_raw(b, node_nm, rate)
    return np.exp(m["area_tech"] * math.log(node_nm) + m["area_freq"] * math.log(rate)
                  + m["area_energy"] * np.log(e) + m["area_intercept"])


def _murmann_energy(b, node_nm=None, sample_rate_hz=None, **_):
    node, rate = float(node_nm or DEFAULT_NODE_NM), float(sample_rate_hz or DEFAULT_SAMPLE_RATE_HZ)
    return _low_bits(lambda x: _murmann_energy_raw(x, node, rate), b)


def _murmann_area(b, node_nm=None, sample_rate_hz=None, **_):
    node, rate = float(node_nm or DEFAULT_NODE_NM), float(sample_rate_hz or DEFAULT_SAMPLE_RATE_HZ)
    return _low_bits(lambda x: _murmann_area_raw(x, node, rate), b)


# --- mnsim ------------------------------------------------------------------------------------------------
#: thu-nics/MNSIM-2.0, MNSIM/Hardware_Model/ADC.py @ 0cdafc02d51f9401824f2c9106115eab5b7d36fe: the default ADC
#: (SimConfig.ini ADC_Choice = 4: "Area-Efficient 1GS/s 6b SAR ADC with Charge-Injection-Cell-Based DAC"):
#: 1.26 mW, 1 GS/s, 580 um^2; latency (precision + 2) / sample rate; energy = latency * power.
MNSIM_POWER_W, MNSIM_RATE_GSPS, MNSIM_AREA_UM2 = 1.26e-3, 1.0, 580.0


def _mnsim_energy(b, **_):
    b = np.asarray(b, dtype=np.float64)
    return MNSIM_POWER_W * (b + 2) / MNSIM_RATE_GSPS * 1e3          # W x ns = nJ; x 1e3 = pJ


def _mnsim_area(b, **_):
    return np.full(np.shape(b), MNSIM_AREA_UM2)


# --- relative laws ----------------------------------------------------------------------------------------
def _walden(b, e8_pj=DEFAULT_E8_PJ, **_):
    return e8_pj * np.exp2(np.asarray(b, dtype=np.float64) - 8.0)


def _thermal(b, e8_pj=DEFAULT_E8_PJ, **_):
    return e8_pj * np.exp2(2.0 * (np.asarray(b, dtype=np.float64) - 8.0))


def _table(b, e8_pj=DEFAULT_E8_PJ, law_table=None, **_):
    table = np.asarray(law_table, dtype=np.float64)
    b = np.asarray(b, dtype=np.int64)
    if np.any(b > len(table)):
        raise ValueError(f"law_table has no entry for {int(b.max())} bits")
    return e8_pj * table[b - 1] / table[7]


_RELATIVE_AREA = "area: the isaac table's, held at its 10-bit value above 10 bits (a relative law prices energy only)"


def _relative_area(b, **_):
    return _isaac_area(np.minimum(np.asarray(b, dtype=np.int64), max(ISAAC_AREA_UM2)))

MODELS: dict[str, AdcModel] = {m.name: m for m in (
    AdcModel("isaac", _isaac_energy, _isaac_area,
             "Accelergy-Project/accelergy-library-plug-in library/isaac/isaac_adc.csv @ 542a3871 (ISAAC, "
             "Shafiee et al., ISCA 2016; 8-bit point Kull et al., ISSCC 2013; scaled per Saberi et al., 2011)",
             "32 nm table at 4..10 bits; " + LOW_BITS_RULE, max_bits=10),
    AdcModel("neurosim", _neurosim_energy, _neurosim_area,
             "neurosim/DNN_NeuroSim_V1.4 Inference_pytorch/NeuroSIM/SarADC.cpp @ 9e6742cd (LP roadmap)",
             "E = (a b + b0) uW x (b + 1) ns per conversion (column-current term omitted); "
             "A = 212.8 F^2 (296 + 182 b)", uses=("node_nm",)),
    AdcModel("murmann", _murmann_energy, _murmann_area,
             "Accelergy-Project/accelergy-adc-plug-in adc_data/model.yaml @ 6851cb8d and model.py (Murmann ADC "
             "survey fit, as CiMLoop's hwcomponents-adc @ 246af7e0 uses it)",
             "E = P/fs from the Schreier FOM bound, technology-scaled; " + LOW_BITS_RULE,
             uses=("node_nm", "sample_rate_hz")),
    AdcModel("mnsim", _mnsim_energy, _mnsim_area,
             "thu-nics/MNSIM-2.0 MNSIM/Hardware_Model/ADC.py @ 0cdafc02 (default ADC_Choice 4)",
             "E = 1.26 mW x (b + 2) / 1 GS/s; A = 580 um^2"),
    AdcModel("walden", _walden, _relative_area, "relative law", "E = E8 2^(b-8); " + _RELATIVE_AREA, relative=True),
    AdcModel("thermal", _thermal, _relative_area, "relative law", "E = E8 4^(b-8); " + _RELATIVE_AREA,
             relative=True),
    AdcModel("table", _table, _relative_area, "relative law, user table",
             "E = E8 T[b-1] / T[7]; " + _RELATIVE_AREA, relative=True),
)}
PUBLISHED = tuple(n for n, m in MODELS.items() if not m.relative)
RELATIVE = tuple(n for n, m in MODELS.items() if m.relative)


def compare_models(max_bits: int = 10, *, node_nm: float | None = None, sample_rate_hz: float | None = None,
                   e8_pj: float = DEFAULT_E8_PJ, law_table=None) -> dict:
    """Every model's energy (pJ per conversion) and area (um^2 per ADC) at 1..max_bits bits, side by side.

    A model is listed up to its own max_bits; `table` only with a law_table; node and sample rate go to the
    models that take them (the others ignore them).
    """
    out = {"bits": list(range(1, max_bits + 1)), "node_nm": node_nm or DEFAULT_NODE_NM,
           "sample_rate_hz": sample_rate_hz or DEFAULT_SAMPLE_RATE_HZ, "e8_pj": e8_pj, "models": {}}
    for name, m in MODELS.items():
        if name == "table" and law_table is None:
            continue
        top = min(max_bits, m.max_bits or max_bits, len(law_table) if name == "table" else max_bits)
        b = np.arange(1, top + 1)
        params = {"node_nm": node_nm if "node_nm" in m.uses else None,
                  "sample_rate_hz": sample_rate_hz if "sample_rate_hz" in m.uses else None,
                  "e8_pj": e8_pj, "law_table": law_table}
        out["models"][name] = {"energy_pj": [float(x) for x in m.energy(b, **params)],
                               "area_um2": [float(x) for x in m.area(b, **params)],
                               "relative": m.relative, "formula": m.formula, "source": m.source}
    return out
