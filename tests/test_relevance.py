"""Scores on one 0-1 scale, a relevance floor, and fair ranking across scopes: through the
installed console script and over MCP stdio, with the real embedding model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remembrancer.addressing import spoken_to, without_names_spoken_to
from remembrancer.related_words import related
from remembrancer.relevance import (
    ASKING_RANK,
    CONTEXT_WEIGHT,
    RELATED_SHARE,
    SPOKEN_TO_WEIGHT,
    TAG_WEIGHT,
    Evidence,
    Ranked,
    WordShare,
    calibrate,
    query_held,
    related_shares,
    topic_words,
    with_neighbours,
    word_weights,
)
from remembrancer.storage.rows import Beside
from remembrancer.word_forms import is_time_word, stem, told_stems, word_stems
from servers import run_cli, stdio_params, stdio_session, tool_data, tool_text

PROJECT = ["Use 4 spaces for indentation, never tabs", "The project uses pytest for its tests"]
PERSONAL = ["My favourite editor is Neovim", "I live in Lisbon", "My sister is called Ana"]


def test_a_word_common_in_english_weighs_less_even_in_a_tiny_store() -> None:
    # "use" in one memory of five, "editor" in three: the store alone would weigh "use" more.
    weights = word_weights(["editor", "use"], {"editor": 3, "use": 1}, documents=5)
    assert weights[stem("editor")] > weights[stem("use")]


def test_time_words_and_stems() -> None:
    assert all(is_time_word(word) for word in ["june", "2023", "1st", "7", "yesterday", "weekend"])
    assert not any(is_time_word(word) for word in ["editor", "1999x", "12345"])
    assert stem("lives") == stem("lived") == stem("living") == stem("live")
    assert stem("stories") == stem("story")
    assert stem("running") == stem("runs") == stem("run") and stem("planned") == stem("plan")
    assert stem("added") == stem("add") and stem("dinner") != stem("din")
    # "the user" names who a memory is about, not what; the "s" of "Caroline's" says nothing.
    assert topic_words(["user", "live", "june", "caroline", "s"]) == ["live", "caroline"]
    assert topic_words(["user", "2023"]) == ["user", "2023"]  # nothing else: keep what there is
    # A time word the store's text holds tells look-alikes apart ("... in February", "release 5.3").
    held = {"june": 3, "live": 9, "caroline": 4}
    assert topic_words(["user", "live", "june", "2023", "caroline"], held) == ["live", "june", "caroline"]
    # A single digit the store holds tells "Level 2" from "Level 1"; a single letter says nothing.
    assert topic_words(["permit", "level", "2", "s"], {"2": 1, "level": 2}) == ["permit", "level", "2"]


@pytest.mark.slow
@pytest.mark.anyio
async def test_over_mcp_scores_mean_the_same_everywhere_and_nothing_relevant_is_nothing(
    tmp_path: Path,
) -> None:
    params = stdio_params(tmp_path)
    async with stdio_session(params, tmp_path / "stderr.log") as client:
        for fact in PROJECT:
            await client.call_tool("remember", {"content": fact, "scope": "my-project"})
        for fact in PERSONAL:
            await client.call_tool("remember", {"content": fact})

        both = ["my-project", "default"]
        editor = tool_data(
            await client.call_tool("recall", {"query": "which editor do I use", "scope": both})
        )
        assert editor["hits"][0]["content"] == "My favourite editor is Neovim"
        scores = [hit["score"] for hit in editor["hits"]]
        assert scores == sorted(scores, reverse=True) and all(0 <= score <= 1 for score in scores)

        absent = tool_data(await client.call_tool("recall", {"query": "What is my passport number?"}))
        assert absent["hits"] == [] and "min_score" in absent["notes"][0]
        closest = tool_data(
            await client.call_tool("recall", {"query": "What is my passport number?", "min_score": 0})
        )
        assert len(closest["hits"]) == 3 and all(hit["score"] < 0.23 for hit in closest["hits"])
        # The store holds the query's subject ("indentation", "project"), if loosely: it is returned.
        style_query = {"query": "What's the project's indentation style?", "scope": both}
        style = tool_data(await client.call_tool("recall", style_query))
        assert style["hits"][0]["content"] == PROJECT[0]

        strict = tool_data(
            await client.call_tool("recall", {"query": "Where do I live?", "min_score": 0.8, "limit": 5})
        )
        assert [hit["content"] for hit in strict["hits"]] == ["I live in Lisbon"]

        partly_empty = tool_data(
            await client.call_tool("recall", {"query": "Where do I live?", "scope": ["not-yet", "default"]})
        )
        assert partly_empty["hits"][0]["content"] == "I live in Lisbon"
        assert partly_empty["notes"] == ["scope 'not-yet' holds no memories yet"]

        # Compact: no empty fields, timestamps to the second, one short line a hit.
        raw = await client.call_tool("recall", {"query": "Where do I live?", "min_score": 0, "limit": 5})
        assert raw.structured_content is not None
        hits = raw.structured_content["hits"]
        assert len(hits) == 3 and all(
            value not in (None, [], {}, "") for hit in hits for value in hit.values()
        )
        assert all(hit["created_at"].endswith("Z") and "." not in hit["created_at"] for hit in hits)
        text = tool_text(raw)
        assert len(text.splitlines()) == 3 and all(hit["id"][:10] in text for hit in hits)
        assert len(text) <= sum(len(hit["content"]) + 80 for hit in hits)
        listed = (await client.list_tools()).tools
        tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]
        size = len(json.dumps({"tools": tools}, separators=(",", ":")))  # compact JSON, as on the wire
        assert size <= 8 * 1024 and all("\n    " not in (t.description or "") for t in listed)

        wrong = await client.call_tool("recall", {"query": "x", "min_score": 1.5})
        assert wrong.is_error
        text = tool_text(wrong)
        assert "min_score must be at most 1" in text and len(text.splitlines()) == 1


def test_the_command_line_takes_a_floor_and_says_when_nothing_passes(tmp_path: Path) -> None:
    db = str(tmp_path / "memory.db")
    for fact in PERSONAL:
        assert run_cli(tmp_path, "remember", fact, "--db", db).returncode == 0
    nothing = run_cli(tmp_path, "recall", "What car do I drive?", "--db", db)
    assert (
        nothing.returncode == 0
        and nothing.stdout.strip() == "note: no memory scores 0.23 or more for this query (min_score)"
    )
    everything = json.loads(
        run_cli(tmp_path, "recall", "What car do I drive?", "--min-score", "0", "--json", "--db", db).stdout
    )
    assert len(everything["hits"]) == 3
    bad = run_cli(tmp_path, "recall", "x", "--min-score", "2", "--db", db)
    assert bad.returncode == 2 and bad.stderr.startswith("remembrancer: ") and "min_score" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_no_hit_scores_below_the_floor_not_even_one_carried_by_its_neighbour(tmp_path: Path) -> None:
    """Facts told one after another are each other's neighbours in a sitting; a neighbour's
    support used to carry a hit whose own score was under the floor ("Who is Mia's teacher?"
    returned the code-review preference stored after the pickup time, at 0.212)."""
    db = str(tmp_path / "memory.db")
    for fact in (
        "My daughter Mia is 7 and in second grade.",
        "My GP is Dr. Silva at the Estrela health centre.",
        "Mia's school pickup is at 3:45 pm.",
        "I like code reviews kept under 400 lines.",
        "We're going to Madeira on holiday in August.",
    ):
        assert run_cli(tmp_path, "remember", fact, "--db", db).returncode == 0
    found = json.loads(run_cli(tmp_path, "recall", "Who is Mia's teacher?", "--json", "--db", db).stdout)
    assert found["hits"] and all(hit["score"] >= 0.23 for hit in found["hits"]), found["hits"]
    assert "code reviews" not in json.dumps(found["hits"])


def test_facts_told_one_after_another_neither_lend_their_words_nor_lift_each_other(
    tmp_path: Path, store_target: Path | str
) -> None:
    """Memories of one sitting lend each other words and relevance only when one continues the
    other (a reply to a question, or close in meaning): "Where do I live?" used to return the
    nurse fact stored after the Lisbon one at 0.652, through the Lisbon fact's words and lift.
    On both engines: PostgreSQL joins the vectors' table for the cosine, SQLite reads its copy."""
    db = str(store_target)
    for fact in (
        "My sister is called Ana",
        "I live in Lisbon, near the river",
        "I work as a nurse at St Mary's hospital",
        "My favourite editor is Neovim",
        "What kind of movies do you like?",
        "It's a mix of drama and romance!",
    ):
        assert run_cli(tmp_path, "remember", fact, "--db", db).returncode == 0

    def hits(query: str) -> list[str]:
        found = json.loads(run_cli(tmp_path, "recall", query, "--json", "--db", db).stdout)
        return [hit["content"] for hit in found["hits"]]

    assert hits("Where do I live?") == ["I live in Lisbon, near the river"]
    assert hits("What is my sister's name?") == ["My sister is called Ana"]
    # A reply still answers what its question asked.
    assert "It's a mix of drama and romance!" in hits("what kind of movies")


_WORDS = ["live", "lives", "Lived", "story", "STORIES", "editor", "use", "user", "running", "class", "Ana's"]


@given(
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3),
    st.lists(st.lists(st.sampled_from([*_WORDS, "the", "a"]), max_size=8), min_size=3, max_size=3),
)
def test_the_untokenized_fields_are_only_those_that_cannot_match(
    query: list[str], fields: list[list[str]]
) -> None:
    weights = {stem(word.casefold()): 1.0 + n for n, word in enumerate(query)}
    evidence = Evidence(*(" ".join(field) for field in fields))
    own, tags, context = (
        {stem(word) for word in re.findall(r"\w+", " ".join(field).casefold())} for field in fields
    )
    expected = sum(
        weight
        * (1.0 if word in own else TAG_WEIGHT if word in tags else CONTEXT_WEIGHT if word in context else 0.0)
        for word, weight in weights.items()
    ) / sum(weights.values())
    assert WordShare(weights)(evidence) == pytest.approx(expected)


def test_a_lifted_memory_ranks_below_the_leader_that_lifted_it_unless_it_answers_a_question() -> None:
    beside = {1: Beside([], [2]), 3: Beside([], [4])}
    ranked = with_neighbours({1: 0.8, 2: 0.7, 3: 0.8, 4: 0.5}, [1, 3], beside, questions={3})
    scores = {item.rowid: item.score for item in ranked}
    assert [item.rowid for item in ranked] == [4, 1, 2, 3]  # 2 ties its leader's score, below it
    assert scores[2] == pytest.approx(0.8)  # 0.7 + 0.25 x 0.8 would pass its leader: held at 0.8
    assert scores[4] == pytest.approx(0.5 + 0.45 * 0.8)  # the reply to a question may pass it
    # The question lifts its reply by all its relevance, but ranks below a memory that tells.
    assert scores[3] == pytest.approx(ASKING_RANK * 0.8)
    assert {item.rowid: item.support for item in ranked}[3] == pytest.approx(0.8)


def test_a_recall_is_weighed_as_a_whole_without_changing_its_order() -> None:
    ranked = [Ranked(1, 0.9, 0.9), Ranked(2, 0.25, 0.25), Ranked(3, 0.0, 0.0)]
    found_all = calibrate(ranked, held=1.0)
    assert [item.rowid for item in found_all] == [1, 2, 3]
    best, weak, unrelated = found_all
    assert best.score == pytest.approx(0.9)  # the best hit keeps its relevance
    assert weak.score == pytest.approx(0.225**0.5)  # a weak hit of a strong recall rises ...
    assert unrelated.score == 0.0  # ... a memory with no relevance of its own does not
    # A weak best hit lifts nothing above itself, and unfound query words lower the whole recall.
    assert calibrate([Ranked(1, 0.3, 0.3), Ranked(2, 0.2, 0.2)], 1.0)[1].support < 0.3
    assert calibrate(ranked, held=0.0)[0].score == pytest.approx(0.2 * 0.9)
    assert calibrate(ranked, held=0.5)[0].score == pytest.approx(0.6 * 0.9)
    assert calibrate([], 1.0) == []


def test_the_store_holds_a_query_in_its_words_or_in_a_memory_that_restates_it() -> None:
    assert query_held(0.25, best_cosine=0.2) == 0.25  # a quarter of the weighted words, nothing restated
    assert query_held(0.0, best_cosine=0.56) == 0.0  # loosely alike is not a restatement
    assert query_held(0.0, best_cosine=0.7) == pytest.approx(1.0)  # a paraphrase holds the whole query
    assert query_held(0.25, best_cosine=0.3 + 0.4 * 5 / 6) == pytest.approx(0.5)  # halfway, cosine 0.63
    assert query_held(0.9, best_cosine=0.9) == 1.0


def test_coverage_is_the_weighted_share_of_query_words_any_memory_holds() -> None:
    share = WordShare({stem("passport"): 3.0, stem("number"): 1.0})
    assert share.coverage() == 0.0
    share(Evidence("my phone number is 123", "", ""))
    share(Evidence("", "", "passport renewal"))  # context does not count: the memory is not about it
    assert share.coverage() == pytest.approx(0.25)
    share(Evidence("", "passport", ""))
    assert share.coverage() == 1.0
    assert WordShare({}).coverage() == 1.0


def test_a_word_close_in_meaning_counts_for_part_of_the_query_word() -> None:
    """A query word ("children") is found in part in a related one ("my daughter") when the memory
    holds another word of the query itself; never more than the word itself, never a time word."""
    assert {"kids", "daughters"} <= {word for word, _ in related("children")}
    assert related("ajsdhf") == ()
    weights = {stem("children"): 2.0, stem("school"): 1.0}
    share = WordShare(weights, related_shares(["children", "school"]))
    partly = share(Evidence("My daughter Mia starts school in May", "", ""))
    assert 1 / 3 + 0.2 < partly < share(Evidence("The children start school in May", "", "")) == 1.0
    assert share(Evidence("My daughter starts ballet in May", "", "")) == 0.0  # completes a match, makes none
    assert share(Evidence("The router is in the attic", "", "")) == 0.0
    alone = WordShare(weights, related_shares(["children", "school"]))
    alone(Evidence("My daughter Mia starts school in May", "", ""))
    assert alone.coverage() == pytest.approx(1 / 3)  # a related word does not make the store hold the query
    assert related_shares(["june", "yesterday"]) == {}
    shares = related_shares(["instrument"])[stem("instrument")]
    assert all(0.35 <= found <= 0.7 for _, found in shares.items()) and stem("instrument") not in shares


def test_a_common_abbreviation_stems_as_its_word() -> None:
    assert stem("prod") == stem("production") and stem("db") == stem("database")
    assert stem("repos") == stem("repo") == stem("repositories") and stem("docs") == stem("doc")
    assert stem("st") != stem("street")  # St Mary's is no street
    share = WordShare({stem("production"): 1.0, stem("kafka"): 1.0})
    assert share(Evidence("The prod Kafka cluster has 9 brokers", "", "")) == 1.0
    assert share(Evidence("The dev Kafka cluster has 3 brokers", "", "")) == 0.5


def test_a_related_word_alone_counts_beside_close_meaning() -> None:
    """ "Do I have any pets?" holds no word of "I have two dogs": the related word counts only
    when the memory's meaning is close to the question's, and then also as part of the query the
    store holds."""
    weights = {stem("pets"): 1.0}
    pets = Evidence("I have two dogs, Bo and Kiki", "", "")
    far = WordShare(weights, related_shares(["pets"]))
    assert far(pets) == 0.0 and far.coverage() == 0.0
    close = WordShare(weights, related_shares(["pets"]))
    found = close(pets, close=True)
    assert 0.6 < found <= RELATED_SHARE  # "dogs" is close to "pets"
    assert close.coverage() == pytest.approx(found)
    assert close(Evidence("The router is in the attic", "", ""), close=True) == 0.0
    assert close.coverage() > 0.6  # the best share found stays


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Caroline: Thanks, Melanie! I painted this after the beach", {"melanie"}),
        ("Hey Joanna! I won my first tournament", {"joanna"}),
        ("Wow, Caroline, that's awesome. Congrats, Jon.", {"caroline", "jon"}),
        ("thank you Mary-Jane!", {"mary", "jane"}),
        ("That's great, Tim! How are you, John?", {"tim", "john"}),
        ("I had lunch with my boss, Maria.", set()),  # about Maria, not said to her
        ("We moved to Lisbon, Portugal!", set()),  # a place and its country
        ("Oh, thanks, Tim! Absolutely, Caroline!", {"tim", "caroline"}),
        ("Thanks, Éloise!", {"éloise"}),
        # A greeting word that does not open its phrase, or an answer after "sure": about them.
        ("I have no Instagram. We visited Great Britain. I read The Great Gatsby.", set()),
        ("Which one? Sure, Docker.", set()),
        ("Thanks, I will bring the cake", set()),
        ("hey there", set()),
        ("Sure thing. Oh well, Paris it is", set()),
    ],
)
def test_the_names_a_text_greets_or_thanks(text: str, names: set[str]) -> None:
    assert spoken_to(text) == names


@given(st.text())
def test_reading_who_a_text_speaks_to_takes_any_text(text: str) -> None:
    names = spoken_to(text)
    assert names <= {word.casefold() for word in re.findall(r"\w+", text)}
    assert not names & {word.casefold() for word in re.findall(r"\w+", without_names_spoken_to(text))}


def test_a_name_a_memory_only_speaks_to_counts_for_less() -> None:
    share = WordShare({stem("melanie"): 1.0, stem("painted"): 1.0})
    told = share(Evidence("Melanie: I painted the lake", "", ""))
    greeted = share(Evidence("Caroline: Thanks, Melanie! I painted mine", "", ""))
    assert told == pytest.approx(1.0)
    assert greeted == pytest.approx((SPOKEN_TO_WEIGHT + 1.0) / 2)
    assert share.coverage() == 1.0  # the store holds the word all the same


def test_only_where_a_name_is_spoken_to_is_it_left_out() -> None:
    share = WordShare({stem("jane"): 1.0, stem("book"): 1.0})
    assert share(Evidence("Thanks, Jane! Jane's book won a prize", "", "")) == pytest.approx(1.0)
    assert without_names_spoken_to("Thanks, Jane! Jane's book") == "Thanks,     ! Jane's book"
    # A tag names the person too: it counts as a tag does, more than the greeting.
    tagged = share(Evidence("Thanks, Jane! The book arrived", "jane", ""))
    assert tagged == pytest.approx((TAG_WEIGHT + 1.0) / 2)


def test_a_document_is_not_read_for_the_names_it_speaks_to() -> None:
    turn = "Thanks, Melanie! I painted mine"
    document = turn + " " + "We walked along the river. " * 40  # longer than a turn
    assert stem("melanie") not in told_stems(turn)
    assert told_stems(document) == word_stems(document)
