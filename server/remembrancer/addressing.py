"""Where a text speaks to someone: "Thanks, Melanie!", "Hey Joanna!", "How are you, John?".

In a conversation stored turn by turn, the person a turn greets or thanks is who it is said to,
not what it is about: "What has Melanie painted?" asks about Melanie's paintings, not about
Caroline's turns that begin "Thanks, Melanie! I painted this ...". A capitalised name is spoken
to where it ends its phrase and either

- follows a greeting that opens the phrase ("Thanks, Tim.", "Oh, hi Tim!"), or an interjection
  when an exclamation, a question or a comma follows ("Wow, Caroline, ...", not "Sure, Docker."),
- or closes an exclamation or a question after a comma ("That's great, Tim!").

Left alone: "I have no Instagram." (the greeting word does not open the phrase), "lunch with my
boss, Maria." (a statement), "Lisbon, Portugal!" (the word before the comma is a name too).
English only; a name at the very start of a phrase ("Tim, thanks!") is not read, and a name
in apposition that closes an exclamation ("my favourite band, Radiohead!") is taken as spoken
to: it still counts, at 0.4 (relevance.SPOKEN_TO_WEIGHT).
"""

from __future__ import annotations

import re

_GREETINGS = frozenset(
    {
        "hey", "hi", "hiya", "hello", "howdy", "yo", "dear", "bye", "cheers", "welcome", "thanks",
        "thank you", "congrats", "congratulations", "sorry", "good luck", "take care", "see you",
        "good morning", "good night", "well done",
    }
)  # fmt: skip
_INTERJECTIONS = re.compile(
    "wow|whoa|oh|aw+|omg|gosh|haha|yay|woo+hoo|bummer|ok|okay|yes|yeah|yep|no|sure|great|awesome"
    "|cool|nice|absolutely|exactly|totally|definitely|indeed|of course"
)
# A word that ends its phrase. Only these are looked at (the words before them in Python), so
# that reading a text takes time linear in its length, whatever its shape.
_ENDING_A_PHRASE = re.compile(r"(?<![\w'-])([^\W\d_][\w'-]{1,40})\s{0,3}([!,.?])")
_PHRASE_BREAK = re.compile(r"[.!?:;,\n]")
_WORD = re.compile(r"\w+")
_WINDOW = 40  # characters before a name: a greeting or the word before a comma is shorter


def spoken_to_spans(text: str) -> list[tuple[int, int]]:
    """Where the text names someone it speaks to: (start, end) of each such name."""
    spans = []
    for match in _ENDING_A_PHRASE.finditer(text):
        if not match.group(1)[0].isupper():
            continue
        before = text[max(0, match.start() - _WINDOW) : match.start()].rstrip()
        after_comma = before.endswith(",")
        if after_comma:
            before = before[:-1].rstrip()
        punctuation = match.group(2)
        if _greeted(before, punctuation) or (after_comma and punctuation in "!?" and _closes(before)):
            spans.append(match.span(1))
    return spans


def _greeted(before: str, punctuation: str) -> bool:
    """Whether the phrase before the name is a greeting, all of it."""
    phrase = " ".join(_PHRASE_BREAK.split(before)[-1].casefold().split())
    if phrase in _GREETINGS:
        return True
    return punctuation != "." and _INTERJECTIONS.fullmatch(phrase) is not None


def _closes(before: str) -> bool:
    """Whether a name after this comma closes the phrase: not when the word before is a name."""
    words = before.split()
    return bool(words) and not words[-1][:1].isupper()


def spoken_to(text: str) -> frozenset[str]:
    """The casefolded words of the names the text speaks to."""
    return frozenset(
        word.casefold() for start, end in spoken_to_spans(text) for word in _WORD.findall(text[start:end])
    )


def without_names_spoken_to(text: str) -> str:
    """The text with the names it speaks to blanked out where it speaks to them (another
    mention of the same name stays: "Thanks, Jane! Jane's book won")."""
    for start, end in reversed(spoken_to_spans(text)):
        text = text[:start] + " " * (end - start) + text[end:]
    return text
