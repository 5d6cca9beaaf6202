"""How relevant a memory is to a query, on one 0-1 scale for every query, scope and store.

    relevance = max(0.7 * words + 0.3 * meaning, 1.5 * meaning - 1)

- ``words``: the share of the query's topic words the memory contains, each word weighted by how
  much it tells (its inverse document frequency). A word found only in the memory's context (the
  memory stored just before it, when the memory continues it) counts 0.4, in its tags 0.5, and a
  name the memory holds only as the person it greets or thanks ("Thanks, Melanie!": it is said
  to her, not about her; addressing.py) 0.4. A word the memory lacks may be found through a word
  close to it in meaning ("children": "kids", "daughter"; related_words.py): 0.35 of it at cosine
  0.5, rising to 0.7 at 0.8, when the memory holds one of the query's words itself (a related
  word completes a match), or when its meaning is close to the query's (cosine 0.45 or more:
  "Do I have any pets?" / "I have a cat called Pixel"); the share such a memory gets also counts
  as how much of the query the store holds, when it is more (``held`` below). Stop words and words
  about time ("June", "2023", "last week") are left out: a memory's time is its event time, not
  its text.
- ``meaning``: the cosine similarity of the two embeddings, rescaled so that 0.3 (what unrelated
  sentences reach with the bundled model) is 0 and 0.7 (a paraphrase) is 1. The second term, the
  memory's ``restatement`` of the query, lets a close restatement that shares no word pass on
  meaning alone (0.35 from cosine 0.66).

A memory stored right beside a relevant one in the same sitting, when one continues the other
(a reply after a question, or the next line of one account: see ``continues``), gains 0.25 of
that memory's relevance, 0.45 after a question. A question's relevance counts 0.85 for its rank
and the floor, not for what it lifts: it holds the query's words, its reply the answer. A
lifted memory ranks below the one that lifted it unless that one is a question. It passes the
floor when 0.9 of that memory's relevance does (if it has a relevance of its own of at least
0.1) and its lifted score does too: no hit shows a score under the floor.

A hit's score, the one the floor applies to, then weighs the recall as a whole (``calibrate``):

    score = sqrt(relevance x best) x (1 - 0.8 x (1 - held))

``best`` is the recall's best relevance: when one hit matches strongly the query is about
something stored, and a weak match in that recall is more often evidence (facts spread over
several memories) than the same weak match in a recall where nothing matches; a memory with no
relevance of its own stays at 0. ``held`` is how much of the query the store holds at all: the
share of its weighted topic words that any candidate holds (its coverage), or, when more, twice
the closest memory's restatement (all of it at cosine 0.7, none below 0.57). A query whose
telling words the store never holds, and that no memory restates ("what is my passport
number"), asks about something never stored: its scores keep a fifth of their value. The best
hit keeps its relevance when the store holds the whole query, and the order of the hits within a
recall does not change.

Document frequencies come from the store, smoothed by the frequency a word has in English (the
bundled tokenizer's vocabulary is ordered by it): in a store of ten memories, "use" appearing
once must not weigh more than "editor" appearing three times. bench/RESULTS.md has the
measurements behind each constant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import NamedTuple

from remembrancer.related_words import related
from remembrancer.storage.rows import Beside
from remembrancer.word_forms import english_share, is_time_word, stem, told_stems, word_stems

WORDS_WEIGHT = 0.7
UNRELATED_COSINE = 0.3
PARAPHRASE_COSINE = 0.7
CONTEXT_WEIGHT = 0.4
TAG_WEIGHT = 0.5
#: Share of a memory's relevance given to the memories stored just before and after it.
NEIGHBOUR_SHARE = 0.25
#: ... and to the memory stored just after a question.
ANSWER_SHARE = 0.45
#: A memory that asks something counts this much of its relevance for its rank and the floor
#: (not for what it lifts): it holds the query's words as the question does, while its reply
#: holds the answer (bench/RESULTS.md, session 15).
ASKING_RANK = 0.85
#: A memory beside one whose relevance passes the floor passes with it above this share, when
#: it has at least a little relevance of its own.
NEIGHBOUR_SUPPORT = 0.9
NEIGHBOUR_OWN = 0.1
#: A memory continues the one stored before it (a reply, the next line of one account) when it
#: follows a question, or when the two are at least this close in meaning. Facts told one after
#: another ("I live in Lisbon", "I work as a nurse": 0.24) are apart: neither lends the other its
#: words or lifts it. Adjacent turns of a conversation have a median of 0.50 (LoCoMo), facts told
#: one after another a median of 0.12 (bench/RESULTS.md, session 11).
CONTINUATION_COSINE = 0.3
#: A query word a memory holds only as the name of the person it speaks to counts this much.
SPOKEN_TO_WEIGHT = 0.4
#: A word close in meaning to a query word counts for this much of it at ``RELATED_FULL_COSINE``
#: and above, half as much at ``RELATED_COSINE``, nothing below (bench/RESULTS.md, session 14).
RELATED_SHARE = 0.7
RELATED_COSINE = 0.5
RELATED_FULL_COSINE = 0.8
#: How many memories of plain English text the tokenizer's word frequencies count as.
PRIOR_DOCUMENTS = 1000
#: How much a recall's scores drop when none of the query's topic words is found anywhere and no
#: memory restates it.
UNFOUND_PENALTY = 0.8
#: A memory holding none of the query's words counts the words it holds close in meaning to them
#: when it is this close to the query as a whole ("Do I have any pets?" / "I have a cat").
RELATED_ALONE_COSINE = 0.45

#: Words for the person a memory is about, which an assistant's query names and a first-person
#: memory ("I live in Berlin") does not: "where does the user live" asks about living.
_PERSON_WORDS = frozenset({"user"})


def topic_words(words: Sequence[str], frequency: Mapping[str, int] | None = None) -> list[str]:
    """The query words that say what it is about: the user and single letters (the "s" of
    "Caroline's") dropped, and time words unless the store's text holds them ("Level 2" does);
    all, if none are left."""
    held = frequency or {}
    kept = [
        w
        for w in words
        if (len(w) > 1 or w.isdigit())
        and w not in _PERSON_WORDS
        and (not is_time_word(w) or held.get(w, 0) > 0)
    ]
    return kept or list(words)


def word_weights(words: Iterable[str], frequency: Mapping[str, int], documents: int) -> dict[str, float]:
    """Inverse document frequency of each query word, smoothed towards its English frequency."""
    total = documents + PRIOR_DOCUMENTS
    weights: dict[str, float] = {}
    for word in words:
        seen = frequency.get(word, 0) + PRIOR_DOCUMENTS * english_share(word)
        weights[stem(word)] = max(
            weights.get(stem(word), 0.0), math.log1p((total - seen + 0.5) / (seen + 0.5))
        )
    return weights


def related_shares(words: Sequence[str]) -> dict[str, dict[str, float]]:
    """For the stem of each query word (time words aside), the stems of the words close to it in
    meaning and the share of its weight each carries (see the module's docstring)."""
    found: dict[str, dict[str, float]] = {}
    own = {stem(word) for word in words}
    span = RELATED_FULL_COSINE - RELATED_COSINE
    for word in words:
        if is_time_word(word):
            continue
        for other, cosine in related(word):  # closest first: a stem keeps its largest share
            if cosine >= RELATED_COSINE and stem(other) not in own:
                share = RELATED_SHARE * (0.5 + 0.5 * min(1.0, (cosine - RELATED_COSINE) / span))
                found.setdefault(stem(word), {}).setdefault(stem(other), share)
    return found


@dataclass(frozen=True)
class Evidence:
    """What a memory offers a query's words: its text, its tags and its context."""

    content: str
    tags: str
    context: str


class WordShare:
    """The share of a query's weighted words that a memory holds (see the module's docstring).
    Built once per query."""

    def __init__(
        self, weights: Mapping[str, float], related: Mapping[str, Mapping[str, float]] | None = None
    ) -> None:
        self._weights = dict(weights)
        self._related = related or {}  # query stem -> {related stem: share} (related_shares)
        self._total = sum(self._weights.values())
        self._found: set[str] = set()  # the query words found in any memory scored so far
        self._found_related = 0.0  # the largest share found through related words alone

    def __call__(self, evidence: Evidence, close: bool = False) -> float:
        """The memory's share of the query's words; ``close``: the memory is close in meaning to
        the query (``RELATED_ALONE_COSINE``), so words related to the query's count alone too."""
        if self._total <= 0:
            return 0.0
        own, tags, context = (
            word_stems(evidence.content),
            word_stems(evidence.tags),
            word_stems(evidence.context),
        )
        found = related = 0.0
        matched: list[str] = []  # the query words the memory holds in its text or tags
        told: frozenset[str] = frozenset()
        read = False  # the names a memory speaks to are read once it holds a query word
        for word, weight in self._weights.items():
            held = word in own
            if held and not read:
                told, read = told_stems(evidence.content, own), True
            if held and word in told:
                found += weight
                matched.append(word)
            elif word in tags:
                found += TAG_WEIGHT * weight
                matched.append(word)
            elif held:  # only as the name of someone the memory speaks to
                found += SPOKEN_TO_WEIGHT * weight
                matched.append(word)
            elif word in context:
                found += CONTEXT_WEIGHT * weight
            elif word in self._related:
                shares = self._related[word]
                related += weight * max((shares[other] for other in own & shares.keys()), default=0.0)
        if matched and all(len(word) == 1 for word in matched):
            found = 0.0  # a lone digit ("Level 2") completes a match, it makes none ("my 2 cats")
        elif found > 0:
            self._found.update(matched)
            return (found + related) / self._total
        # Alone, a related word makes a match only beside close meaning ("chess" is not "the
        # guitar", "pets" may be "a cat").
        if not close:
            return 0.0
        self._found_related = max(self._found_related, related / self._total)
        return related / self._total

    def coverage(self) -> float:
        """The weighted share of the query's words held (in text or tags) by any memory scored."""
        if self._total <= 0:
            return 1.0
        return max(sum(self._weights[word] for word in self._found) / self._total, self._found_related)


def meaning(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine - UNRELATED_COSINE) / (PARAPHRASE_COSINE - UNRELATED_COSINE)))


def restatement(cosine: float) -> float:
    """Relevance on meaning alone, for a memory that shares no word: 0 up to cosine 0.57, 0.5 at
    0.7 (a paraphrase)."""
    return max(0.0, 1.5 * meaning(cosine) - 1.0)


def query_held(coverage: float, best_cosine: float) -> float:
    """How much of the query the store holds: the share of its words any candidate holds (a word
    found through related words alone, part of it), or all of it when a memory restates it
    (cosine 0.7, fading to nothing at 0.57)."""
    return max(coverage, min(1.0, 2.0 * restatement(best_cosine)))


def relevance(words: float | None, cosine: float | None) -> float:
    """Both sides when both are known; one side alone when measuring it alone."""
    if words is None:
        return meaning(cosine or 0.0)
    if cosine is None:
        return words
    close = meaning(cosine)
    # A restatement sharing no word still passes on meaning alone: 0.5 at cosine 0.7.
    return max(WORDS_WEIGHT * words + (1.0 - WORDS_WEIGHT) * close, restatement(cosine))


class Ranked(NamedTuple):  # a tuple: a recall builds a few hundred of these twice
    rowid: int
    score: float  # ranks the hits
    support: float  # with the score, passes the floor


def continues(context: str, continuity: float | None) -> bool:
    """Whether a memory continues its context, the memory stored before it in its sitting."""
    if not context:
        return False
    return is_question(context) or (continuity is not None and continuity >= CONTINUATION_COSINE)


def with_neighbours(
    own: Mapping[int, float],
    leaders: Sequence[int],
    neighbours: Mapping[int, Beside],
    questions: Set[int] = frozenset(),
    continuing: Set[int] | None = None,
) -> list[Ranked]:
    """Every memory with its own relevance, lifted by its most relevant neighbour among the
    leaders; best first. What follows a question lifts more: it is most likely the answer. The
    answer, and the memory before the question (what it asks about), may rank above the
    question, whose score is 0.85 of what it would be (``ASKING_RANK``). Any other memory
    lifted by a leader ranks below it: two facts told in a row that look alike ("The production
    Redis cluster has 6 nodes" / "The staging ...") each come first for their own question.
    With ``continuing`` (the memories that continue the one before them), only a memory and the
    one it continues lift each other."""
    score, support = dict(own), dict(own)

    def linked(later: int) -> bool:  # a memory and the one before it: the later one continues
        return continuing is None or later in continuing

    for leader in leaders:
        beside = neighbours.get(leader, Beside([], []))
        after_share = ANSWER_SHARE if leader in questions else NEIGHBOUR_SHARE
        for neighbour, share in [
            *((n, NEIGHBOUR_SHARE) for n in beside.before if linked(leader)),
            *((n, after_share) for n in beside.after if linked(n)),
        ]:
            if neighbour in own:
                ceiling = 1.0 if leader in questions else own[leader]
                lifted = min(ceiling, own[neighbour] + share * own[leader])
                score[neighbour] = max(score[neighbour], lifted)
                if own[neighbour] >= NEIGHBOUR_OWN:
                    support[neighbour] = max(support[neighbour], NEIGHBOUR_SUPPORT * own[leader])
    ranked = [
        Ranked(rowid, score[rowid] * (ASKING_RANK if rowid in questions else 1.0), support[rowid])
        for rowid in own
    ]
    return sorted(ranked, key=lambda item: (-item.score, -own[item.rowid], item.rowid))


def calibrate(ranked: Sequence[Ranked], held: float) -> list[Ranked]:
    """Each hit's score and support weighed with the recall's best support and how much of the
    query the store holds (``held``, see the module's docstring); same order."""
    if not ranked:
        return []
    best = max(item.support for item in ranked)
    found = 1.0 - UNFOUND_PENALTY * (1.0 - held)
    sqrt = math.sqrt
    return [
        Ranked(rowid, found * sqrt(score * best), found * sqrt(support * best))
        for rowid, score, support in ranked
    ]


def is_question(text: str) -> bool:
    """A memory that ends by asking something: its reply, stored next, answers what it asked."""
    return text.rstrip().rstrip("!)\"'").endswith("?")
