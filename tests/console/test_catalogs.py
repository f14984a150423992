"""Every sentence the console shows is in every language's catalog, translated."""

from __future__ import annotations

import re

import pytest

from console.catalogs import extract
from console.i18n import LANGUAGES, read_catalog

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
USED = {m.id for m in extract() if m.id}


@pytest.mark.parametrize("language", [lang.value for lang in LANGUAGES])
def test_every_sentence_used_is_in_the_catalog_and_translated(language: str) -> None:
    catalog = read_catalog(language)
    missing = sorted(USED - {m.id for m in catalog if m.id})
    assert not missing, f"run `python -m console.catalogs` and translate: {missing[:5]}"
    untranslated = sorted(str(m.id) for m in catalog if m.id in USED and (not m.string or m.fuzzy))
    assert not untranslated, (
        f"{language}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    )


@pytest.mark.parametrize("language", [lang.value for lang in LANGUAGES])
def test_translations_keep_every_placeholder(language: str) -> None:
    for message in read_catalog(language):
        if not message.id or not message.string:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string)
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, f"{language}: {ids[0]!r}"
