"""Per-language texts of the USSD menus, loaded from the TOML files beside this module.

Translators edit the TOML files; `Catalog.load()` refuses to start when a language
misses a key, a text's {placeholders} differ from English, or a text is not GSM-7.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from service.gsm7 import is_gsm7
from service.models.enums import Language

HERE = Path(__file__).parent
REFERENCE = Language.en

# The name of each language, in that language, for the language menu.
LANGUAGE_NAMES = {
    Language.en: "English",
    Language.sw: "Kiswahili",
    Language.rw: "Ikinyarwanda",
    Language.fr: "Francais",
    Language.ny: "Chichewa",
}


class CatalogError(Exception):
    pass


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= _flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@dataclass(frozen=True)
class Catalog:
    texts: dict[Language, dict[str, Any]]

    @classmethod
    def load(cls, folder: Path = HERE) -> Catalog:
        texts = {
            lang: _flatten(
                tomllib.loads((folder / f"{lang.value}.toml").read_text(encoding="utf-8"))
            )
            for lang in Language
        }
        catalog = cls(texts)
        problems = catalog.problems()
        if problems:
            raise CatalogError("USSD catalog is incomplete:\n  " + "\n  ".join(problems))
        return catalog

    def problems(self) -> list[str]:
        reference = self.texts[REFERENCE]
        found = []
        for lang, texts in self.texts.items():
            for key in sorted(reference.keys() - texts.keys()):
                found.append(f"{lang}: missing {key}")
            for key in sorted(texts.keys() - reference.keys()):
                found.append(f"{lang}: {key} is not an English key")
            for key, value in texts.items():
                values = value if isinstance(value, list) else [value]
                for text in values:
                    if not isinstance(text, str):
                        found.append(f"{lang}: {key} is not text")
                        continue
                    if not is_gsm7(text):
                        bad = "".join(sorted({ch for ch in text if not is_gsm7(ch)}))
                        found.append(f"{lang}: {key} has characters outside GSM-7: {bad!r}")
                same_key = key in reference and isinstance(value, str)
                if same_key and _placeholders(value) != _placeholders(reference[key]):
                    found.append(f"{lang}: {key} placeholders differ from English")
        return found

    def text(self, lang: Language, key: str, **params: object) -> str:
        value = self.texts[lang][key]
        assert isinstance(value, str), key
        return value.format(**params) if params else value

    def words(self, lang: Language, key: str) -> list[str]:
        value = self.texts[lang][key]
        assert isinstance(value, list), key
        return value


@cache
def default_catalog() -> Catalog:
    return Catalog.load()
