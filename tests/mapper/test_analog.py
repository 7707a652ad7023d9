"""mapper.analog: zero noise is the digital crossbar, seeds reproduce, and each noise source has the statistics
its formula says (tolerances from the sample sizes), and bad device files are refused with one line."""

import dataclasses
import json
import math

import numpy as np
import pytest

from mapper.analog import PRESETS, AdcBank, AdcNoise, AnalogRun, CellState, DeviceModel, analog_matvec, load_device
from mapper.analog.crossbar import _draw_state, ir_weights, program_chip
from mapper.analog.devices import pcm_state
from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import map_layer, saturating_matvec
from mapper.sources import QuantLayer

NORMAL_Z = 5.0   # a check fails by chance with probability ~6e-7 per bound


def _layer(k=60, n=9, seed=0, density=0.6):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (k, n))
    w[rng.random(w.shape) > density] = 0
    return w


@pytest.mark.parametrize("fields", [dict(), dict(cap=3), dict(ordering="natural", policy="dense"),
                                    dict(group=2, cap=4), dict(input_encoding="signmag"),
                                    dict(input_signed=False), dict(ordering="natural")])
def test_zero_noise_reproduces_saturating_matvec_exactly(fields):
    w = _layer()
    cfg = ArrayConfig(rows=16, cols=128, **fields)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = np.random.default_rng(1).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (12, w.shape[0]))
    expected = saturating_matvec(lm, x)
    for device in (PRESETS["ideal"], PRESETS["pcm"].scaled(0.0)):
        for t in (0.0, 3600.0):   # the PCM scaled to 0 still drifts, by one factor that compensation undoes
            for fine, leak in ((0, False), (7, True), (2, False)):
                got = analog_matvec(lm, x, AnalogRun(device, t, fine_bits=fine, leak_correction=leak), seed=3)
                np.testing.assert_array_equal(got, expected)


def test_seeds_reproduce_and_differ():
    w = _layer()
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=16))
    x = np.random.default_rng(2).integers(-128, 128, (8, w.shape[0]))
    run = AnalogRun(PRESETS["pcm"])
    a, b, c = (analog_matvec(lm, x, run, s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def _mean_bound(sigma, n):
    return NORMAL_Z * sigma / math.sqrt(n)


def test_programming_noise_matches_the_aihwkit_polynomial_on_and_clipped_off():
    n = 400_000
    on, off = pcm_state(25.0), pcm_state(0.0)
    # Hand evaluation of aihwkit's polynomial (0.26348 + 1.9650 x - 1.1731 x^2) uS at x = 1 and 0.
    assert on.prog_sigma_us == pytest.approx(1.05538) and off.prog_sigma_us == pytest.approx(0.26348)
    run = AnalogRun(PRESETS["pcm"], 0.0)
    g_on, _ = _draw_state(on, n, run, np.random.default_rng(0))
    s = on.prog_sigma_us
    assert abs(g_on.mean() - 25.0) < _mean_bound(s, n)
    assert abs(g_on.std() / s - 1) < NORMAL_Z / math.sqrt(2 * n)
    g_off, _ = _draw_state(off, n, run, np.random.default_rng(1))
    # max(sigma N, 0): P(0) = 1/2, mean sigma / sqrt(2 pi), variance sigma^2 (1/2 - 1/(2 pi)).
    s = off.prog_sigma_us
    zero = np.mean(g_off == 0)
    assert abs(zero - 0.5) < NORMAL_Z * math.sqrt(0.25 / n)
    sd = s * math.sqrt(0.5 - 1 / (2 * math.pi))
    assert abs(g_off.mean() - s / math.sqrt(2 * math.pi)) < _mean_bound(sd, n)
    # The sample variance's relative sd is sqrt((kurtosis - 1) / n); this distribution's kurtosis is below 4.
    assert abs(g_off.var() / sd ** 2 - 1) < NORMAL_Z * math.sqrt(3 / n)


def test_drift_and_1f_noise_match_their_formulas():
    n = 400_000
    dev = PRESETS["pcm"]
    t = 3600.0
    ln = math.log((t + dev.t0_s) / dev.t0_s)
    state = CellState(25.0, 0.0, 0.06, 0.02, 0.0, 0.0)
    _, g = _draw_state(state, n, AnalogRun(dev, t), np.random.default_rng(3))
    # E[exp(-|nu| ln)] for nu ~ N(0.06, 0.02), by quadrature (independent of the sampler).
    z = np.linspace(-9, 9, 20001)
    pdf = np.exp(-z ** 2 / 2) / math.sqrt(2 * math.pi)
    f = np.exp(-np.abs(0.06 + 0.02 * z) * ln)
    mean = 25.0 * np.trapezoid(pdf * f, z)
    sd = 25.0 * math.sqrt(np.trapezoid(pdf * f ** 2, z) - (mean / 25.0) ** 2)
    assert abs(g.mean() - mean) < _mean_bound(sd, n)
    # 1/f only: g = g0 (1 + q sqrt(ln((t + t0 + t_read) / (2 t_read))) N).
    state = CellState(25.0, 0.0, 0.0, 0.0, 0.0088, 0.0)
    _, g = _draw_state(state, n, AnalogRun(dev, t), np.random.default_rng(4))
    sig = 0.0088 * math.sqrt(math.log((t + dev.t0_s + dev.t_read_s) / (2 * dev.t_read_s)))
    assert sig == pytest.approx(0.0088 * 4.766, rel=1e-3)   # hand: ln(3620 / 5e-7) = 22.70
    rel = g / 25.0 - 1
    assert abs(rel.mean()) < _mean_bound(sig, n)
    assert abs(rel.std() / sig - 1) < NORMAL_Z / math.sqrt(2 * n)


def _one_column(k=100, rows=128):
    """A layer whose only ones are bit 0 of one output's positive column, every input 1 (one drive step)."""
    w = np.ones((k, 1), np.int64)
    cfg = ArrayConfig(rows=rows, input_bits=1, input_signed=False)
    return map_layer(QuantLayer("l", w), cfg), np.ones((1, k), np.int64)


def _device(**fields):
    base = dict(name="t", on=CellState(10.0), off=CellState(0.0))
    base.update(fields)
    return DeviceModel(**base)


def test_read_noise_of_a_conversion_is_the_sum_of_its_driven_cells():
    lm, x = _one_column(100)
    dev = _device(on=CellState(10.0, read_sigma_us=3.0))   # 0.3 LSB per cell: sqrt(100) * 0.3 = 3 LSB a conversion
    ys = np.concatenate([analog_matvec(lm, x, AnalogRun(dev, 0.0), s)[:, 0] for s in range(3000)])
    err = ys - 100
    var = 9.0 + 1 / 12   # Gaussian, then rounded to the nearest code (uniform rounding error, independent)
    n = len(err)
    assert abs(err.mean()) < _mean_bound(math.sqrt(var), n)
    assert abs(err.var() / var - 1) < NORMAL_Z * math.sqrt(2 / n)


def test_adc_noise_flips_codes_with_the_normal_probability():
    n = 200_000
    bank = AdcBank(AdcNoise(noise_lsb=0.3), 4, 8, np.random.default_rng(0))
    a = np.full(n, 37.2, np.float32)
    codes = bank.convert(a, np.zeros(n, np.int64), np.full(n, 8), np.random.default_rng(1))
    # The code is 37 while 37.2 + 0.3 N stays in (36.5, 37.5].
    p = 0.5 * (math.erf(0.3 / 0.3 / math.sqrt(2)) + math.erf(0.7 / 0.3 / math.sqrt(2)))
    got = np.mean(codes == 37)
    assert abs(got - p) < NORMAL_Z * math.sqrt(p * (1 - p) / n)
    up = 0.5 * (math.erf(1.3 / 0.3 / math.sqrt(2)) - math.erf(0.3 / 0.3 / math.sqrt(2)))   # 38: 0.3 N in (0.3, 1.3]
    assert abs(np.mean(codes == 38) - up) < NORMAL_Z * math.sqrt(up * (1 - up) / n)


def _brute_sar(a, caps, term, bits, res, gain, offset):
    """An independent SAR: capacitor DAC levels summed bit by bit, binary search from bit res-1."""
    total = sum(caps) + term
    reg = 0
    for i in reversed(range(res)):
        trial = reg | (1 << i)
        level = 2 ** bits * sum(caps[j] for j in range(bits) if trial >> j & 1) / total
        if a * gain + offset > level - 0.5:
            reg = trial
    return reg


def _mismatched_bank(bits):
    """Three ADCs of `bits` with offset, gain error and capacitor mismatch, and those mismatches recovered
    from the same generator stream (gain, offset, then the capacitors), for the brute-force searches."""
    noise = AdcNoise(offset_lsb=0.2, gain_sigma=0.01, cap_mismatch=0.05)
    bank = AdcBank(noise, 3, bits, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    gain = 1 + 0.01 * rng.standard_normal(3)
    offset = 0.2 * rng.standard_normal(3)
    delta = rng.standard_normal((3, bits + 1)) * 0.05
    return bank, gain, offset, delta


def test_sar_with_capacitor_mismatch_matches_a_brute_force_binary_search():
    bits = 6
    bank, gain, offset, delta = _mismatched_bank(bits)
    rs = np.random.default_rng(6)
    a = rs.uniform(-2, 2 ** bits + 1, 3000).astype(np.float32)
    adc = rs.integers(0, 3, 3000)
    res = rs.integers(1, bits + 1, 3000)
    codes = bank.convert(a, adc, res, None)
    mismatched = 0
    for ai, d, b, code in zip(a, adc, res, codes):
        caps = [2 ** i + delta[d, i] * 2 ** (i / 2) for i in range(bits)]
        want = _brute_sar(float(ai), caps, 1 + delta[d, bits], bits, int(b), gain[d], offset[d])
        mismatched += want != code
    # The table is exact except within 1/32 LSB of a transition: a few inputs in 3000 at most.
    assert mismatched <= 3000 * 2 * 2 / 32 / 4


def test_ir_drop_matches_the_first_order_sum_of_a_full_column():
    rows = 128
    lm, x = _one_column(rows, rows)
    r_wire = 0.2
    dev = _device(on=CellState(25.0), r_wire_ohm=r_wire)
    eps = r_wire * 25e-6
    # Brute force: the voltage at row r is r_wire times the currents of all rows at or beyond each segment.
    drop = eps * sum(sum(rows - i for i in range(r + 1)) for r in range(rows))
    got = analog_matvec(lm, x, AnalogRun(dev, 0.0), 0)[0, 0]
    assert drop == pytest.approx(eps * rows * ir_weights(rows).astype(np.float64).sum(), rel=1e-6)
    assert got == rows - round(drop)
    assert round(drop) >= 2   # the case really loses counts


def test_drift_compensation_undoes_a_common_drift_and_its_absence_does_not():
    lm, x = _one_column(100)
    dev = _device(on=CellState(10.0, nu_mean=0.05), off=CellState(0.0))
    t = 3600.0
    factor = ((t + dev.t0_s) / dev.t0_s) ** -0.05
    assert analog_matvec(lm, x, AnalogRun(dev, t, True), 0)[0, 0] == 100
    assert analog_matvec(lm, x, AnalogRun(dev, t, False), 0)[0, 0] == round(100 * factor)
    chip = program_chip(lm, AnalogRun(dev, t, True), np.random.default_rng(0))
    assert chip.alpha == pytest.approx(1 / factor, rel=1e-5)


def test_presets_follow_their_sources():
    pcm = PRESETS["pcm"]
    # aihwkit: nu mean clip(-0.0155 ln x + 0.0244, 0.049, 0.1): 0.049 at x = 1, 0.1 at x -> 0.
    assert (pcm.on.nu_mean, pcm.on.nu_std, pcm.on.read_1f) == (0.049, 0.008, 0.0088)
    assert (pcm.off.nu_mean, pcm.off.nu_std, pcm.off.read_1f) == (0.1, 0.045, 0.2)
    # ENOB of a 41.4 dB SNDR: 6.585 bits of 7: (4^0.415 - 1) / 12 = 0.0649 -> 0.255 LSB.
    assert pcm.adc.noise_lsb == pytest.approx(0.2547, abs=2e-3)


def _write(tmp_path, obj, name="dev.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


def test_a_device_file_round_trips(tmp_path):
    d = PRESETS["reram"].to_dict()
    d["name"] = "mine"
    dev = load_device(_write(tmp_path, d))
    assert dataclasses.replace(dev, name="reram") == PRESETS["reram"]


@pytest.mark.parametrize("patch, words", [
    (lambda d: d["on"].update(prog_sigma_us=-1), ["on.prog_sigma_us", "-1", ">= 0"]),
    (lambda d: d.update(colour="red"), ["unknown field", "colour"]),
    (lambda d: d["adc"].update(noise=1), ["adc.noise"]),
    (lambda d: d.pop("off"), ["off", "missing"]),
    (lambda d: d["on"].update(g_us=0.0), ["on.g_us", "greater than off.g_us"]),
    (lambda d: d.update(t0_s=0), ["t0_s", "> 0"]),
    (lambda d: d["adc"].update(cap_mismatch=float("nan")), ["NaN", "not a standard JSON number"]),   # the reader refuses it
    (lambda d: d.update(format="other"), ["format"]),
])
def test_bad_device_files_are_refused_with_one_line(tmp_path, patch, words):
    d = PRESETS["pcm"].to_dict()
    patch(d)
    path = _write(tmp_path, d)
    with pytest.raises(SwsError) as e:
        load_device(path)
    msg = str(e.value)
    assert "\n" not in msg and path in msg
    for w in words:
        assert w in msg


def test_not_json_and_unknown_presets_are_refused(tmp_path):
    path = _write(tmp_path, "{not json")
    with pytest.raises(SwsError, match="line 1: not valid JSON"):
        load_device(path)
    with pytest.raises(SwsError, match="neither a preset"):
        load_device("pcmx")
    with pytest.raises(SwsError, match="drift-time"):
        AnalogRun(PRESETS["pcm"], -1.0)


def test_one_more_adc_bit_halves_the_adc_noise_in_counts():
    lm, x = _one_column(100)
    noisy = _device(adc=AdcNoise(noise_lsb=0.4))
    half = _device(adc=AdcNoise(noise_lsb=0.2))
    runs = 2500
    flips = lambda run: np.mean([analog_matvec(lm, x, run, s)[0, 0] != 100 for s in range(runs)])
    fine = flips(AnalogRun(noisy, 0.0, fine_bits=7))      # bit 0 is the only column: top 7 bits include it
    plain = flips(AnalogRun(half, 0.0))
    # P(|0.2 N| > 0.5) = 0.0124 either way: the finer ADC's 0.4 LSB are 0.2 counts.
    p = 1 - math.erf(0.5 / 0.2 / math.sqrt(2))
    for got in (fine, plain):
        assert abs(got - p) < NORMAL_Z * math.sqrt(p * (1 - p) / runs)
    assert flips(AnalogRun(noisy, 0.0)) > 0.15   # without the bit: P(|0.4 N| > 0.5) = 0.21


def test_fine_bits_energy_is_the_next_resolution_minus_the_planned_one():
    from mapper.analog.crossbar import fine_energy_pj
    from mapper.config import energy_table
    lm, _ = _one_column(100)          # one converted column, bit 0, 7 bits (100 ones), one drive step
    table = energy_table(lm.cfg, 9)
    assert fine_energy_pj(lm, 7) == pytest.approx(table[8] - table[7])
    assert fine_energy_pj(lm, 6) == 0.0   # the top 6 weight bits hold no ones


def test_redundant_cells_without_noise_reproduce_saturating_matvec_exactly():
    w = _layer()
    cfg = ArrayConfig(rows=16, cols=128)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = np.random.default_rng(1).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (12, w.shape[0]))
    expected = saturating_matvec(lm, x)
    for k in (2, 5):
        for device in (PRESETS["ideal"], PRESETS["pcm"].scaled(0.0)):
            got = analog_matvec(lm, x, AnalogRun(device, 3600.0, fine_bits=7, leak_correction=True, redundancy=k), 3)
            np.testing.assert_array_equal(got, expected)


def test_redundant_cells_read_as_the_mean_of_k_independent_cells():
    # 4 cells per bit: each bit's conductance is the mean of 4 draws of sigma 2 uS at 10 uS, so its std
    # relative to g_on is 0.2 / sqrt(4) = 0.1 (1 cell: 0.2).
    lm, _ = _one_column(120)
    dev = _device(on=CellState(10.0, prog_sigma_us=2.0))
    ones = program_chip(lm, AnalogRun(dev, 0.0), np.random.default_rng(0)).bits.astype(bool)
    for k, want in ((1, 0.2), (4, 0.1)):
        g = np.concatenate([program_chip(lm, AnalogRun(dev, 0.0, redundancy=k), np.random.default_rng(s)).g[ones]
                            for s in range(200)])
        n = len(g)
        assert n == 200 * 120
        assert abs(g.mean() - 1) < _mean_bound(want, n)
        assert abs(g.std() / want - 1) < NORMAL_Z / math.sqrt(2 * n)


def test_read_noise_of_redundant_cells_is_divided_by_the_root_of_k():
    lm, x = _one_column(100)
    dev = _device(on=CellState(10.0, read_sigma_us=3.0))   # 3 LSB a conversion of 1 cell per bit (test above)
    ys = np.concatenate([analog_matvec(lm, x, AnalogRun(dev, 0.0, redundancy=4), s)[:, 0] for s in range(3000)])
    err = ys - 100
    var = 9.0 / 4 + 1 / 12   # 400 cells' read noise summed (sqrt(400) 0.3 = 6 on-cells) in an LSB of 4 on-cells
    n = len(err)
    assert abs(err.mean()) < _mean_bound(math.sqrt(var), n)
    assert abs(err.var() / var - 1) < NORMAL_Z * math.sqrt(2 / n)


def test_ir_drop_of_redundant_cells_is_the_first_order_sum_of_the_k_times_longer_column():
    rows, k = 32, 4
    lm, x = _one_column(rows, rows)
    r_wire = 0.8
    dev = _device(on=CellState(25.0), r_wire_ohm=r_wire)
    eps = r_wire * 25e-6
    phys = rows * k   # every physical row driven, each holding an on-cell
    drop = eps * sum(sum(phys - i for i in range(r + 1)) for r in range(phys))   # in on-cell currents
    got = analog_matvec(lm, x, AnalogRun(dev, 0.0, redundancy=k), 0)[0, 0]
    assert got == rows - round(drop / k)   # the ADC's LSB is k on-cells
    assert round(drop / k) >= 2 and round(drop / k) != round(eps * sum(sum(rows - i for i in range(r + 1))
                                                                       for r in range(rows)))


def test_redundant_cells_multiply_the_cells_their_reads_and_row_drivers_only():
    from mapper.cost import load_macro, macro_cost, redundant_macro_cost
    lm = map_layer(QuantLayer("l", _layer(k=100, n=20)), ArrayConfig(rows=32))
    one, three = macro_cost(lm), redundant_macro_cost(lm, 3)
    m = load_macro()
    # 3 cells per 1-bit read: the crossbar's energy is 3 x its 1-cell reads x ISAAC's energy per cell read.
    assert three.energy["crossbar"] == pytest.approx(3 * one.events["cell_reads"] * m["cell_read_pj"])
    assert three.energy["row_drivers"] == pytest.approx(3 * one.energy["row_drivers"]) and one.energy["row_drivers"] > 0
    assert three.area["crossbar_cells"] == pytest.approx(3 * one.area["crossbar_cells"])
    for part in ("adc", "sample_hold", "shift_add"):   # the same conversions
        assert three.energy[part] == one.energy[part]
    assert three.energy_pj > one.energy_pj


@pytest.mark.parametrize("encoding", ["twos", "signmag"])
def test_input_aware_hardware_without_noise_reproduces_saturating_matvec_exactly(encoding):
    w = _layer()
    cfg = ArrayConfig(rows=16, cols=128, input_encoding=encoding, input_aware=True)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = np.random.default_rng(1).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (12, w.shape[0]))
    x[:, ::3] = 0   # steps with few driven rows
    expected = saturating_matvec(lm, x)
    for fine, leak in ((0, False), (7, True)):
        got = analog_matvec(lm, x, AnalogRun(PRESETS["pcm"].scaled(0.0), 3600.0, fine_bits=fine, leak_correction=leak), 3)
        np.testing.assert_array_equal(got, expected)


def test_input_aware_hardware_skips_undriven_steps_and_caps_the_code_at_the_driven_rows():
    # One column of 100 ones (bit 0); input 1 on the first q rows only, ADC noise 0.6 LSB: weight-only hardware
    # converts at 7 bits and the noise moves the count both ways; input-aware converts at bitlen(q) bits.
    noisy = _device(adc=AdcNoise(noise_lsb=0.6))
    k = 100
    w = np.ones((k, 1), np.int64)
    runs = 400
    for aware in (False, True):
        lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=128, input_bits=1, input_signed=False, input_aware=aware))
        x = np.zeros((1, k), np.int64)
        y0 = np.array([analog_matvec(lm, x, AnalogRun(noisy, 0.0), s)[0, 0] for s in range(runs)])
        x[0, 0] = 1
        y1 = np.array([analog_matvec(lm, x, AnalogRun(noisy, 0.0), s)[0, 0] for s in range(runs)])
        if aware:
            assert (y0 == 0).all()                  # q = 0: no conversion
            assert set(np.unique(y1)) <= {0, 1}     # q = 1: a 1-bit conversion
            # P(count 1 read as 0) = P(0.6 N < -0.5) = 0.202
            p = 0.5 * (1 - math.erf(0.5 / 0.6 / math.sqrt(2)))
            assert abs(np.mean(y1 == 0) - p) < NORMAL_Z * math.sqrt(p * (1 - p) / runs)
        else:
            assert (y0 > 0).any() and (y1 != 1).any()   # P(0.6 N > 0.5) = 0.2, P(|0.6 N| > 0.5) = 0.4 per run


@pytest.mark.parametrize("fields", [dict(), dict(cap=2), dict(input_aware=True), dict(input_aware=True, cap=2),
                                    dict(ordering="natural", policy="dense"), dict(group=2, cap=2)])
def test_bipolar_drive_without_noise_reproduces_saturating_matvec_exactly(fields):
    w = _layer()
    cfg = ArrayConfig(rows=16, input_encoding="bipolar", **fields)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = np.random.default_rng(1).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (12, w.shape[0]))
    x[:, ::3] = 0   # steps with few driven rows
    expected = saturating_matvec(lm, x)
    if "cap" in fields:
        assert (expected != x @ w).any()   # the signed sums really saturate
    else:
        np.testing.assert_array_equal(expected, x @ w)
    for device in (PRESETS["ideal"], PRESETS["pcm"].scaled(0.0)):
        for fine, leak, m in ((0, False, 1), (7, True, 1), (2, False, 2), (7, True, 3)):
            got = analog_matvec(lm, x, AnalogRun(device, 3600.0, fine_bits=fine, leak_correction=leak, fine_extra=m), 3)
            np.testing.assert_array_equal(got, expected)


def _brute_bipolar(w, x, lm, g_on, g_off, leak):
    """An independent bipolar crossbar: for each section, step and column, the +1 rows' cell conductances less
    the -1 rows', minus `leak` times (q+ - q-), rounded half down and saturated at +-(2**res - 1)."""
    cfg = lm.cfg
    bm, a_bits, grp = cfg.hw.weight_bits, cfg.hw.input_bits, cfg.hw.group
    y = np.zeros((len(x), w.shape[1]))
    for s in range(len(lm.sec.sec_len)):
        rows = lm.sec.section_rows(s)
        for j in range(grp):
            out = int(lm.sec.sec_group[s]) * grp + j
            if out >= w.shape[1]:
                continue
            for sign in (0, 1):
                for b in range(bm):
                    res = int(lm.res[s, j, sign, b])
                    if not res:
                        continue
                    mags = [(-w[r, out] if sign else w[r, out]) for r in rows]
                    cells = [(mg >> b) & 1 if mg > 0 else 0 for mg in mags]
                    for v in range(len(x)):
                        for t in range(a_bits - 1):
                            drive = [int(np.sign(x[v, r])) * ((abs(int(x[v, r])) >> t) & 1) for r in rows]
                            a = sum(d * (g_on if c else g_off) for d, c in zip(drive, cells)) / g_on
                            a -= leak * sum(drive)
                            code = min(max(math.ceil(a - 0.5), 1 - 2 ** res), 2 ** res - 1)
                            y[v, out] += (-1 if sign else 1) * 2 ** b * 2 ** t * code
    return y


@pytest.mark.parametrize("leak", [False, True])
def test_bipolar_conversions_are_the_signed_sums_of_the_driven_cells(leak):
    # 0-cells at 0.3 on-cell (no noise): each conversion is off by 0.3 (q0+ - q0-), so counts move, both ways.
    w = _layer(k=40, n=3, seed=2)
    cfg = ArrayConfig(rows=16, input_bits=4, input_encoding="bipolar", cap=3)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = np.random.default_rng(3).integers(-7, 8, (5, 40))
    dev = _device(on=CellState(10.0), off=CellState(3.0))
    got = analog_matvec(lm, x, AnalogRun(dev, 0.0, compensation=False, leak_correction=leak), 0)
    want = _brute_bipolar(w, x, lm, 10.0, 3.0, 0.3 if leak else 0.0)
    np.testing.assert_array_equal(got, want)
    if not leak:
        assert (got != saturating_matvec(lm, x)).any()   # the 0-cells' leak really moves counts


def test_read_noise_of_a_bipolar_conversion_sums_the_cells_of_both_polarities():
    # 100 ones in one column, 60 rows driven +1 and 40 driven -1: the count is 20 and every one of the 100 cells
    # adds its read noise (0.3 LSB: variance 100 * 0.09 = 9), whichever its polarity.
    w = np.ones((100, 1), np.int64)
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=128, input_bits=2, input_encoding="bipolar"))
    x = np.array([[1] * 60 + [-1] * 40])
    dev = _device(on=CellState(10.0, read_sigma_us=3.0))
    err = np.concatenate([analog_matvec(lm, x, AnalogRun(dev, 0.0), s)[:, 0] for s in range(2000)]) - 20
    var = 9.0 + 1 / 12
    n = len(err)
    assert abs(err.mean()) < _mean_bound(math.sqrt(var), n)
    assert abs(err.var() / var - 1) < NORMAL_Z * math.sqrt(2 / n)


def test_signed_sar_with_capacitor_mismatch_is_an_offset_binary_search_of_one_more_bit():
    bits = 6   # magnitude resolutions 1..5 and their sign bit
    bank, gain, offset, delta = _mismatched_bank(bits)
    rs = np.random.default_rng(7)
    res = rs.integers(0, bits, 3000)
    a = (rs.uniform(-1.2, 1.2, 3000) * (2.0 ** res + 1)).astype(np.float32)
    adc = rs.integers(0, 3, 3000)
    codes = bank.convert_signed(a, adc, res, None)
    mismatched = 0
    for ai, d, r, code in zip(a, adc, res, codes):
        if not r:
            assert code == 0
            continue
        caps = [2 ** i + delta[d, i] * 2 ** (i / 2) for i in range(bits)]
        # gain and offset on the signed input, then the unipolar search of r + 1 bits around mid-scale 2**r
        u = _brute_sar(float(ai) * gain[d] + offset[d] + 2 ** r, caps, 1 + delta[d, bits], bits, int(r) + 1, 1.0, 0.0)
        mismatched += min(max(u - 2 ** r, 1 - 2 ** r), 2 ** r - 1) != code
    assert (codes < 0).sum() > 1000 and abs(codes).max() == 2 ** (bits - 1) - 1   # both signs, saturated ends
    assert mismatched <= 3000 * 2 * 2 / 32 / 4


def test_the_bipolar_drive_with_ir_drop_is_refused_by_the_analog_model():
    lm = map_layer(QuantLayer("l", _layer()), ArrayConfig(rows=16, input_encoding="bipolar"))
    with pytest.raises(SwsError, match="bipolar"):
        analog_matvec(lm, np.zeros((1, 60), np.int64), AnalogRun(_device(r_wire_ohm=1.0)), 0)


def test_bipolar_fine_bits_energy_counts_the_sign_bit():
    from mapper.analog.crossbar import fine_energy_pj
    from mapper.config import energy_table
    w = np.ones((60, 1), np.int64)
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=64, input_bits=2, input_encoding="bipolar"))
    assert lm.res.max() == 6 and np.count_nonzero(lm.res) == 1
    table = energy_table(lm.cfg, 10)   # one column of 60 ones, 6 magnitude bits: 7-bit conversions, one step
    assert fine_energy_pj(lm, 7, 2) == pytest.approx(table[9] - table[7])


def test_two_more_adc_bits_quarter_the_adc_noise_in_counts():
    lm, x = _one_column(100)
    runs = 2500
    flips = lambda run: np.mean([analog_matvec(lm, x, run, s)[0, 0] != 100 for s in range(runs)])
    fine = flips(AnalogRun(_device(adc=AdcNoise(noise_lsb=0.8)), 0.0, fine_bits=7, fine_extra=2))
    # The finer ADC's 0.8 LSB are 0.2 counts: P(|0.2 N| > 0.5) = 0.0124 (one more bit: 0.4 counts, 0.21).
    p = 1 - math.erf(0.5 / 0.2 / math.sqrt(2))
    assert abs(fine - p) < NORMAL_Z * math.sqrt(p * (1 - p) / runs)


def test_finer_adcs_without_noise_keep_every_count():
    w = _layer()
    cfg = ArrayConfig(rows=16, cols=128)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = np.random.default_rng(1).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (12, w.shape[0]))
    for m in (2, 3):
        got = analog_matvec(lm, x, AnalogRun(PRESETS["pcm"].scaled(0.0), 3600.0, fine_bits=7, fine_extra=m), 3)
        np.testing.assert_array_equal(got, saturating_matvec(lm, x))


def test_fine_extra_energy_is_the_resolution_m_bits_up_minus_the_planned_one():
    from mapper.analog.crossbar import fine_energy_pj
    from mapper.config import energy_table
    lm, _ = _one_column(100)          # one converted column at 7 bits, one drive step
    table = energy_table(lm.cfg, 10)
    assert fine_energy_pj(lm, 7, 2) == pytest.approx(table[9] - table[7])
    with pytest.raises(SwsError, match="fine-extra"):
        AnalogRun(PRESETS["pcm"], fine_extra=0)
