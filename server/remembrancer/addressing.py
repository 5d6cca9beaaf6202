"""The names a text speaks to: "Thanks, Melanie!", "Hey Joanna!", "That's great, Tim!".

In a conversation stored turn by turn, the person a turn greets or thanks is who it is said to,
not what it is about: "What has Melanie painted?" asks about Melanie's paintings, not about
Caroline's turns that begin "Thanks, Melanie! I painted this ...". A capitalised name counts as
spoken to when it follows a greeting or a thanks (English only) and ends its phrase, or when it
closes an exclamation or a question after a comma ("How are you, John?"). A name after a comma
that closes a statement is left alone: "lunch with my boss, Maria." is about Maria, and so is
"Lisbon, Portugal!", where the word before the comma is a name too.
"""

from __future__ import annotations

import re

_GREETINGS = re.compile(
    "hey|hi|hiya|hello|howdy|yo|dear|bye|cheers|welcome|thanks|thank you|congrats|congratulations|sorry"
    "|wow|whoa|oh|aw+|omg|gosh|haha|yay|woo+hoo|bummer|ok|okay|yes|yeah|yep|no|sure|great|awesome|cool"
    "|nice|absolutely|exactly|totally|definitely|indeed|of course|good luck|take care|see you|good morning"
    "|good night|well done|way to go"
)
# A capitalised word that ends its phrase. Only these are looked at (the words before them in
# Python), so that reading a text takes time linear in its length, whatever its shape.
_ENDING_A_PHRASE = re.compile(r"(?<![\w'-])([A-Z][\w'-]{1,40})\s{0,3}([!,.?])")
_WORD = re.compile(r"\w+")


def spoken_to(text: str) -> frozenset[str]:
    """The casefolded words of the names the text greets or thanks."""
    names: set[str] = set()
    for match in _ENDING_A_PHRASE.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()].rstrip()
        after_comma = before.endswith(",")
        words = before.removesuffix(",").casefold().split()[-3:]
        greeted = any(_GREETINGS.fullmatch(" ".join(words[-n:])) for n in (1, 2, 3) if len(words) >= n)
        # "That's great, Tim!" and "How are you, John?", but not "Lisbon, Portugal!"
        closing = after_comma and match.group(2) in "!?" and bool(words) and not _capitalised_before(before)
        if greeted or closing:
            names.update(word.casefold() for word in _WORD.findall(match.group(1)))
    return frozenset(names)


def _capitalised_before(before: str) -> bool:
    """Whether the word before the comma ending ``before`` is capitalised: "Lisbon,"."""
    words = before.removesuffix(",").split()
    return bool(words) and words[-1][:1].isupper()


def without_names_spoken_to(text: str) -> str:
    """The text with each mention of a name it speaks to blanked out."""
    names = spoken_to(text)
    if not names:
        return text
    return _WORD.sub(lambda word: " " if word.group(0).casefold() in names else word.group(0), text)
