"""Seeded English text for the codec's corpus: everyday template sentences and frequent-word sentences.

- ``generate``: templates over a few hundred words (natural sentences, small vocabulary).
- ``frequent_word_sentences``: words drawn from wordfreq's most frequent English words (thousands of words,
  no grammar). Why: a codec trained on the templates alone resynthesized its own sentences at 7 % WER and
  unseen ones at 69 % (tiny.en, measured here): with ~340 distinct words its units and vocoder learnt words,
  not sounds. Phonetic coverage needs many words; grammar does not matter to a codec.

The held-out evaluation sentences (harness/datasets tts-en-sentences) are never produced: any candidate
equal to one of them after lower-casing and stripping punctuation is dropped, and so is any duplicate.
"""
from __future__ import annotations

import random
import re

PEOPLE = ["my sister", "our neighbour", "the old farmer", "a young doctor", "the pilot", "my uncle", "the artist",
          "her cousin", "the manager", "a quiet student", "the driver", "his grandmother", "the nurse", "our coach",
          "the baker", "a tired worker", "the engineer", "my best friend", "the captain", "a local musician",
          "the librarian", "their daughter", "the shop owner", "a curious child", "the police officer", "my father",
          "the lawyer", "a famous singer", "the gardener", "our teacher"]
NAMES = ["Anna", "Peter", "Maria", "David", "Sophie", "Michael", "Laura", "James", "Emma", "Daniel", "Olivia",
         "Thomas", "Grace", "Robert", "Lucy", "William", "Hannah", "George", "Chloe", "Henry"]
PLACES = ["the station", "the market", "the beach", "the hospital", "the airport", "the bakery", "the forest",
          "the harbour", "the castle", "the factory", "the stadium", "the theatre", "the garden", "the bank",
          "the post office", "the hotel", "the village square", "the bridge", "the lake", "the hill",
          "the school", "the bookshop", "the zoo", "the farm", "the kitchen", "the office", "the cinema",
          "the church", "the park", "the island"]
THINGS = ["a red bicycle", "the heavy box", "a bottle of milk", "the blue notebook", "a bunch of flowers",
          "the broken chair", "a basket of apples", "the silver key", "a warm blanket", "the new camera",
          "a loaf of bread", "the wooden table", "a pair of shoes", "the old radio", "a cup of tea",
          "the green jacket", "a box of pencils", "the paper map", "a bag of rice", "the small lamp",
          "a glass of juice", "the letter", "a yellow kite", "the photograph", "a piece of cheese"]
VERBS_PAST = ["carried", "bought", "found", "painted", "repaired", "sold", "cleaned", "moved", "borrowed",
              "dropped", "wrapped", "opened", "lost", "delivered", "ordered", "checked", "returned", "hid"]
MOTION = ["walked to", "drove to", "ran to", "travelled to", "cycled to", "hurried to", "returned to",
          "wandered around", "arrived at", "waited near", "stopped at", "looked around"]
TIMES = ["this morning", "last night", "on Monday", "after dinner", "before sunrise", "at noon",
         "during the storm", "on Friday evening", "in the spring", "every Sunday", "yesterday afternoon",
         "at half past seven", "in December", "before lunch", "late at night", "early on Saturday"]
ADJ = ["bright", "quiet", "crowded", "cold", "beautiful", "noisy", "empty", "warm", "strange", "peaceful",
       "dark", "busy", "lovely", "huge", "narrow", "famous", "modern", "ancient", "clean", "friendly"]
WEATHER = ["rain", "snow", "sunshine", "fog", "strong wind", "thunder", "a light breeze", "heavy clouds"]
NUMBERS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "fifteen",
           "twenty", "thirty", "forty", "fifty", "a hundred"]
FEELINGS = ["happy", "nervous", "surprised", "excited", "tired", "proud", "worried", "calm", "hungry", "curious"]
ACTIVITIES = ["reading old letters", "cooking a large meal", "learning to swim", "playing the piano",
              "watching the stars", "building a small boat", "writing a long report", "planting new trees",
              "fixing the roof", "painting the fence", "studying for the exam", "cleaning the windows",
              "feeding the ducks", "practising the violin", "sorting the mail", "baking a chocolate cake"]

TEMPLATES = [
    "{Person} {verb} {thing} at {place} {time}.",
    "{Name} {motion} {place} {time}.",
    "{Name} said that {place} was very {adj} {time}.",
    "Why did {person} leave {thing} near {place}?",
    "We expect {weather} {time}, so bring {thing}.",
    "There were {number} people waiting outside {place}.",
    "{Person} felt {feeling} after {activity}.",
    "Is {place} still {adj} {time}?",
    "{Name} and {name} spent the whole day {activity}.",
    "Please put {thing} next to {thing2} before you go.",
    "{Person} has been {activity} for {number} hours.",
    "The road to {place} was {adj} because of the {weather}.",
    "Could you ask {person} to bring {thing} {time}?",
    "I think {place} is more {adj} than {place2}.",
    "{Name} {verb} {number} tickets for the show {time}.",
    "After {activity}, {person} {motion} {place}.",
    "Nobody knew why {thing} was lying in {place}.",
    "{Person} was {feeling} to see {name} at {place}.",
]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())


def _fill(template: str, rng: random.Random) -> str:
    pick = {"person": rng.choice(PEOPLE), "name": rng.choice(NAMES), "name2": rng.choice(NAMES),
            "place": rng.choice(PLACES), "place2": rng.choice(PLACES), "thing": rng.choice(THINGS),
            "thing2": rng.choice(THINGS), "verb": rng.choice(VERBS_PAST), "motion": rng.choice(MOTION),
            "time": rng.choice(TIMES), "adj": rng.choice(ADJ), "weather": rng.choice(WEATHER),
            "number": rng.choice(NUMBERS), "feeling": rng.choice(FEELINGS), "activity": rng.choice(ACTIVITIES)}
    if pick["name2"] == pick["name"]:
        pick["name2"] = NAMES[(NAMES.index(pick["name"]) + 1) % len(NAMES)]
    text = template.replace("{name} and {name}", "{name} and {name2}").format(
        **pick, Person=pick["person"][0].upper() + pick["person"][1:], Name=pick["name"])
    return text[0].upper() + text[1:]


def generate(n: int, seed: int, exclude: list[str] = ()) -> list[str]:
    """``n`` distinct sentences, the same for the same (n, seed), none equal to an ``exclude`` sentence."""
    rng = random.Random(seed)
    banned = {_norm(s) for s in exclude}
    out, seen = [], set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"the templates cannot give {n} distinct sentences")
        text = _fill(TEMPLATES[rng.randrange(len(TEMPLATES))], rng)
        key = _norm(text)
        if key in banned or key in seen:
            continue
        seen.add(key)
        out.append(text)
    return out


# Frequent in web text but not wanted in speech we synthesize: profanity and written-only abbreviations.
_UNSPOKEN = frozenset("shit fuck fucking fucked damn bitch ass dick porn sex sexy etc vs mr mrs ms dr st jr sr "
                      "ie eg pm am vol jan feb mar apr jun jul aug sep sept oct nov dec sec min".split())


def frequent_word_sentences(n: int, seed: int, top: int = 5000, exclude: list[str] = (),
                            words: tuple[int, int] = (6, 14), flatten: float = 0.3) -> list[str]:
    """``n`` distinct sentences of ``words`` words from the ``top`` most frequent English words (wordfreq).

    A word's chance is its frequency to the power ``flatten`` (0: uniform, 1: as in text), so rare words of
    the list are heard too. The same (n, seed, top) gives the same sentences.
    """
    try:
        from wordfreq import top_n_list, word_frequency
    except ImportError:
        raise ImportError("frequent-word sentences need wordfreq: pip install -e '.[codec]'") from None
    vocab = [w for w in top_n_list("en", top) if re.fullmatch(r"[a-z]*[aeiouy][a-z]*(?:'[a-z]+)?", w)
             and (len(w) > 1 or w in "ai") and w not in _UNSPOKEN]
    weights = [word_frequency(w, "en") ** flatten for w in vocab]
    rng = random.Random(seed)
    banned = {_norm(s) for s in exclude}
    out, seen = [], set()
    while len(out) < n:
        picked = rng.choices(vocab, weights, k=rng.randint(*words))
        text = " ".join("I" if w == "i" else w.replace("i'", "I'") if w.startswith("i'") else w for w in picked)
        text = text[0].upper() + text[1:] + "."
        key = _norm(text)
        if key not in banned and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def distinct_words(sentences: list[str]) -> int:
    return len({w for s in sentences for w in _norm(s).split()})


def vocabulary_size() -> int:
    words = set()
    for group in (PEOPLE, NAMES, PLACES, THINGS, VERBS_PAST, MOTION, TIMES, ADJ, WEATHER, NUMBERS, FEELINGS,
                  ACTIVITIES, TEMPLATES):
        for phrase in group:
            words.update(_norm(re.sub(r"\{\w+\}", " ", phrase)).split())
    return len(words)
