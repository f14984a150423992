"""Reading an inbound SMS: which keyword, which meeting code, in which language.

People type on keypads, in every language of `Language`, in any case, with or
without accents, with the code stuck to the word or set off by a comma or '#':
"yes 4821", " YES4821 ", "Yes, 4821", "yes #4821", "Ndiyo 4821", "Arrêt". A reply
is the keyword first, then (optionally) the code; words after the code are ignored, but
kept as typed in `Command.rest` for the commands that carry a text (MSG, TO).

| keyword | en          | sw               | rw                |
|---------|-------------|------------------|-------------------|
| yes     | yes, y      | ndiyo, ndio      | yego              |
| no      | no, n       | hapana           | oya               |
| here    | here        | nipo, nipo hapa  | ndahari, ndi hano |
| stop    | unsubscribe | acha, sitisha    | hagarika          |
| start   | start       | anza             | tangira           |
| help    | help        | msaada           | ubufasha          |
| remind  | remind      | kumbusha         | ibutsa            |
| cancel  | cancel      | ghairi, ahirisha | subika            |
| msg     |             | ujumbe           | ubutumwa          |
| who     | who         | nani             | nde               |
| to      | to          | kwa              | kuri              |

| keyword | fr                     | ny                   | any     |
|---------|------------------------|----------------------|---------|
| yes     | oui                    | inde                 |         |
| no      | non                    | ayi, iyayi           |         |
| here    | ici                    | ndilipo, ndafika     | present |
| stop    | arret, arrete, arreter | lekani, siyani       | stop    |
| start   | commencer, debut       | yambani              |         |
| help    | aide                   | thandizo, thandizani |         |
| remind  | rappel, rappeler       | kumbutsa, kumbutsani |         |
| cancel  | annuler                | letsani, letsa       |         |
| msg     |                        | uthenga              | msg     |
| who     | qui                    | ndani                |         |
| to      | rep                    | kwa                  |         |

| keyword  | any                 |
|----------|---------------------|
| whatsapp | whatsapp, whats app, wa |
| sms      | sms                 |

The words follow the USSD menus where they have one (NDIYO/HAPANA, YEGO/OYA,
INDE/AYI, "Nipo hapa", "Ndi hano", "Ndilipo", "Gusubika inama" and "Letsani
msonkhano" for cancel). `ahirisha` (postpone) is the word the Kiswahili menu uses
for cancelling a meeting, so it cancels here too. No word means two keywords:
`sitisha` and `hagarika` mean stop, so cancelling is `ghairi`/`subika`; in Chichewa
`lekani`/`siyani` (leave off) stop SMS and `letsani` (call off) cancels a meeting,
never `imitsani` (make stop), which could be read as either. "any" words are shared
by English and French, so they tell no language.

WHATSAPP and SMS choose the channel messages come by (`sms.reach_replies`): names, the
same in every language. They count only as the whole text ("WA"), never as the first
word of a sentence ("SMS yako haijafika" is a question for the facilitator).

MSG, WHO and TO are a facilitator's (`sms.commands`): they come from
`FACILITATOR_WORDS`, one dict per language, so a new language adds one entry; a
word two languages share there (MSG: English and French) tells no language. TO
takes a name or a number, never a code: "TO 0712 345 678 ..." has no meeting code.
Common words ("to", "kwa", "qui") are commands only from a facilitator, or with
a meeting code: "Who is bringing chalk?" from a teacher is their own text, passed
on as it is (`sms.forwarding`).

A code is 4 or 5 digits; 3 to 6 are taken so that a mistyped code gets "no
meeting with that code" rather than "not understood". Bare digits are `unknown`
with their code: the survey engine reads answers from the raw text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from service.models.enums import Language


class Keyword(StrEnum):
    yes = "yes"
    no = "no"
    here = "here"
    stop = "stop"
    start = "start"
    help = "help"
    remind = "remind"
    cancel = "cancel"
    msg = "msg"
    who = "who"
    to = "to"
    whatsapp = "whatsapp"
    sms = "sms"
    unknown = "unknown"


@dataclass(frozen=True)
class Command:
    keyword: Keyword
    code: str | None
    language: Language | None  # the language the keyword was written in, when it tells
    # What follows the keyword (and its code), as typed: MSG's and TO's text.
    rest: str = field(default="", compare=False)


# (keyword, language or None when shared, words): the table in the module docstring.
VOCABULARY: tuple[tuple[Keyword, Language | None, tuple[str, ...]], ...] = (
    (Keyword.yes, Language.en, ("yes", "y")),
    (Keyword.yes, Language.sw, ("ndiyo", "ndio")),
    (Keyword.yes, Language.rw, ("yego",)),
    (Keyword.yes, Language.fr, ("oui",)),
    (Keyword.yes, Language.ny, ("inde",)),
    (Keyword.no, Language.en, ("no", "n")),
    (Keyword.no, Language.sw, ("hapana",)),
    (Keyword.no, Language.rw, ("oya",)),
    (Keyword.no, Language.fr, ("non",)),
    (Keyword.no, Language.ny, ("ayi", "iyayi")),
    (Keyword.here, Language.en, ("here",)),
    (Keyword.here, Language.sw, ("nipo", "nipo hapa")),
    (Keyword.here, Language.rw, ("ndahari", "ndi hano")),
    (Keyword.here, Language.fr, ("ici",)),
    (Keyword.here, Language.ny, ("ndilipo", "ndafika")),
    (Keyword.here, None, ("present",)),
    (Keyword.stop, Language.en, ("unsubscribe",)),
    (Keyword.stop, Language.sw, ("acha", "sitisha")),
    (Keyword.stop, Language.rw, ("hagarika",)),
    (Keyword.stop, Language.fr, ("arrêt", "arrête", "arrêter")),
    (Keyword.stop, Language.ny, ("lekani", "siyani")),
    (Keyword.stop, None, ("stop",)),
    (Keyword.start, Language.en, ("start",)),
    (Keyword.start, Language.sw, ("anza",)),
    (Keyword.start, Language.rw, ("tangira",)),
    (Keyword.start, Language.fr, ("commencer", "début")),
    (Keyword.start, Language.ny, ("yambani",)),
    (Keyword.help, Language.en, ("help",)),
    (Keyword.help, Language.sw, ("msaada",)),
    (Keyword.help, Language.rw, ("ubufasha",)),
    (Keyword.help, Language.fr, ("aide",)),
    (Keyword.help, Language.ny, ("thandizo", "thandizani")),
    (Keyword.remind, Language.en, ("remind",)),
    (Keyword.remind, Language.sw, ("kumbusha",)),
    (Keyword.remind, Language.rw, ("ibutsa",)),
    (Keyword.remind, Language.fr, ("rappel", "rappeler")),
    (Keyword.remind, Language.ny, ("kumbutsa", "kumbutsani")),
    (Keyword.cancel, Language.en, ("cancel",)),
    (Keyword.cancel, Language.sw, ("ghairi", "ahirisha")),
    (Keyword.cancel, Language.rw, ("subika",)),
    (Keyword.cancel, Language.fr, ("annuler",)),
    (Keyword.cancel, Language.ny, ("letsani", "letsa")),
    (Keyword.whatsapp, None, ("whatsapp", "whats app", "wa")),
    (Keyword.sms, None, ("sms",)),
)

# A facilitator's commands, per language (the table's msg, who and to rows).
FACILITATOR_WORDS: dict[Language, dict[Keyword, tuple[str, ...]]] = {
    Language.en: {Keyword.msg: ("msg",), Keyword.who: ("who",), Keyword.to: ("to",)},
    Language.sw: {Keyword.msg: ("ujumbe",), Keyword.who: ("nani",), Keyword.to: ("kwa",)},
    Language.rw: {Keyword.msg: ("ubutumwa",), Keyword.who: ("nde",), Keyword.to: ("kuri",)},
    Language.fr: {Keyword.msg: ("msg",), Keyword.who: ("qui",), Keyword.to: ("rep",)},
    Language.ny: {Keyword.msg: ("uthenga",), Keyword.who: ("ndani",), Keyword.to: ("kwa",)},
}
# Keywords followed by a name or number rather than a meeting code.
TAKES_NO_CODE = frozenset({Keyword.to})


def by_language(
    words: dict[Language, dict[Keyword, tuple[str, ...]]],
) -> tuple[tuple[Keyword, Language | None, tuple[str, ...]], ...]:
    """Vocabulary rows from per-language dicts; a word several languages share for the
    same keyword is one row with no language."""
    languages: dict[tuple[Keyword, str], set[Language]] = {}
    for language, table in words.items():
        for keyword, spellings in table.items():
            for word in spellings:
                languages.setdefault((keyword, word), set()).add(language)
    rows: dict[tuple[Keyword, Language | None], list[str]] = {}
    for (keyword, word), where in languages.items():
        one = next(iter(where)) if len(where) == 1 else None
        rows.setdefault((keyword, one), []).append(word)
    return tuple((keyword, language, tuple(ws)) for (keyword, language), ws in rows.items())


CODE_DIGITS = range(3, 7)

# Digits and runs of letters; everything else (spaces, commas, '#', '.') separates.
_TOKEN = re.compile(r"[0-9]+|[^\W\d_]+")


def normalise(text: str) -> str:
    """Lower case without accents: "Arrêt" and "ARRET" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def build_index(
    vocabulary: Iterable[tuple[Keyword, Language | None, tuple[str, ...]]],
) -> dict[tuple[str, ...], tuple[Keyword, Language | None]]:
    """Word (as tokens) → keyword; refuses a table where one word means two things."""
    index: dict[tuple[str, ...], tuple[Keyword, Language | None]] = {}
    for keyword, language, words in vocabulary:
        for word in words:
            key = tuple(_tokens(word))
            if key in index and index[key] != (keyword, language):
                raise ValueError(f"{word!r} would mean both {index[key][0]} and {keyword}")
            index[key] = (keyword, language)
    return index


VOCABULARY = VOCABULARY + by_language(FACILITATOR_WORDS)
_INDEX = build_index(VOCABULARY)
_LONGEST = max(len(key) for key in _INDEX)


def _code(token: str) -> str | None:
    return token if token.isdigit() and len(token) in CODE_DIGITS else None


def tokens(text: str) -> list[str]:
    """The words and numbers of a text, lower case without accents."""
    return _tokens(text)


def text_after(text: str, used: int) -> str:
    """`text` as typed after its first `used` tokens, without the separators before."""
    if used == 0:
        return text.strip()
    seen = 0
    for match in _TOKEN.finditer(text):
        seen += len(_tokens(match.group()))
        if seen >= used:
            return text[match.end() :].lstrip(" \t\r\n,:;#-").rstrip()
    return ""


def parse(text: str) -> Command:
    tokens = _tokens(text)
    if not tokens:
        return Command(Keyword.unknown, None, None)
    if tokens[0].isdigit():
        return Command(Keyword.unknown, _code(tokens[0]), None, rest=text.strip())
    # Longest phrase first, so "nipo hapa 4821" finds its code after "hapa".
    for length in range(min(_LONGEST, len(tokens)), 0, -1):
        found = _INDEX.get(tuple(tokens[:length]))
        if found is not None:
            keyword, language = found
            after = tokens[length:]
            code = _code(after[0]) if after and keyword not in TAKES_NO_CODE else None
            rest = text_after(text, length + (1 if code else 0))
            return Command(keyword, code, language, rest=rest)
    return Command(Keyword.unknown, None, None, rest=text.strip())
