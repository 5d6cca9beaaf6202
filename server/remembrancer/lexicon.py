"""Small English word lists the local judge reads statements with (see ``statements.py``), and
``stem``, the light suffix stripper it matches words with.

The lists describe how facts are usually phrased, not any data set: function words, negation,
stance, the words people add when a fact changes, and the verbs that start a predicate.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words(
    """
    a an the this that these those my our your his her their its me us him them i we you he she
    they it who whom whose which what where when why how there here of in on at to for from by
    with about into onto over under between through during before after above below up down out
    off as than then so too very just also only even both either each every all any some such
    and or but if because while until since though although whether s
    am is are was were be been being do does did done have has had having will would shall
    should can could may might must ought get got gets getting once inside outside within via per
    across around near behind beside beyond toward towards upon among
    """
)
SUBORDINATORS = _words("after before when since because if while once although though as until")
PREPOSITIONS = _words("at in on for from to with by of about into under near")
PRONOUN_SUBJECTS = _words("i we you he she they it everyone everybody nobody someone")
POSSESSIVE_DETERMINERS = _words("my our your his her their its")
DETERMINERS = POSSESSIVE_DETERMINERS | _words("a an the this that these those every each")
AUXILIARIES = _words(
    "am is are was were be been being do does did have has had will would shall should can could"
    " may might must 'm 're 's 've 'll 'd"
)
SINGULAR_AUXILIARIES = _words("is was has does 's will would can could should must may might")
PAST_AUXILIARIES = _words("was were had")
PRESENT_AUXILIARIES = _words("is are am has have 's 're 'm")
_OPPOSITE_PAIRS = (
    "before after above below on off over under up down higher lower more less earlier later early late"
    " enabled disabled enable disable open closed allowed forbidden public private required optional"
    " minimum maximum min max increase decrease"
)
_PAIRS = _OPPOSITE_PAIRS.split()
OPPOSITES = {
    **dict(zip(_PAIRS[::2], _PAIRS[1::2], strict=True)),
    **dict(zip(_PAIRS[1::2], _PAIRS[::2], strict=True)),
}
COPULAS = _words("am is are was were be been 'm 're 's")

NEGATIONS = _words("not no never none nobody nothing neither nor without cannot n't unable")
# After "can't" or "cannot", words that make it eagerness or surprise, not a denial: "I can't wait".
EMPHATIC_NEGATED = _words("wait believe")
# After "no", words that make a set phrase, not a denial: "no doubt", "no problem", "no wonder".
NO_PHRASES = _words("doubt problem problems worries wonder")
# "no later than", "no more than": a bound, not a denial.
COMPARATIVE_BOUNDS = _words("later earlier more less fewer")
TIME_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 604800,
    "fortnight": 1209600,
    "month": 2629800,
    "year": 31557600,
    "decade": 315576000,
}
PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "nightly": 86400,
    "weekly": 604800,
    "fortnightly": 1209600,
    "biweekly": 1209600,
    "monthly": 2629800,
    "yearly": 31557600,
    "annually": 31557600,
    "annual": 31557600,
}
# Verbs that end a habit or a state: "I quit smoking" negates "I smoke".
ENDING_VERBS = _words(
    "quit stop stopped quitting stopping ceased cease dropped ditched abandoned retired removed"
    " resigned resign"
)
GIVE = _words("give gives gave given giving")  # "gave up coffee" ends a habit
# A time of day said "quarter to nine" follows one of these; "ten to twelve" elsewhere is a range,
# as is one followed by a unit ("5 to 10 minutes").
CLOCK_LEADS = _words("at by until till around about is 's was")
RANGE_UNITS = _words("minute minutes hour hours day days week weeks year years percent people times")
HAND_OVER = _words("take takes took taken taking hand hands handed handing")  # "took over from"
# Stance words: a positive and a negative one state opposite preferences.
POSITIVE_STANCE = _words(
    "like likes liked love loves loved enjoy enjoys enjoyed prefer prefers preferred adore adores"
    " fond fan favourite favorite rather"
)
NEGATIVE_STANCE = _words(
    "dislike dislikes disliked hate hates hated detest detests loathe loathes despise despises avoid avoids"
)
# Where an order reverses a preference: "X over Y" becomes "Y over X".
COMPARATIVE_MARKERS = _words("over than instead rather versus vs")

# Words people add when a fact changes or is repeated; they carry no fact of their own.
CHANGE_CUES = _words(
    """
    now currently anymore longer actually still recently lately nowadays today new newly
    instead just reminder note fyi btw officially finally already again please remember
    important heads
    """
)
# Verbs that report a change rather than state a fact: "We moved the API to port 9090".
CHANGE_VERBS = _words(
    """
    switched switch switching changed change changing moved move moving migrated migrate upgraded
    upgrade downgraded updated update became become relocated relocate transferred shifted
    rescheduled rotated replaced swapped shortened lengthened extended reduced raised lowered
    increased decreased cut reissued passed promoted renamed
    """
)
# Words that report a change whatever their ending: "upgrades", "switching", "rose to".
CHANGE_STEMS = _words(
    "switch chang mov migrat upgrad downgrad updat relocat transfer shift reschedul rotat replac swap"
    " shorten lengthen extend reduc rais lower increas decreas reissu promot renam rose fell grew drop"
)
# Verbs that name what was replaced, then what replaced it: "replaced Photoshop with Canva".
SWAP_VERBS = _words("replaced replace replacing swapped swap swapping traded exchanged")
MOVING = _words("moved move moving relocated relocate relocating")
# Words that say a statement adds to what is known rather than replacing it: "I also have a dog".
ADDING = _words("another also additional additionally")
FILLER = _words(
    """
    really quite pretty usually generally basically definitely always typically normally
    currently mostly kind sort thing things stuff lot bit user person one city town place
    """
)
# Verbs too light to carry a fact of their own ("Deploys happen every Friday").
LIGHT_VERBS = _words(
    "happen happens happened occur occurs occurred take takes took make makes made go goes went"
)
# Schedule words behave like values: "Daily standup at 9" / "The standup is at 9:30".
FREQUENCY_WORDS = _words("quarterly")

# Words of one relation that people use for each other ("I live in X" / "My home is X").
_CLASSES = {
    "+home": "live lives living lived reside resides residing based home",
    "+work": "work works working worked job employed employer office workplace",
    "+use": "use uses using used utilise utilize",
    "+name": "call calls called name named",
    "+have": "own owns owned have has had got",
    "+child": "kid kids child children",
    "+mother": "mother mum mom",
    "+father": "father dad",
    "+start": "begin begins start starts started",
    "+big": "big large",
    "+buy": "buy bought purchase purchased",
    "+favourite": "favourite favorite",
}
# Short forms read as the word they stand for ("221 Baker St", "the prod DB", "written in TS").
ABBREVIATIONS = {
    **{"st": "street", "rd": "road", "ave": "avenue", "blvd": "boulevard", "ext": "extension"},
    **{"dept": "department", "mgr": "manager", "db": "database", "prod": "production"},
    **{"env": "environment", "repo": "repository", "config": "configuration", "docs": "documentation"},
    **{"ts": "typescript", "js": "javascript", "k8s": "kubernetes", "postgres": "postgresql"},
    **{"nvim": "neovim", "info": "information"},
}
SYNONYM_CLASSES: dict[str, str] = {word: name for name, words in _CLASSES.items() for word in words.split()}
# Relations too general to tell two facts apart ("I like using dark mode" / "I prefer dark mode").
LIGHT_CLASSES = _words("+use +have")

# Verbs that begin a predicate, so the words before them name what a fact is about.
_VERBS = _words(
    """
    live reside stay work use run prefer like love enjoy hate dislike avoid own drive ride
    play speak study teach learn read write listen watch eat drink cook bake grow keep hold
    host deploy build ship release target require need want plan meet visit travel fly go come
    leave start begin finish end open close join lead manage report belong support cost pay
    earn weigh measure take make give send receive call name wear sleep wake train practise
    practice store save back serve answer handle depend rely default point connect sync expire
    renew last include contain mean remind happen occur fall celebrate attend sit share cover
    book rent lease borrow lend sell buy order subscribe commit merge push review test lint
    format check compile install upgrade downgrade migrate switch move change become allow
    block walk cycle swim commute maintain own find depart arrive land catch carry see know think
    say tell ask put set let feel try turn show hear bring provide create add remove replace reach
    expect hire fire retire graduate marry divorce date finish schedule cancel approve sign protect
    collect track rotate pass cut shorten extend raise lower increase decrease reduce chop follow
    keep leave stay wait spend bring hold meet lose win choose teach
    """
)
_IRREGULAR = _words(
    """
    went gone ran drove ridden rode spoke spoken wrote written ate eaten drank drunk grew grown
    kept held built met left came taught bought sold paid made took taken gave given sent
    wore worn slept woke became begun began chosen driven known shown done seen swam
    """
)


def _inflections(verb: str) -> set[str]:
    stem = verb[:-1] if verb.endswith("e") else verb
    forms = {verb, verb + "s", stem + "ed", stem + "ing", verb + "d"}
    if verb.endswith(("s", "sh", "ch", "x")):
        forms.add(verb + "es")
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        forms |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    if len(verb) >= 3 and verb[-1] not in "aeiouwxy" and verb[-2] in "aeiou" and verb[-3] not in "aeiou":
        forms |= {verb + verb[-1] + "ed", verb + verb[-1] + "ing"}
    return forms


VERB_FORMS = frozenset({form for verb in _VERBS for form in _inflections(verb)} | _IRREGULAR)

_NUMBERS = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen twenty"
)
_ORDINALS = "third fourth fifth sixth seventh eighth ninth tenth"
_TENS = "thirty forty fifty sixty seventy eighty ninety"
#: The parts of a number written "twenty-five".
TENS = {word: value for value, word in zip(range(20, 100, 10), f"twenty {_TENS}".split(), strict=True)}
UNITS = {word: value for value, word in enumerate(f"one {_NUMBERS}".split()[:9], start=1)}
# "one", "first" and "second" are left out: "the blue one", "my first job", "a second opinion".
NUMBER_WORDS: dict[str, str] = {
    **{word: str(value) for value, word in enumerate(_NUMBERS.split(), start=2)},
    **{word: str(value) for value, word in enumerate(_ORDINALS.split(), start=3)},
    **{word: str(value) for value, word in zip(range(30, 100, 10), _TENS.split(), strict=True)},
    "zero": "0",
    "hundred": "100",
    "thousand": "1000",
    "dozen": "12",
    "twice": "2",
    "noon": "12",
    "midnight": "0",
}

_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
_MONTHS = "january february march april may june july august september october november december".split()  # noqa: SIM905
MONTH_NUMBERS = {month: number for number, month in enumerate(_MONTHS, start=1)}
# "may" and "march" are months only when written as names or beside a number (see statements.py).
AMBIGUOUS_MONTHS = _words("may march")
CALENDAR_WORDS: dict[str, str] = {
    **{day: day for day in _WEEKDAYS},
    **{month: month for month in _MONTHS},
    **{abbreviation: day for day in _WEEKDAYS if (abbreviation := day[:3]) not in ("sat", "sun", "wed")},
    **{abbreviation: month for month in _MONTHS if (abbreviation := month[:3]) not in ("may", "mar")},
    "tues": "tuesday",
    "thurs": "thursday",
    "weds": "wednesday",
    "sept": "september",
    **{part: part for part in _words("morning afternoon evening night weekend weekday")},
}


def known(word: str) -> bool:
    """Whether a word is in one of these lists (a capitalised unknown word may be a name)."""
    return (
        word in FUNCTION_WORDS
        or word in VERB_FORMS
        or word in CHANGE_CUES
        or word in CHANGE_VERBS
        or word in FILLER
        or word in NEGATIONS
        or word in POSITIVE_STANCE
        or word in NEGATIVE_STANCE
        or word in CALENDAR_WORDS
        or word in NUMBER_WORDS
        or word in SYNONYM_CLASSES
        or word in PRONOUN_SUBJECTS
    )


def stem(word: str) -> str:
    """A light suffix stripper: enough to match lives/living/lived or spaces/space (and British
    and American spellings: centre/center, colour/color, organise/organize)."""
    if word.endswith(("tre", "tres", "our", "ours", "ise", "ises", "ised", "ising", "isation")):
        word = re.sub(r"(?<=[a-z]{3})tre(s?)$", r"ter\1", word)
        word = re.sub(r"(?<=[a-z]{2}[^aeiou])our(s?)$", r"or\1", word)
        word = re.sub(r"(?<=[a-z]{3})is(e|es|ed|ing|ation)$", r"iz\1", word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif (len(word) > 4 and word.endswith("ed")) or (
        len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes"))
    ):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word
