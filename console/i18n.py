"""The console's sentences in each language: gettext catalogs that translators open.

Each language has `locale/<lang>/LC_MESSAGES/console.po`, edited with Poedit,
Weblate or a text editor; copline compiles them in memory when it starts, so there
is no build step. The English catalog is the source: its msgids are the sentences
as written in the templates and pages (`tests/console/test_catalogs.py` checks
that every sentence used is in every catalog, translated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from service.models.enums import Language

LOCALE = Path(__file__).parent / "locale"
DOMAIN = "console"
LANGUAGES: tuple[Language, ...] = (
    Language.en,
    Language.sw,
    Language.rw,
    Language.fr,
    Language.ny,
)
# Each language named in itself, as the switcher shows it.
NAMES: Mapping[Language, str] = {
    Language.en: "English",
    Language.sw: "Kiswahili",
    Language.rw: "Ikinyarwanda",
    Language.fr: "Français",
    Language.ny: "Chichewa",
}


def catalog_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as fp:
        return read_po(fp, locale=language, domain=DOMAIN)


@cache
def translations(language: str) -> Translations:
    """The compiled catalog; a sentence with no (or a fuzzy) translation stays English."""
    buffer = BytesIO()
    write_mo(buffer, read_catalog(language), use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def pick(value: str | None) -> Language | None:
    """A language code from a cookie, a form or a person, if the console speaks it."""
    if not value:
        return None
    try:
        language = Language(value.strip().lower()[:2])
    except ValueError:
        return None
    return language if language in LANGUAGES else None


def from_accept_language(header: str | None) -> Language:
    """The first language of a browser's list that the console speaks (English if none)."""
    for part in (header or "").split(","):
        language = pick(part.split(";")[0])
        if language is not None:
            return language
    return Language.en


@dataclass(frozen=True)
class Texts:
    """gettext for Python code (flash notices, errors) in one language."""

    language: Language

    @property
    def gettext(self) -> Callable[[str], str]:
        return translations(self.language.value).gettext

    @property
    def ngettext(self) -> Callable[[str, str, int], str]:
        return translations(self.language.value).ngettext

    def __call__(self, message: str, **values: object) -> str:
        text = self.gettext(message)
        return text % values if values else text


def _(message: str) -> str:
    """Marks a sentence for extraction where it is defined; it is translated where shown."""
    return message
