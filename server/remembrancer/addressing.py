"""The names a text speaks to: "Thanks, Melanie!", "Hey Joanna!", "Congrats, Jon.".

In a conversation stored turn by turn, the person a turn greets or thanks is who it is said to,
not what it is about: "What has Melanie painted?" asks about Melanie's paintings, not about
Caroline's turns that begin "Thanks, Melanie! I painted this ...". A name counts as spoken to
when it follows a greeting or a thanks (English only) and ends its phrase.
"""

from __future__ import annotations

import re

_GREETINGS = (
    "hey|hi|hiya|hello|howdy|yo|dear|bye|cheers|welcome|thanks|thank you|congrats|congratulations|sorry"
    "|wow|whoa|oh|aw+|omg|gosh|haha|yay|woo+hoo|bummer|ok|okay|yes|yeah|yep|no|sure|great|awesome|cool"
    "|nice|absolutely|exactly|totally|definitely|indeed|of course|good luck|take care|see you|good morning"
    "|good night|well done|way to go"
)
# Case-blind for the greeting only: the name itself must be capitalised (checked below).
_SPOKEN_TO = re.compile(rf"\b(?:{_GREETINGS})\s*,?\s+([A-Z][\w'-]*)(?=\s*[!,.?])", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def spoken_to(text: str) -> frozenset[str]:
    """The casefolded words of the names the text greets or thanks."""
    names = (match.group(1) for match in _SPOKEN_TO.finditer(text))
    return frozenset(word.casefold() for name in names if name[:1].isupper() for word in _WORD.findall(name))


def without_names_spoken_to(text: str) -> str:
    """The text with each mention of a name it speaks to blanked out."""
    names = spoken_to(text)
    if not names:
        return text
    return _WORD.sub(lambda word: " " if word.group(0).casefold() in names else word.group(0), text)
