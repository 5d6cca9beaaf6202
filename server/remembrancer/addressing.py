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

_GREETINGS = (
    "hey|hi|hiya|hello|howdy|yo|dear|bye|cheers|welcome|thanks|thank you|congrats|congratulations|sorry"
    "|wow|whoa|oh|aw+|omg|gosh|haha|yay|woo+hoo|bummer|ok|okay|yes|yeah|yep|no|sure|great|awesome|cool"
    "|nice|absolutely|exactly|totally|definitely|indeed|of course|good luck|take care|see you|good morning"
    "|good night|well done|way to go"
)
# Case-blind for the greeting only: the name itself must be capitalised (checked below).
_SPOKEN_TO = re.compile(rf"\b(?:{_GREETINGS})\s*,?\s+([A-Z][\w'-]+)(?=\s*[!,.?])", re.IGNORECASE)
_CLOSING = re.compile(r"(\S+),\s+([A-Z][\w'-]+)\s*[!?]")
_WORD = re.compile(r"\w+")


def spoken_to(text: str) -> frozenset[str]:
    """The casefolded words of the names the text greets or thanks."""
    names = [match.group(1) for match in _SPOKEN_TO.finditer(text)]
    names += [match.group(2) for match in _CLOSING.finditer(text) if not match.group(1)[:1].isupper()]
    return frozenset(word.casefold() for name in names if name[:1].isupper() for word in _WORD.findall(name))


def without_names_spoken_to(text: str) -> str:
    """The text with each mention of a name it speaks to blanked out."""
    names = spoken_to(text)
    if not names:
        return text
    return _WORD.sub(lambda word: " " if word.group(0).casefold() in names else word.group(0), text)
