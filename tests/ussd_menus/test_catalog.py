"""The texts: complete in every language, same placeholders, GSM-7 only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.models.enums import Language
from ussd_menus.catalog import HERE, REFERENCE, Catalog, CatalogError
from ussd_menus.screens import check_screens


def test_every_text_exists_in_every_language() -> None:
    assert Catalog.load().problems() == []


@pytest.mark.parametrize("language", sorted(set(Language) - {REFERENCE}))
def test_each_language_is_translated_not_english_copied_in(language: Language) -> None:
    # Only names that are the same in every language (WhatsApp) may equal English.
    texts = Catalog.load().texts
    english = texts[REFERENCE]
    same = sorted(key for key, text in texts[language].items() if text == english[key])
    assert len(same) <= len(english) // 20, same


def test_every_screen_a_screen_leads_to_exists() -> None:
    assert check_screens() == []


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t.replace('invalid = "Chaguo si sahihi."\n', ""), "sw: missing common.invalid"),
        (
            lambda t: t.replace("Habari {name}", "Habari {jina}"),
            "sw: home.title placeholders differ",
        ),
        (lambda t: t.replace("Rudi", "Rudi ✓"), "outside GSM-7"),
    ],
)
def test_a_broken_translation_stops_start_up_with_the_reason(
    tmp_path: Path, edit: object, problem: str
) -> None:
    for source in HERE.glob("*.toml"):
        shutil.copy(source, tmp_path / source.name)
    path = tmp_path / "sw.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(CatalogError, match=problem):
        Catalog.load(tmp_path)
