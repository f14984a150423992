"""Charts: pygal's SVG made small, self-contained and named for screen readers."""

from __future__ import annotations

import gzip
import re
from xml.etree import ElementTree

import pytest

from console import charts
from console.charts import Chart, Kind, Series

WEEKS = tuple(f"{d} Jan" for d in (6, 13, 20, 27)) + tuple(f"{d} Feb" for d in (3, 10, 17))


def trend(**changes: object) -> Chart:
    values: dict[str, object] = {
        "key": "attendance-trend",
        "title": "Attendance rate by week",
        "kind": Kind.line,
        "labels": WEEKS,
        "series": (Series("Rate", (0.6, 0.7, None, 0.8, 0.75, 0.5, 0.9), percent=True),),
        "heading": "Week",
    }
    values.update(changes)
    return Chart(**values)  # type: ignore[arg-type]


BAR = Chart(
    key="meetings",
    title="Meetings",
    kind=Kind.horizontal_bar,
    labels=("Planned", "Held", "Cancelled", "Overdue"),
    series=(Series("Meetings", (750, 500, 100, 50)),),
)
STACKED = Chart(
    key="ussd",
    title="USSD",
    kind=Kind.stacked_horizontal_bar,
    labels=("home", "survey", "checkin"),
    series=(
        Series("Completed", (500, 0, 20)),
        Series("Abandoned", (250, 40, 5)),
        Series("Open", (3, 0, 0)),
    ),
)


@pytest.mark.parametrize("chart", [trend(), BAR, STACKED], ids=["line", "bar", "stacked"])
def test_a_chart_is_self_contained_and_small(chart: Chart) -> None:
    svg = str(charts.svg(chart, "en"))
    assert svg.startswith("<svg ") and "<?xml" not in svg
    for outside in ("<script", "xlink", "href", "@import", "url(", "<!--", "<desc"):
        assert outside not in svg, outside
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]
    assert len(svg) < 7_000 and len(gzip.compress(svg.encode())) < 1_500
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img"
    assert root.get("id") == f"chart-{chart.key}"
    title = root.find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text == chart.title
    assert root.get("aria-labelledby") == title.get("id")
    # Its stylesheet only styles this chart.
    style = root.find(".//{http://www.w3.org/2000/svg}style")
    assert style is not None and style.text is not None
    rules = [r for r in style.text.split("}") if r]
    assert all(r.startswith(f"#chart-{chart.key} ") for r in rules)


def test_a_chart_is_drawn_once_and_the_same_every_time() -> None:
    first = charts.svg(trend(), "en")
    assert charts.svg(trend(), "en") == first
    assert charts.svg(trend(), "fr") != first  # axis labels in French: 75 %
    assert "75 %" in str(charts.svg(trend(), "fr")) or "75\u00a0%" in str(charts.svg(trend(), "fr"))


def test_labels_are_escaped_and_shortened() -> None:
    chart = Chart(
        key="answers",
        title='Which <b>"one"</b>?',
        kind=Kind.horizontal_bar,
        labels=("<script>alert(1)</script>", "A very long option label indeed"),
        series=(Series("Answers", (3, 1)),),
    )
    svg = str(charts.svg(chart, "en"))
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "A very long optio\N{HORIZONTAL ELLIPSIS}" in svg
    assert "Which &lt;b&gt;" in svg
    rows = dict(chart.rows)
    assert rows["A very long option label indeed"] == [(1, False)]  # the table keeps it whole


def test_the_table_has_the_drawn_series_then_the_extra_columns() -> None:
    chart = trend(extra=(Series("Seats", (5, 5, 0, 4, 4, 2, 10)),))
    assert [c.name for c in chart.columns] == ["Rate", "Seats"]
    assert chart.rows[0] == ("6 Jan", [(0.6, True), (5, False)])
    assert chart.percent


def test_an_empty_chart_says_so() -> None:
    empty = Chart(
        key="nothing",
        title="Nothing",
        kind=Kind.bar,
        labels=("a", "b"),
        series=(Series("x", (0, 0)),),
        no_data="Hakuna data",
    )
    assert empty.empty
    assert "Hakuna data" in str(charts.svg(empty, "sw"))


def test_a_chart_refuses_values_that_do_not_fit_its_labels() -> None:
    with pytest.raises(ValueError, match="values for"):
        trend(series=(Series("Rate", (0.5,)),))
    with pytest.raises(ValueError, match="key"):
        trend(key="Not A Key")


@pytest.mark.parametrize(
    ("values", "ticks"),
    [((0, 0), [0, 1]), ((3, 1), [0, 1, 2, 3]), ((750, 50), [0, 200, 400, 600, 800])],
)
def test_bar_axes_go_in_whole_round_steps(values: tuple[int, int], ticks: list[int]) -> None:
    chart = Chart(
        key="n", title="n", kind=Kind.bar, labels=("a", "b"), series=(Series("s", values),)
    )
    assert charts._nice_scale(chart).labels == ticks
