"""Recall that reads dates in the question, lets an answer follow its question, and budgets the
text an assistant receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remembrancer.asking_when import asks_when, says_when
from remembrancer.query_dates import Period, named_periods
from remembrancer.tokens import count_tokens
from servers import run_cli, stdio_params, stdio_session, tool_data, tool_text

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what did I cook in June 2023?", [Period(2023, 6)]),
        ("What painting did she show on October 13, 2023?", [Period(2023, 10, 13)]),
        ("What did Gina find on 1 February, 2023?", [Period(2023, 2, 1)]),
        ("the 3rd of June 2022", [Period(2022, 6, 3)]),
        ("notes from 2023-05-04", [Period(2023, 5, 4)]),
        ("When did Melanie go camping in June?", [Period(None, 6)]),
        ("what did I do on 1 May", [Period(None, 5, 1)]),
        ("How many times to the beach in 2023?", [Period(2023)]),
        ("did John march in March?", [Period(None, 3)]),
        ("May I ask where the keys are?", []),
        ("what is 31 times 40", []),
        ("where did I put the 2000 photos", []),
        ("why this may fail", []),
        ("the PR written by Jan", []),
        ("trips since 2019", [Period(2019)]),
        ("on 31 February 2023", [Period(2023, 2)]),  # no such day: the month still stands
        ("what did we cook", []),
    ],
)
def test_the_dates_a_question_names(query: str, expected: list[Period]) -> None:
    assert named_periods(query, UTC, NOW) == expected


def test_relative_periods_are_read_against_now() -> None:
    (last_week,) = named_periods("what did I cook last week?", UTC, NOW)
    assert last_week.span == (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    (last_year,) = named_periods("trips last year", UTC, NOW)
    assert last_year.holds(datetime(2025, 7, 1, tzinfo=UTC)) and not last_year.holds(NOW)


def test_a_period_without_a_year_recurs_in_the_stated_zone() -> None:
    from zoneinfo import ZoneInfo

    (june,) = named_periods("in June", ZoneInfo("Pacific/Auckland"), NOW)
    assert june.holds(datetime(2019, 6, 15, tzinfo=UTC))
    assert june.bounds() is None
    assert june.holds(datetime(2021, 5, 31, 13, tzinfo=UTC))  # 1 June, 01:00 in Auckland


@pytest.mark.slow
@pytest.mark.anyio
async def test_over_mcp_a_date_in_the_question_favours_what_happened_then(tmp_path: Path) -> None:
    recent = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    meals = {
        "2023-11-20": "Cooked a pumpkin soup for the harvest dinner",
        "2024-03-10": "Cooked a mushroom risotto for the neighbours",
        "2024-06-02": "Cooked a lentil curry for the team lunch",
        "2024-08-15": "Cooked paella at the beach party",
        recent: "Cooked dumplings with my sister",
    }
    async with stdio_session(stdio_params(tmp_path), tmp_path / "stderr.log") as client:
        for day, meal in meals.items():
            stored = await client.call_tool("remember", {"content": meal, "occurred_at": day})
            assert not stored.is_error, tool_text(stored)

        async def first(query: str) -> str:
            found = tool_data(await client.call_tool("recall", {"query": query}))
            assert len(found["hits"]) == len(meals), found  # favoured, not filtered
            return str(found["hits"][0]["content"])

        assert await first("what did I cook in June 2024?") == meals["2024-06-02"]
        assert await first("what did I cook on 15 August 2024?") == meals["2024-08-15"]
        assert await first("what did I cook in March?") == meals["2024-03-10"]
        assert await first("what did I cook last week?") == meals[recent]
        assert await first("what did I cook in 2023?") == meals["2023-11-20"]


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("When did Tom move to Lyon?", True),
        ("what time is the standup", True),
        ("Which year did we get married?", True),
        ("Do you remember when was the last check-up?", True),
        ("How long ago did I renew it?", True),
        ("How long have I been vegetarian?", True),
        ("how often do we deploy", True),
        ("How many years have I lived in Lyon?", True),
        ("By when must I file the taxes?", True),
        ("Where does Tom live?", False),
        ("When I travel, which airline do I use?", False),
        ("What time zone am I in?", False),
        ("What do I eat whenever I travel?", False),
        ("Why did Maya start pottery?", False),
    ],
)
def test_a_question_that_asks_when(question: str, asks: bool) -> None:
    assert asks_when(question) is asks


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("I went last week", True),
        ("standup at 9:30", True),
        ("pickup at 3pm, or 3 p.m. on Fridays", True),
        ("we met in May", True),
        ("married on 3 May 2015", True),
        ("the 3rd was busy", True),
        ("every morning", True),
        ("unit tests run on every push", True),
        ("backups run nightly", True),
        ("the drive takes about 5 hours", True),
        ("I may go", False),
        ("I have 2 dogs and ran the 5K", False),
        ("Tom loves Lyon", False),
    ],
)
def test_a_text_that_says_when(text: str, says: bool) -> None:
    assert says_when(text) is says


def _recalled(tmp_path: Path, db: str, question: str) -> list[str]:
    """The hits' texts of a recall through the console script, best first."""
    found = json.loads(run_cli(tmp_path, "recall", question, "--json", "--db", db).stdout)
    return [hit["content"] for hit in found["hits"]]


def _remember_each(tmp_path: Path, db: str, texts: list[str]) -> None:
    """Each text through the console script, one remember after another (one sitting)."""
    for text in texts:
        assert run_cli(tmp_path, "remember", text, "--db", db).returncode == 0


def test_a_reply_is_found_by_what_its_question_asked(tmp_path: Path) -> None:
    """Stored one after another in a sitting: the reply after a question lifts more from it
    than the memory before it does."""
    db = str(tmp_path / "memory.db")
    sitting = [
        "My old film camera is broken",
        "Which film should we watch on Friday?",
        "The heist one set on a train, I'd say",
        "Also, the plumber comes at nine tomorrow",
    ]
    _remember_each(tmp_path, db, sitting)
    found = json.loads(
        run_cli(tmp_path, "recall", "which film to watch", "--min-score", "0", "--json", "--db", db).stdout
    )
    order = [hit["content"] for hit in found["hits"]]
    assert order[:2] == sitting[1:3], order
    assert order.index(sitting[2]) < order.index(sitting[0])


def test_a_question_about_a_kind_finds_the_memory_that_names_one(tmp_path: Path) -> None:
    """Related words: "instrument" finds "the cello" and "children" finds "daughter", above a
    memory that only shares another word of the question."""
    db = str(tmp_path / "memory.db")
    facts = [
        "Tom took up the cello last spring",
        "The boiler was serviced in March",  # between the others, so none lifts its neighbour
        "Tom plays tennis on Tuesdays",
        "The wifi password is on the fridge",
        "Ana's daughter Mia starts school in May",
        "The bins go out on Thursdays",
        "Ana works at the school library",
    ]
    _remember_each(tmp_path, db, facts)
    for question, answer in [
        ("Which instrument does Tom play?", facts[0]),
        ("What are the names of Ana's children?", facts[4]),
    ]:
        found = json.loads(run_cli(tmp_path, "recall", question, "--json", "--db", db).stdout)
        assert found["hits"][0]["content"] == answer, found["hits"]


def test_on_a_small_store_a_question_in_other_words_finds_its_fact_and_others_find_nothing(
    tmp_path: Path,
) -> None:
    """A question sharing no word with its fact passes the floor when a word of it is close to one
    of the fact's and the two mean nearly the same; questions about things never stored still
    get nothing."""
    db = str(tmp_path / "memory.db")
    facts = [
        "I have two dogs, Bo and Kiki.",
        "My physician is Dr. Hale at the Riverside clinic.",
        "I drive an old Volvo estate.",
        "Our staging server runs Debian 12.",
        "My brother Luis is a firefighter in Seville.",
    ]
    _remember_each(tmp_path, db, facts)

    assert _recalled(tmp_path, db, "Do I have any pets?")[:1] == [facts[0]]
    assert _recalled(tmp_path, db, "Who is my doctor?")[:1] == [facts[1]]
    assert _recalled(tmp_path, db, "Which vehicle do I own?")[:1] == [facts[2]]
    never_stored = ["What is my passport number?", "Which gym am I a member of?", "Who is my accountant?"]
    for question in never_stored:
        assert _recalled(tmp_path, db, question) == [], question


def test_a_question_naming_only_a_period_gets_what_happened_then(tmp_path: Path) -> None:
    """ "What did I do yesterday?" names nothing to look for but the day: the memories that
    happened then answer it, and only they."""
    db = str(tmp_path / "memory.db")
    assert (
        run_cli(
            tmp_path,
            "remember",
            "Had dinner with Tom at the Thai place",
            "--occurred-at",
            "yesterday",
            "--db",
            db,
        ).returncode
        == 0
    )
    _remember_each(tmp_path, db, ["My favourite editor is Neovim", "I have a cat called Pixel"])

    assert _recalled(tmp_path, db, "What did I do yesterday?") == ["Had dinner with Tom at the Thai place"]
    assert _recalled(tmp_path, db, "What happened yesterday?") == ["Had dinner with Tom at the Thai place"]
    assert _recalled(tmp_path, db, "What did the user do yesterday?") == [
        "Had dinner with Tom at the Thai place"
    ]
    assert _recalled(tmp_path, db, "What did I do last year?") == []  # nothing happened then
    # Today is not over: the facts told today without a time did not "happen" today.
    assert _recalled(tmp_path, db, "What did I do today?") == []
    assert _recalled(tmp_path, db, "What is my passport number?") == []


def test_a_question_asking_when_puts_the_memory_that_says_when_first(tmp_path: Path) -> None:
    """Both memories hold the question's words; the one naming a time answers "when". The lift
    orders, it does not pass the floor: a question about something never stored gets nothing."""
    db = str(tmp_path / "memory.db")
    facts = [
        "Maya started pottery to make bowls for her friends.",
        "The boiler was serviced by Ken.",
        "Maya took up pottery last October.",
        "The wifi password is on the fridge.",
        "Jonas fixed the leaking roof himself with cheap tiles.",
        "Jonas had the roof repaired on Saturday.",
        "The dog's vet is Dr. Moreau.",
    ]
    _remember_each(tmp_path, db, facts)

    assert _recalled(tmp_path, db, "When was the roof fixed?")[:2] == [facts[5], facts[4]]
    assert set(_recalled(tmp_path, db, "How was the roof fixed?")[:2]) == {
        facts[4],
        facts[5],
    }  # no lift: they tie
    assert _recalled(tmp_path, db, "When did I last renew my passport?") == []


def test_recall_reads_a_common_abbreviation_as_its_word(tmp_path: Path) -> None:
    """ "production" finds "prod" (and "db" "database"), so the production cluster comes first."""
    db = str(tmp_path / "memory.db")
    facts = [
        "The dev Kafka cluster has 3 brokers.",
        "The prod Kafka cluster has 9 brokers.",
        "Our main DB is PostgreSQL 16.",
        "The boiler was serviced in March.",
    ]
    _remember_each(tmp_path, db, facts)
    for question, answer in [
        ("How many brokers does production Kafka have?", facts[1]),
        ("What is our main database?", facts[2]),
    ]:
        assert _recalled(tmp_path, db, question)[:1] == [answer], question


def test_a_single_digit_tells_look_alikes_apart(tmp_path: Path) -> None:
    db = str(tmp_path / "memory.db")
    facts = ["The parking permit for Level 1 is blue.", "The parking permit for Level 2 is green."]
    _remember_each(tmp_path, db, facts)
    for question, answer in [
        ("Which colour permit do you need for Level 2?", facts[1]),
        ("Which colour permit do you need for Level 1?", facts[0]),
    ]:
        assert _recalled(tmp_path, db, question)[:1] == [answer], question
    # A digit alone is no topic: "my 2 cats" finds nothing in the permits.
    assert _recalled(tmp_path, db, "What are my 2 cats called?") == []


def test_in_a_conversation_a_turn_that_thanks_someone_or_asks_ranks_below_one_that_tells(
    tmp_path: Path,
) -> None:
    """A turn that thanks Melanie is said to her, not about her; a turn that asks about books
    holds the question's words but not its answer."""
    db = str(tmp_path / "memory.db")
    turns = [
        "Caroline: Thanks, Melanie! I painted mine at the beach too",
        "Caroline: The bins go out on Thursdays",  # between the others: none lifts its neighbour
        "Melanie: I painted the sunset over the sea last summer",
        "Caroline: The wifi password is on the fridge",
        "Tim: John, which books have you read this year?",
        "Caroline: The boiler was serviced in March",
        "John: I read Dune twice this year",
    ]
    _remember_each(tmp_path, db, turns)
    for question, answer, below in [
        ("What did Melanie paint at the beach?", turns[2], turns[0]),
        ("Which books has John read this year?", turns[6], turns[4]),
    ]:
        found = json.loads(
            run_cli(tmp_path, "recall", question, "--min-score", "0", "--json", "--db", db).stdout
        )
        order = [hit["content"] for hit in found["hits"]]
        assert order.index(answer) < order.index(below), order


@pytest.mark.slow
@pytest.mark.anyio
async def test_over_mcp_max_tokens_bounds_the_text_the_assistant_reads(tmp_path: Path) -> None:
    facts = [
        "Bees gather nectar from the lavender on the hill",
        "Honey bees dance to show where the flowers are",
        "Our bees swarmed in May and settled in the apple tree",
        "A bee colony keeps its hive at about 35 degrees",
        "The beekeeper smokes the hive before opening it",
        "Lavender honey from the bees tastes of flowers",
        "Bumblebees nest in the old stone wall by the lavender",
        "We lost one bee colony to varroa mites last winter",
    ]
    async with stdio_session(stdio_params(tmp_path), tmp_path / "stderr.log") as client:
        for fact in facts:
            assert not (await client.call_tool("remember", {"content": fact})).is_error
        whole = await client.call_tool("recall", {"query": "bees", "limit": 8})
        assert len(tool_data(whole)["hits"]) == 8
        for budget in (100, 150, 200):
            capped = await client.call_tool("recall", {"query": "bees", "limit": 8, "max_tokens": budget})
            text, data = tool_text(capped), tool_data(capped)
            assert count_tokens(text) <= budget, text
            assert 0 < len(data["hits"]) < 8 and f"max_tokens {budget}: the best" in text, text
            one_more = count_tokens(tool_text(whole).splitlines()[len(data["hits"])])
            assert count_tokens(text) + one_more > budget  # the next hit would not have fit


@pytest.mark.slow
@pytest.mark.anyio
async def test_over_mcp_recall_shows_short_ids_and_forget_takes_them(tmp_path: Path) -> None:
    """A recall's text names each memory by a short id (m_ and 8 hex digits), as git shows a
    commit; the structured result has the whole id; forget takes the short one, and refuses one
    that starts several memories' ids, naming them and forgetting nothing."""
    db = str(tmp_path / "memory.db")  # the one stdio_params serves
    stamp = "2026-11-30T10:00:00Z"
    twins = [
        {
            "id": f"m_aaaaaaaa0000000{n}",
            "content": text,
            "scope": "default",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for n, text in [
            (1, "The spare key is under the blue flowerpot"),
            (2, "The garage key hangs by the door"),
        ]
    ]
    exported = tmp_path / "twins.jsonl"
    exported.write_text("".join(json.dumps(record) + "\n" for record in twins))
    assert run_cli(tmp_path, "import", str(exported), "--db", db).returncode == 0
    async with stdio_session(stdio_params(tmp_path), tmp_path / "stderr.log") as client:
        stored = tool_data(
            await client.call_tool("remember", {"content": "My locker at the gym is number 42"})
        )
        whole = stored["memory"]["id"]
        recalled = await client.call_tool("recall", {"query": "gym locker"})
        line = tool_text(recalled).splitlines()[0]
        assert line.startswith(f"{whole[:10]} ") and whole not in line, line
        assert tool_data(recalled)["hits"][0]["id"] == whole
        forgotten = await client.call_tool("forget", {"ids": [whole[:10]]})
        assert tool_data(forgotten) == {"forgotten": [whole]}
        ambiguous = await client.call_tool("forget", {"ids": ["m_aaaaaaaa"]})
        assert ambiguous.is_error and "m_aaaaaaaa00000001, m_aaaaaaaa00000002" in tool_text(ambiguous)
        keys = tool_data(await client.call_tool("recall", {"query": "where is the key", "min_score": 0}))
        assert {hit["id"] for hit in keys["hits"]} == {record["id"] for record in twins}
