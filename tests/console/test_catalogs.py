"""Every sentence the console shows is in every language's catalog, translated."""

from __future__ import annotations

import re

import pytest

from console.catalogs import extract
from console.i18n import LANGUAGES, LOCALE, NAMES, read_catalog
from service.models.enums import Language

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
USED = {m.id for m in extract() if m.id}
CODES = [lang.value for lang in LANGUAGES]


def test_the_console_speaks_every_language_with_a_catalog_and_a_name() -> None:
    """A language added to copline (Chichewa was the fifth) reaches the console's switcher,
    so the tests below check its catalog; no catalog on disk goes unchecked."""
    assert set(LANGUAGES) == set(Language)
    on_disk = {path.parents[1].name for path in LOCALE.glob("*/LC_MESSAGES/console.po")}
    assert on_disk == set(CODES)
    assert set(NAMES) == set(LANGUAGES)


@pytest.mark.parametrize("language", CODES)
def test_every_sentence_used_is_in_the_catalog_and_translated(language: str) -> None:
    catalog = read_catalog(language)
    missing = sorted(USED - {m.id for m in catalog if m.id})
    assert not missing, f"run `python -m console.catalogs` and translate: {missing[:5]}"
    untranslated = sorted(str(m.id) for m in catalog if m.id in USED and (not m.string or m.fuzzy))
    assert not untranslated, (
        f"{language}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    )


@pytest.mark.parametrize("language", CODES)
def test_translations_keep_every_placeholder(language: str) -> None:
    for message in read_catalog(language):
        if not message.id or not message.string:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string)
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, f"{language}: {ids[0]!r}"
