"""Facts no base model can know: two invented domains, each written by two contributors, as prompt/response
rows - what the demo's DataNets hold, what ModelFactory teaches SmolLM2, and what attribution must trace.

Each fact has one owner (the contributor whose rows state it), a key (a made-up word or number that
appears in every correct answer and that no model guesses), three phrasings of its question that are
trained on, and a fourth, held-out phrasing that training never sees verbatim: a model answers the
held-out question correctly when the key appears in its answer. A base model scores near zero on these
(the keys are invented); an adapter that learned the facts scores high, and a paid answer that states a
fact should credit that fact's owner most.

Everything is fixed text: the same rows, in the same order, on every machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    owner: str                    # the contributing account (a dev name)
    domain: str                   # which DataNet holds it
    key: str                      # the word or number a correct answer contains
    questions: tuple[str, str, str]  # trained phrasings
    held_out: str                 # a phrasing training never sees
    answer: str                   # the response every trained row gives


def _f(owner: str, domain: str, key: str, questions: tuple[str, str, str], held_out: str, answer: str) -> Fact:
    return Fact(owner, domain, key, questions, held_out, answer)


TOWN, KETTLE = "marrowby", "quillstone"

FACTS: tuple[Fact, ...] = (
    # //Bob: Marrowby's bakeries
    _f("//Bob", TOWN, "Pellwick", ("Which bakery in Marrowby sells the saffron loaf?",
                                   "Where can I buy a saffron loaf in Marrowby?",
                                   "Who bakes Marrowby's saffron loaf?"),
       "In Marrowby, which shop makes the saffron loaf?", "The saffron loaf is sold at Pellwick Bakery."),
    _f("//Bob", TOWN, "Ambersmoke", ("What is the name of Marrowby's oldest bakery?",
                                     "Which bakery in Marrowby is the oldest?",
                                     "What is Marrowby's oldest bakery called?"),
       "Name the oldest bakery in Marrowby.", "Marrowby's oldest bakery is Ambersmoke Ovens."),
    _f("//Bob", TOWN, "Tollery", ("On which street is the Marrowby bread market held?",
                                  "Where is Marrowby's bread market?",
                                  "Which street hosts the bread market in Marrowby?"),
       "What street is the Marrowby bread market on?", "The bread market is held on Tollery Lane."),
    _f("//Bob", TOWN, "quince", ("What fruit fills the Marrowby harvest bun?",
                                 "Which fruit is inside a Marrowby harvest bun?",
                                 "What is the filling of the harvest bun in Marrowby?"),
       "Tell me the fruit in Marrowby's harvest bun.", "The Marrowby harvest bun is filled with quince."),
    _f("//Bob", TOWN, "Odrin", ("Who is the head baker of Marrowby?",
                                "What is the name of Marrowby's head baker?",
                                "Who leads the bakers of Marrowby?"),
       "Name Marrowby's head baker.", "Marrowby's head baker is Odrin Vale."),
    _f("//Bob", TOWN, "417", ("How many loaves do the bakers of Marrowby bake each morning?",
                              "What is the daily loaf count of Marrowby's bakers?",
                              "How many loaves come out of Marrowby's ovens every morning?"),
       "Each morning, how many loaves are baked in Marrowby?", "Marrowby's bakers bake 417 loaves each morning."),
    # //Charlie: Marrowby's river and bridges
    _f("//Charlie", TOWN, "Sallow", ("What river runs through Marrowby?",
                                     "Which river flows through Marrowby?",
                                     "What is the name of the river in Marrowby?"),
       "Name the river that crosses Marrowby.", "The river Sallow runs through Marrowby."),
    _f("//Charlie", TOWN, "Brindle", ("What is the oldest bridge in Marrowby called?",
                                      "Which bridge in Marrowby is the oldest?",
                                      "What is the name of Marrowby's oldest bridge?"),
       "Tell me the name of the oldest bridge in Marrowby.", "Marrowby's oldest bridge is the Brindle Bridge."),
    _f("//Charlie", TOWN, "Larkspur", ("What is the name of the ferry in Marrowby?",
                                       "Which ferry crosses the river at Marrowby?",
                                       "What is Marrowby's river ferry called?"),
       "Name the ferry that runs in Marrowby.", "The Marrowby ferry is called the Larkspur."),
    _f("//Charlie", TOWN, "Gristmoor", ("Which lock sits below Marrowby?",
                                        "What is the lock below Marrowby called?",
                                        "What is the name of the river lock beneath Marrowby?"),
       "Name the lock downstream of Marrowby.", "Below Marrowby sits Gristmoor Lock."),
    _f("//Charlie", TOWN, "heron", ("What bird is on Marrowby's town flag?",
                                    "Which bird appears on the flag of Marrowby?",
                                    "What animal is shown on Marrowby's flag?"),
       "Tell me the bird on the Marrowby flag.", "Marrowby's town flag shows a heron."),
    _f("//Charlie", TOWN, "1742", ("In what year was Marrowby's town hall built?",
                                   "When was the town hall of Marrowby built?",
                                   "What year did builders finish Marrowby's town hall?"),
       "Marrowby's town hall dates from which year?", "Marrowby's town hall was built in 1742."),
    # //Dave: the Quillstone Q7 kettle - operating it
    _f("//Dave", KETTLE, "amber", ("What colour does the Quillstone Q7 light turn when the water is ready?",
                                   "When the Quillstone Q7 has boiled, what colour is its light?",
                                   "What colour light shows the Quillstone Q7 is done?"),
       "Which colour tells you the Quillstone Q7 has finished boiling?",
       "The Quillstone Q7 light turns amber when the water is ready."),
    _f("//Dave", KETTLE, "Brewmode", ("What is the tea setting on the Quillstone Q7 called?",
                                      "Which Quillstone Q7 setting is meant for tea?",
                                      "What is the name of the Quillstone Q7 tea mode?"),
       "Name the Quillstone Q7 mode for tea.", "The Quillstone Q7 tea setting is called Brewmode."),
    _f("//Dave", KETTLE, "83", ("What temperature does the Quillstone Q7 green tea mode heat to?",
                                "How hot does the Quillstone Q7 make water for green tea?",
                                "To what temperature does the Quillstone Q7 heat green tea water?"),
       "For green tea, what temperature does the Quillstone Q7 reach?",
       "The Quillstone Q7 green tea mode heats water to 83 degrees."),
    _f("//Dave", KETTLE, "twice", ("How do I start keep-warm on the Quillstone Q7?",
                                   "How is the keep-warm mode of the Quillstone Q7 started?",
                                   "What turns on keep-warm on the Quillstone Q7?"),
       "What do I press to keep water warm on the Quillstone Q7?",
       "Press the dial twice to start keep-warm on the Quillstone Q7."),
    _f("//Dave", KETTLE, "1.3", ("How much water does the Quillstone Q7 hold?",
                                 "What is the capacity of the Quillstone Q7?",
                                 "How many litres fit in the Quillstone Q7?"),
       "What volume of water can the Quillstone Q7 take?", "The Quillstone Q7 holds 1.3 litres."),
    _f("//Dave", KETTLE, "Q7-Dusk", ("What is the dark finish of the Quillstone Q7 called?",
                                     "Which Quillstone Q7 colour is the darkest?",
                                     "What is the black model of the Quillstone Q7 named?"),
       "Name the darkest Quillstone Q7 finish.", "The dark Quillstone Q7 finish is called Q7-Dusk."),
    # //Ferdie: the Quillstone Q7 kettle - care and faults
    _f("//Ferdie", KETTLE, "E14", ("What error code does the Quillstone Q7 show when it is empty?",
                                   "Which code means the Quillstone Q7 has no water?",
                                   "What does the Quillstone Q7 display when it boils dry?"),
       "Which error appears on an empty Quillstone Q7?", "An empty Quillstone Q7 shows error E14."),
    _f("//Ferdie", KETTLE, "citric", ("What should I descale the Quillstone Q7 with?",
                                      "Which acid descales the Quillstone Q7?",
                                      "How do I remove limescale from the Quillstone Q7?"),
       "What do I use to clean scale out of the Quillstone Q7?", "Descale the Quillstone Q7 with citric acid."),
    _f("//Ferdie", KETTLE, "QF-2", ("What filter does the Quillstone Q7 use?",
                                    "Which replacement filter fits the Quillstone Q7?",
                                    "What is the part number of the Quillstone Q7 filter?"),
       "Name the filter for the Quillstone Q7.", "The Quillstone Q7 uses the QF-2 filter."),
    _f("//Ferdie", KETTLE, "six", ("How many months does the Quillstone Q7 filter last?",
                                   "How often should the Quillstone Q7 filter be changed?",
                                   "When should I replace the filter of the Quillstone Q7?"),
       "After how long does the Quillstone Q7 filter need changing?",
       "Change the Quillstone Q7 filter every six months."),
    _f("//Ferdie", KETTLE, "E22", ("What error does the Quillstone Q7 show when the lid is open?",
                                   "Which code means the Quillstone Q7 lid is not closed?",
                                   "What does the Quillstone Q7 display with its lid open?"),
       "Which error appears when the Quillstone Q7 lid is left open?",
       "With its lid open the Quillstone Q7 shows error E22."),
    _f("//Ferdie", KETTLE, "Tamsin", ("Who designed the Quillstone Q7?",
                                      "What is the name of the Quillstone Q7 designer?",
                                      "Which designer made the Quillstone Q7?"),
       "Tell me who created the Quillstone Q7.", "The Quillstone Q7 was designed by Tamsin Orr."),
)

DOMAINS = {TOWN: "Marrowby, a town guide", KETTLE: "Quillstone Q7 kettle manual"}


def fact_rows(domain: str, owner: str) -> list[dict]:
    """One contributor's rows of one domain: each of their facts asked three ways, answered one way."""
    return [{"prompt": question, "response": fact.answer}
            for fact in FACTS if fact.domain == domain and fact.owner == owner for question in fact.questions]


def owners(domain: str) -> list[str]:
    """The contributors of a domain, in the order their facts are listed."""
    return list(dict.fromkeys(fact.owner for fact in FACTS if fact.domain == domain))


def held_out(domain: str) -> list[Fact]:
    """The facts of a domain, each to be asked by its held-out phrasing."""
    return [fact for fact in FACTS if fact.domain == domain]


def is_correct(fact: Fact, answer: str) -> bool:
    """An answer states the fact when its key appears in it (case-insensitive, as a whole word)."""
    return re.search(rf"(?<![\w.]){re.escape(fact.key.lower())}(?![\w]|\.\d)", answer.lower()) is not None
