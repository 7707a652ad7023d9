"""Analog device models of a crossbar of 1-bit cells and its SAR ADCs (docs/design.md section 4, analog
non-idealities): the parameters, their sources, the built-in presets and the JSON file that gives your own.

A model is a pair of programmed cell states (on: the cell holds a 1, off: a 0), each with its target
conductance and the statistics of its deviations, a first-order bit-line wire resistance and an ADC. A
multi-level device model (aihwkit's PCM, ReRAM) is mapped onto binary cells by evaluating its
conductance-dependent formulas at the two targets the cells are programmed to: g_on (the device's g_max)
and g_off (its lowest programmed state).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..common import SwsError, read_json

__all__ = ["CellState", "AdcNoise", "DeviceModel", "PRESETS", "preset", "load_device", "device_from_dict",
           "pcm_state", "AIHWKIT_COMMIT", "CROSSSIM_COMMIT"]

#: The aihwkit source the PCM model follows (src/aihwkit/inference/noise/pcm.py, compensation/drift.py).
AIHWKIT_COMMIT = "IBM/aihwkit@4545f11b5214c5e3c6b9d293053bbf8baf74e110"
#: The CrossSim source of the SAR ADC error model (simulator/circuits/adc/sar_adc.py).
CROSSSIM_COMMIT = "sandialabs/cross-sim@0a2eb1eda183326ef4d98d792995c721105d3726"


@dataclass(frozen=True)
class CellState:
    """One programmed state of a 1-bit cell, in microsiemens.

    Parameters
    ----------
    g_us : float
        Target conductance.
    prog_sigma_us : float
        Programming noise: g_prog = max(g + prog_sigma N(0, 1), 0), drawn once per cell (static).
    nu_mean, nu_std : float
        Drift: g(t) = g_prog ((t + t0) / t0) ** -nu with nu = abs(nu_mean + nu_std N(0, 1)), drawn once per cell.
    read_1f : float
        Accumulated 1/f read noise (aihwkit's q_s), relative: g_final = g(t) + abs(g(t)) read_1f
        sqrt(ln((t + t0 + t_read) / (2 t_read))) N(0, 1), drawn once per cell for a read time t > 0.
    read_sigma_us : float
        Short-term read noise, absolute, drawn anew in every read (per driven cell and conversion).
    """

    g_us: float
    prog_sigma_us: float = 0.0
    nu_mean: float = 0.0
    nu_std: float = 0.0
    read_1f: float = 0.0
    read_sigma_us: float = 0.0


@dataclass(frozen=True)
class AdcNoise:
    """The non-idealities of one SAR ADC of N = full_resolution bits whose LSB is one on-cell current.

    A conversion at b <= N bits is the SAR's binary search over bits b-1..0 with the higher bits 0 (the same
    capacitor DAC, so the same LSB at every resolution: b sets the range 0..2**b - 1, not the step).

    Parameters
    ----------
    noise_lsb : float
        Input-referred noise per conversion (thermal and comparator noise), std in LSB.
    offset_lsb : float
        Comparator offset, std in LSB, drawn once per ADC (static).
    gain_sigma : float
        Relative gain error (reference mismatch), std, drawn once per ADC (static).
    cap_mismatch : float
        Unit-capacitor mismatch of the binary-weighted CDAC (CrossSim SarADC, Spear et al. 2023): capacitor i
        is 2**i + cap_mismatch 2**(i/2) N(0, 1) units, the terminating one 1 + cap_mismatch N(0, 1), drawn
        once per ADC; it sets the INL and DNL.
    """

    noise_lsb: float = 0.0
    offset_lsb: float = 0.0
    gain_sigma: float = 0.0
    cap_mismatch: float = 0.0

    @property
    def ideal(self) -> bool:
        return not (self.noise_lsb or self.offset_lsb or self.gain_sigma or self.cap_mismatch)


@dataclass(frozen=True)
class DeviceModel:
    """A preset or a user's model: two cell states, timing constants of drift and read noise, wire, ADC.

    Parameters
    ----------
    name : str
    on, off : CellState
        The states of a cell holding 1 and 0. The ADC's LSB is the nominal on current g_on (V_read g_on).
    t0_s : float
        Drift reference time after programming (aihwkit t_0).
    t_read_s : float
        Read duration of the 1/f noise fit (aihwkit t_read).
    r_wire_ohm : float
        Bit-line wire resistance between neighbouring cells (first-order IR drop, section 4).
    read_1f_law : dict or None
        aihwkit's PCM law of the 1/f coefficient, evaluated per cell at its programmed conductance instead of the
        states' `read_1f`: q_s = min(q0 / max((g_prog / g_max_us) ** exponent, floor), cap); keys q0, exponent,
        g_max_us, floor, cap. None: each state's constant `read_1f`.
    adc : AdcNoise
    sources : dict
        Where each number comes from, by field name (shown in reports and docs).
    """

    name: str
    on: CellState
    off: CellState
    t0_s: float = 20.0
    t_read_s: float = 250e-9
    r_wire_ohm: float = 0.0
    read_1f_law: dict | None = dataclasses.field(default=None, hash=False)
    adc: AdcNoise = AdcNoise()
    sources: dict = dataclasses.field(default_factory=dict, compare=False, hash=False)

    def scaled(self, factor: float) -> "DeviceModel":
        """Every noise std (cell and ADC) times `factor`, targets, drift means and wire unchanged: the noise
        axis of the study. factor 0 is the ideal analog array at the same drift."""
        cell = lambda s: dataclasses.replace(s, prog_sigma_us=s.prog_sigma_us * factor, nu_std=s.nu_std * factor,
                                             read_1f=s.read_1f * factor, read_sigma_us=s.read_sigma_us * factor)
        a = self.adc
        adc = AdcNoise(a.noise_lsb * factor, a.offset_lsb * factor, a.gain_sigma * factor, a.cap_mismatch * factor)
        law = None if self.read_1f_law is None else {**self.read_1f_law, "q0": self.read_1f_law["q0"] * factor,
                                                         "cap": self.read_1f_law["cap"] * factor}
        return dataclasses.replace(self, name=f"{self.name} x{factor:g}", on=cell(self.on), off=cell(self.off),
                                   adc=adc, read_1f_law=law)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sources"] = dict(self.sources)
        if d["read_1f_law"] is None:
            del d["read_1f_law"]
        return d


# --- PCM after aihwkit's PCMLikeNoiseModel ----------------------------------------------------------------

#: aihwkit PCMLikeNoiseModel defaults (pcm.py): programming-noise polynomial in uS, fitted at g_max = 25 uS.
PCM_PROG_COEFF = (0.26348, 1.9650, -1.1731)
PCM_G_MAX_US = 25.0


def pcm_state(g_us: float, g_max_us: float = PCM_G_MAX_US) -> CellState:
    """aihwkit PCMLikeNoiseModel (Nandakumar et al. ICECS 2019; Joshi et al. Nat. Commun. 2020) at one target:
    sigma_prog = (c0 + c1 x + c2 x^2) g_max / 25 uS with x = g / g_max; nu mean clip(-0.0155 ln x + 0.0244,
    0.049, 0.1), nu std clip(-0.0125 ln x - 0.0059, 0.008, 0.045) (x clipped at 1e-7); q_s =
    min(0.0088 / max(x ** 0.65, 1e-3), 0.2). aihwkit evaluates q_s at the programmed conductance, here at the
    target (for the on state they differ by 0.65 x the programming spread, about 3% of q_s)."""
    x = g_us / g_max_us
    sig = sum(c * x ** i for i, c in enumerate(PCM_PROG_COEFF)) * g_max_us / PCM_G_MAX_US
    xr = max(abs(x), 1e-7)
    nu_mean = min(max(-0.0155 * math.log(xr) + 0.0244, 0.049), 0.1)
    nu_std = min(max(-0.0125 * math.log(xr) - 0.0059, 0.008), 0.045)
    q = min(0.0088 / max(abs(x) ** 0.65, 1e-3), 0.2)
    return CellState(g_us, sig, nu_mean, nu_std, q, 0.0)


def _enob_noise(bits: float, enob: float) -> float:
    """Input-referred noise (LSB) that brings an ideal `bits`-bit quantizer down to `enob`: the SNDR deficit
    sigma^2 = (4 ** (bits - enob) - 1) / 12 (all of it counted as noise, distortion included)."""
    return math.sqrt((4.0 ** (bits - enob) - 1.0) / 12.0)


#: The SAR of the presets: Ramkaj et al., JSSC 53(7) 2018, a 7-b 1.25 GS/s single-channel SAR, 28 nm, low-frequency
#: SNDR 41.4 dB = ENOB 6.58 -> 0.25 LSB rms; offset residual and capacitor mismatch are assumptions.
SAR_28NM = AdcNoise(noise_lsb=round(_enob_noise(7, (41.4 - 1.76) / 6.02), 4), offset_lsb=0.1, gain_sigma=0.002,
                    cap_mismatch=0.01)
_SAR_SOURCES = {
    "adc.noise_lsb": "Ramkaj et al., JSSC 53(7):1889, 2018 (7-b 1.25 GS/s SAR, SNDR 41.4 dB at low input "
                     "frequency): sigma^2 = (4^(7 - ENOB) - 1) / 12, ENOB = (41.4 - 1.76) / 6.02 (published)",
    "adc.offset_lsb": "comparator offset left after foreground calibration, 0.1 LSB (assumption)",
    "adc.gain_sigma": "reference/gain mismatch between ADCs, 0.2% (assumption)",
    "adc.cap_mismatch": "unit-capacitor mismatch of the CDAC, 1% (assumption; the model is CrossSim's SarADC, "
                        f"Spear et al. IEEE JXCDC 2023, {CROSSSIM_COMMIT} simulator/circuits/adc/sar_adc.py)",
}

PRESETS: dict[str, DeviceModel] = {
    "ideal": DeviceModel("ideal", CellState(1.0), CellState(0.0), sources={"all": "exact counts, exact ADCs"}),
    "pcm": DeviceModel(
        "pcm", pcm_state(PCM_G_MAX_US), pcm_state(0.0), t0_s=20.0, t_read_s=250e-9, r_wire_ohm=0.0, adc=SAR_28NM,
        read_1f_law={"q0": 0.0088, "exponent": 0.65, "g_max_us": PCM_G_MAX_US, "floor": 1e-3, "cap": 0.2},
        sources={
            "on, off": f"aihwkit PCMLikeNoiseModel ({AIHWKIT_COMMIT} src/aihwkit/inference/noise/pcm.py), fitted "
                       "on a 1M-device PCM chip (Nandakumar et al. ICECS 2019; Joshi et al. Nat. Commun. 11:2473, "
                       "2020), evaluated at g_on = g_max = 25 uS and g_off = 0 (its SinglePairConductanceConverter's "
                       "g_min): on: sigma_prog 1.05538 uS, nu 0.049 +- 0.008, q_s 0.0088; off: sigma_prog 0.26348 uS "
                       "(clipped at 0: a half-normal leak), nu 0.1 +- 0.045, q_s 0.2 (published fit)",
            "t0_s, t_read_s": "aihwkit PCMLikeNoiseModel defaults t_0 = 20 s, t_read = 250 ns (published fit)",
            "r_wire_ohm": "0: aihwkit's default (IOParameters.ir_drop = 0); set it in a device file to study IR drop",
            "read_sigma_us": "0: the PCM model's read noise is its accumulated 1/f term",
            "read_1f_law": "aihwkit's q_s = min(0.0088 / max((g_prog / 25 uS)^0.65, 1e-3), 0.2) per cell at its "
                           "programmed conductance (pcm.py); the states' read_1f are its values at the targets",
            **_SAR_SOURCES}),
    "reram": DeviceModel(
        "reram",
        # aihwkit ReRamWan2022NoiseModel (reram.py), 1 s polynomial at g_max = 40 uS: x = 1 -> 1.103 uS, x = 0 -> 0.348 uS.
        CellState(40.0, 1.103, 0.0, 0.0, 0.0, 0.4), CellState(0.0, 0.348, 0.0, 0.0, 0.0, 0.4),
        t0_s=1.0, t_read_s=250e-9, r_wire_ohm=0.0, adc=SAR_28NM,
        sources={
            "on, off": f"aihwkit ReRamWan2022NoiseModel ({AIHWKIT_COMMIT} src/aihwkit/inference/noise/reram.py), "
                       "fit to Wan et al. Nature 608:504, 2022, at 1 s after programming, g_max = 40 uS: sigma "
                       "1.103 uS at g_on = 40 uS, 0.348 uS at g_off = 0 (published fit); its later relaxation "
                       "(1 day: 2.651 / 0.701 uS) is not a drift law and is not modelled",
            "read_sigma_us": "0.4 uS = 1% of g_max per read: aihwkit's note on the model ('about 1%', w_noise 0.01 "
                             "additive constant) (published guidance)",
            "nu": "0: no drift in the model", **_SAR_SOURCES}),
    "sram": DeviceModel(
        "sram",
        # Charge domain: a 1-cell couples its unit capacitor, a 0-cell none; the SRAM bit itself is exact.
        CellState(1.0, 0.002, 0.0, 0.0, 0.0, 0.0), CellState(0.0),
        t0_s=1.0, t_read_s=250e-9, r_wire_ohm=0.0, adc=SAR_28NM,
        sources={
            "on": "charge-domain SRAM CIM (Valavi et al., JSSC 54(6):1789, 2019): a 1-cell adds its metal-fringe "
                  "unit capacitor's charge; unit-capacitor mismatch 0.2% (assumption, of the order the paper's "
                  "1.2 fF MOM capacitors are chosen for); SRAM states do not drift or need programming",
            "off": "exactly 0: the capacitor of a 0-cell is not charged",
            "read_sigma_us": "0: the column's kT/C noise is in the ADC's input-referred noise", **_SAR_SOURCES}),
}


def preset(name: str) -> DeviceModel:
    if name not in PRESETS:
        raise SwsError(f"--analog: {name!r} is neither a preset ({', '.join(PRESETS)}) nor a .json device file")
    return PRESETS[name]


# --- JSON device files --------------------------------------------------------------------------------------

_STATE_KEYS = {f.name for f in dataclasses.fields(CellState)}
_ADC_KEYS = {f.name for f in dataclasses.fields(AdcNoise)}
_TOP_KEYS = {"format", "name", "on", "off", "t0_s", "t_read_s", "r_wire_ohm", "read_1f_law", "adc", "sources"}
_LAW_KEYS = ("q0", "exponent", "g_max_us", "floor", "cap")
FORMAT = "sws-analog-device"


def _number(where: str, value, *, positive: bool = False, at_most: float | None = None) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) \
        and (value > 0 if positive else value >= 0) and (at_most is None or value <= at_most)
    if not ok:
        rule = ("a finite number " + ("> 0" if positive else ">= 0")
                + (f" and <= {at_most:g}" if at_most is not None else ""))
        raise SwsError(f"{where} must be {rule}, not {value!r}")
    return float(value)


def device_from_dict(d, where: str = "device") -> DeviceModel:
    """A DeviceModel from the JSON file's object; an SwsError names the file, field, value and rule."""
    if not isinstance(d, dict):
        raise SwsError(f"{where}: must be a JSON object, not {type(d).__name__}")
    bad = sorted(set(d) - _TOP_KEYS)
    if bad:
        raise SwsError(f"{where}: unknown field {bad[0]!r} (fields: {', '.join(sorted(_TOP_KEYS))})")
    if d.get("format", FORMAT) != FORMAT:
        raise SwsError(f"{where}: format must be {FORMAT!r}, not {d['format']!r}")
    for key in ("name", "on", "off"):
        if key not in d:
            raise SwsError(f"{where}: field {key!r} is missing")
    if not isinstance(d["name"], str) or not d["name"]:
        raise SwsError(f"{where}: name must be a non-empty string, not {d['name']!r}")

    def state(key: str) -> CellState:
        s = d[key]
        if not isinstance(s, dict):
            raise SwsError(f"{where}: {key} must be an object of {', '.join(sorted(_STATE_KEYS))}, not {s!r}")
        unknown = sorted(set(s) - _STATE_KEYS)
        if unknown:
            raise SwsError(f"{where}: unknown field {key}.{unknown[0]} (fields: {', '.join(sorted(_STATE_KEYS))})")
        if "g_us" not in s:
            raise SwsError(f"{where}: field {key}.g_us is missing")
        return CellState(**{k: _number(f"{where}: {key}.{k}", v, at_most=1.0 if k == "nu_mean" else None)
                            for k, v in s.items()})

    on, off = state("on"), state("off")
    if not on.g_us > off.g_us:
        raise SwsError(f"{where}: on.g_us must be greater than off.g_us ({off.g_us:g}), not {on.g_us!r}")
    adc = d.get("adc", {})
    if not isinstance(adc, dict):
        raise SwsError(f"{where}: adc must be an object of {', '.join(sorted(_ADC_KEYS))}, not {adc!r}")
    unknown = sorted(set(adc) - _ADC_KEYS)
    if unknown:
        raise SwsError(f"{where}: unknown field adc.{unknown[0]} (fields: {', '.join(sorted(_ADC_KEYS))})")
    adc = AdcNoise(**{k: _number(f"{where}: adc.{k}", v, at_most=0.2 if k in ("gain_sigma", "cap_mismatch") else None)
                      for k, v in adc.items()})
    law = d.get("read_1f_law")
    if law is not None:
        if not isinstance(law, dict) or sorted(law) != sorted(_LAW_KEYS):
            raise SwsError(f"{where}: read_1f_law must be an object of exactly {', '.join(_LAW_KEYS)}, not {law!r}")
        law = {k: _number(f"{where}: read_1f_law.{k}", law[k], positive=k in ("g_max_us", "floor")) for k in _LAW_KEYS}
    sources = d.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise SwsError(f"{where}: sources must be an object of strings (field -> where the number comes from)")
    return DeviceModel(d["name"], on, off,
                       t0_s=_number(f"{where}: t0_s", d.get("t0_s", 20.0), positive=True),
                       t_read_s=_number(f"{where}: t_read_s", d.get("t_read_s", 250e-9), positive=True),
                       r_wire_ohm=_number(f"{where}: r_wire_ohm", d.get("r_wire_ohm", 0.0)), read_1f_law=law,
                       adc=adc, sources=dict(sources))


def load_device(spec: str) -> DeviceModel:
    """A preset by name, or a device file (.json, format sws-analog-device)."""
    if not isinstance(spec, str) or not spec.endswith(".json"):
        return preset(spec)
    # Through mapper.common.reading: a regular file of at most 16 MB, JSON within its bounds.
    return device_from_dict(read_json(spec, what="device file"), spec)


def _check_presets() -> None:   # the presets obey the file rules (import-time, cheap)
    for p in PRESETS.values():
        device_from_dict({k: v for k, v in p.to_dict().items()}, f"preset {p.name}")


_check_presets()
