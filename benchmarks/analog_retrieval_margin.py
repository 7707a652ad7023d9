"""For docs/results/analog.md, "The side-by-side study": how the paraphrase retrieval margin and the own paraphrase's
rank (sws.experiments.pruning.retrieval_ranking) follow the token cosine where the retrieval accuracy stays at 100%,
under ideal arithmetic (onnxruntime on the int8 model, magnitude-pruned one-shot; no crossbar, no noise).

    OPENBLAS_NUM_THREADS=1 python benchmarks/analog_retrieval_margin.py

Prints one table row per sparsity: token cosine of last_hidden_state over the evaluation sentences against the
unpruned model, and on the 64 paraphrase sentences the retrieval accuracy, its mean margin (own paraphrase's cosine
less the nearest other sentence's) and the own paraphrase's mean rank. ~20 s.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SPARSITIES = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)


def main() -> int:
    from sws.experiments.fidelity import masked_cosine
    from sws.experiments.pruning import (
        PARAPHRASES_PATH,
        pooled_embeddings,
        prune_model,
        retrieval_accuracy,
        retrieval_ranking,
    )
    from sws.experiments.runtime import (
        TOKENS_PATH,
        load_token_sequences,
        minilm_model,
        run_model,
        token_feeds,
    )
    model, linears = minilm_model()
    ev = token_feeds(load_token_sequences(TOKENS_PATH))
    para = token_feeds(load_token_sequences(PARAPHRASES_PATH))
    (ref,) = run_model(model, ev, ["last_hidden_state"])
    print("| magnitude sparsity | token cosine | retrieval | margin | own rank |\n|---:|---:|---:|---:|---:|")
    for s in SPARSITIES:
        pm = model if s == 0 else prune_model(model, linears, s, "magnitude")
        (y,) = run_model(pm, ev, ["last_hidden_state"])
        (yp,) = run_model(pm, para, ["last_hidden_state"])
        emb = pooled_embeddings(yp, para["attention_mask"])
        k = retrieval_ranking(emb)
        print(f"| {s:g} | {masked_cosine(y, ref, ev['attention_mask']):.4f} | {100 * retrieval_accuracy(emb):.1f}% | "
              f"{k['margin']:.4f} | {k['rank']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
