"""Keep the console's catalogs in step with its templates and code.

`copline console-texts` (or `python -m console.catalogs`) extracts every sentence
marked for translation (`_()` and `{% trans %}` in templates, `_()` in Python), adds
the new ones to each language's `.po` file with an empty translation, marks the
ones no longer used as obsolete, and leaves every existing translation alone.
Translators then fill the empty entries with any gettext tool.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from console.i18n import DOMAIN, LANGUAGES, catalog_path, read_catalog

ROOT = Path(__file__).parent
METHODS = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
STABLE = datetime(2026, 12, 1, tzinfo=UTC)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    """Every sentence the console shows, with where it is used."""
    # A fixed date: the catalogs change only when their sentences do.
    catalog = Catalog(domain=DOMAIN, project="copline console", creation_date=STABLE)
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


CODES = tuple(language.value for language in LANGUAGES)


def update(languages: tuple[str, ...] = CODES) -> list[str]:
    """Bring each catalog up to date with the sources; returns what changed, per language."""
    changed = []
    for language in languages:
        template = extract()  # per language: `update` shares the template's messages
        path = catalog_path(language)
        if path.exists():
            catalog = read_catalog(language)
        else:
            catalog = Catalog(
                locale=language, domain=DOMAIN, project="copline console", fuzzy=False
            )
        before = {m.id for m in catalog if m.id}
        catalog.update(template, no_fuzzy_matching=True)
        if language == "en":
            # English is the source language: each sentence translates to itself.
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        added = sum(1 for m in catalog if m.id and m.id not in before)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fp:
            # No line numbers: an edit elsewhere in a template must not touch the catalogs.
            write_po(fp, catalog, width=100, ignore_obsolete=True, include_lineno=False)
        changed.append(f"{language}: {added} new")
    return changed


if __name__ == "__main__":
    for line in update():
        print(line)
