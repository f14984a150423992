"""The screen fitting, measured line by line, answers exactly as measuring the whole screen."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.gsm7 import septets, to_gsm7, truncate
from ussd_menus.layout import SCREEN, Line, fit, pages

# Plain letters, GSM-7's two-septet extension, what GSM-7 replaces, what it drops.
CHARS = st.sampled_from(
    list("abcXYZ 019*#:-.,é\n") + list("^{}[~]|€") + list("êç\u2019\u2026\u2022") + ["😀", "`"]
)
TEXT = st.text(CHARS, max_size=90)


def reference_fit(lines: list[Line], limit: int = SCREEN) -> str:
    texts = [to_gsm7(line.text) for line in lines]
    while septets("\n".join(texts)) > limit:
        candidates = [
            i for i, line in enumerate(lines) if line.flexible and septets(texts[i]) > line.min_len
        ]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: septets(texts[i]))
        over = septets("\n".join(texts)) - limit
        target = max(lines[longest].min_len, septets(texts[longest]) - max(over, 1))
        texts[longest] = truncate(texts[longest], target)
    return "\n".join(texts)


def reference_pages(
    header: list[str], items: list[str], footer: list[str], more: str
) -> list[list[int]]:
    result: list[list[int]] = []
    page: list[int] = []
    for index in range(len(items)):
        trial = [*page, index]
        lines = header + [f"{n + 1} {items[i]}" for n, i in enumerate(trial)] + [more] + footer
        if page and septets("\n".join(to_gsm7(x) for x in lines)) > SCREEN:
            result.append(page)
            page = [index]
        else:
            page = trial
    if page or not result:
        result.append(page)
    return result


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(Line, TEXT, st.booleans(), st.integers(min_value=1, max_value=20)),
        min_size=1,
        max_size=8,
    ),
    st.integers(min_value=20, max_value=SCREEN),
)
def test_fit_answers_as_measuring_the_whole_screen(lines: list[Line], limit: int) -> None:
    assert fit(lines, limit) == reference_fit(lines, limit)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, max_size=2), st.lists(TEXT, max_size=25), st.lists(TEXT, max_size=2), TEXT)
def test_pages_answer_as_measuring_the_whole_page(
    header: list[str], items: list[str], footer: list[str], more: str
) -> None:
    assert pages(header, items, footer, more) == reference_pages(header, items, footer, more)
