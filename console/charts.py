"""Charts as small SVG drawn on the server by pygal, embedded in the page, with their numbers.

pygal draws; this module keeps what it draws light and self-contained:

- no script: pygal's tooltip script comes from a CDN and its config is an inline
  `<script>` the console's policy refuses, so both are left out (`js=[]`, and the
  config script is removed from the tree);
- nothing from elsewhere: no web font, no `xlink:href`, no XML declaration (the SVG
  sits inline in the HTML);
- one short stylesheet per chart, scoped to the chart's id (system font, colours that
  meet WCAG AA on white: text 4.5:1, bars and lines 3:1), instead of pygal's ~8 KB;
- coordinates to one decimal, and pygal's tooltip data (`<desc>`), comments and
  hidden guides dropped;
- `role="img"` and a `<title>` naming the chart: a screen reader announces the chart
  by its name and reads its numbers from the table the template puts under it
  (`templates/_chart.html`: every chart comes with its figures in a table).

A chart is a frozen value; the SVG of the same chart in the same language is drawn
once and kept (pygal takes ~10 ms a chart, more than the queries behind it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree

import pygal
from babel.numbers import format_decimal, format_percent
from markupsafe import Markup
from pygal.style import Style

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT = 360, 220  # the viewBox: about a phone's width, so text stays ~13 px there
BAR_ROW = 30  # height per category of a horizontal bar chart
LEGEND_ROW = 22
LABEL = 18  # characters of a category's name on the chart (the table has it whole)
FONT = 13
INK = "#374151"  # 10.3:1 on white
# Series colours, each at least 4.5:1 on white (3:1 is the bar for graphics).
BLUE, AMBER, GREEN, RED, VIOLET, GREY = (
    "#1d4ed8",
    "#b45309",
    "#047857",
    "#b91c1c",
    "#6d28d9",
    "#4b5563",
)
PALETTE = (BLUE, AMBER, GREEN, RED, VIOLET, GREY)
_KEY = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_DECIMALS = re.compile(r"(\d+\.\d)\d+")
_ROUNDED = ("x", "y", "cx", "cy", "width", "height", "d", "transform", "r")


class Kind(StrEnum):
    line = "line"
    bar = "bar"
    stacked_bar = "stacked_bar"
    horizontal_bar = "horizontal_bar"
    stacked_horizontal_bar = "stacked_horizontal_bar"

    @property
    def horizontal(self) -> bool:
        return self in (Kind.horizontal_bar, Kind.stacked_horizontal_bar)

    @property
    def stacked(self) -> bool:
        return self in (Kind.stacked_bar, Kind.stacked_horizontal_bar)


@dataclass(frozen=True)
class Series:
    """One line or one set of bars; `percent`: values are shares (0..1)."""

    name: str
    values: tuple[float | None, ...]
    percent: bool = False


@dataclass(frozen=True)
class Chart:
    """What to draw, and the table that goes with it.

    `key` is the chart's id on the page. `labels` name the categories (weeks, steps,
    options); `heading` heads their column in the table. `extra` columns are shown in
    the table only (e.g. the counts behind a rate). `no_data` is what the chart says
    when there is nothing to draw, in the reader's language.
    """

    key: str
    title: str
    kind: Kind
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    heading: str = ""
    extra: tuple[Series, ...] = ()
    colours: tuple[str, ...] = PALETTE
    no_data: str = "No data"

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"a chart key is lower-case letters, digits and dashes: {self.key!r}")
        for s in (*self.series, *self.extra):
            if len(s.values) != len(self.labels):
                raise ValueError(f"series {s.name!r} has {len(s.values)} values for "
                                 f"{len(self.labels)} labels")  # fmt: skip

    @property
    def percent(self) -> bool:
        return bool(self.series) and all(s.percent for s in self.series)

    @property
    def columns(self) -> tuple[Series, ...]:
        """The table's value columns: the drawn series, then the extra ones."""
        return (*self.series, *self.extra)

    @property
    def rows(self) -> list[tuple[str, list[tuple[float | None, bool]]]]:
        """The table's rows: a label and its (value, is a share) per column."""
        return [
            (label, [(c.values[i], c.percent) for c in self.columns])
            for i, label in enumerate(self.labels)
        ]

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


def svg(chart: Chart, language: str) -> Markup:
    """The chart as inline SVG markup (drawn once per chart and language)."""
    return Markup(_drawn(chart, language))


@dataclass
class _Scale:
    labels: list[float] = field(default_factory=list)
    top: float = 1.0


def _nice_scale(chart: Chart) -> _Scale:
    """Axis ticks: 0-100 % for shares, else 0 to a round top in whole steps."""
    if chart.percent:
        return _Scale([0, 0.25, 0.5, 0.75, 1.0], 1.0)
    if chart.kind.stacked:
        sums = [sum(s.values[i] or 0 for s in chart.series) for i in range(len(chart.labels))]
        highest = max(sums, default=0)
    else:
        highest = max((v or 0 for s in chart.series for v in s.values), default=0)
    if highest <= 0:
        return _Scale([0, 1], 1)
    rough = highest / 4
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    step = max(1, int(step))
    top = step * math.ceil(highest / step)
    return _Scale([float(v) for v in range(0, int(top) + 1, step)], float(top))


def _short(label: str) -> str:
    return label if len(label) <= LABEL else label[: LABEL - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


def _formatter(language: str, percent: bool) -> Callable[[Any], str]:
    def fmt(value: Any) -> str:
        if value is None:
            return ""
        if percent:
            return str(format_percent(value, locale=language))
        return str(format_decimal(value, format="#,##0.#", locale=language))

    return fmt


_CSS = (
    "{id} text{{font:{font}px system-ui,sans-serif;fill:{ink};stroke:none}}"
    "{id} .axis .line{{stroke:{ink}}}"
    "{id} .guide.line{{stroke:#d1d5db;fill:none}}"
    "{id} .axis.x text{{text-anchor:middle}}"
    "{id} .axis.y text{{text-anchor:end}}"
    "{id} .nofill{{fill:none}}"
    "{id} .line.reactive{{stroke-width:2.5}}"
    "{id} .no_data{{text-anchor:middle}}"
    "{id} .background{{fill:none}}"
)


def _css(chart_id: str, colours: Sequence[str], count: int) -> str:
    scoped = f"#{chart_id}"
    rules = _CSS.format(id=scoped, font=FONT, ink=INK)
    for i in range(count):
        colour = colours[i % len(colours)]
        rules += f"{scoped} .color-{i}{{fill:{colour};stroke:{colour}}}"
    return rules


def _tidy(chart: Chart) -> Callable[[ElementTree.Element], ElementTree.Element]:
    """pygal's tree, made small and safe: see the module doc."""
    chart_id = f"chart-{chart.key}"
    category_axis = "y" if chart.kind.horizontal else "x"

    def tidy(root: ElementTree.Element) -> ElementTree.Element:
        root.set("id", chart_id)
        root.set("class", "pygal-chart")
        root.set("role", "img")
        root.set("aria-labelledby", f"{chart_id}-title")
        for axis in root.iter("g"):
            classes = (axis.get("class") or "").split()
            if "axis" in classes and category_axis in classes and "always_show" not in classes:
                # Guides along the categories: pygal's own stylesheet hides them.
                for group in axis.iter("g"):
                    for path in group.findall("path"):
                        if "guide" in (path.get("class") or "").split():
                            group.remove(path)
        for parent in list(root.iter()):
            for child in list(parent):
                tag = child.tag if isinstance(child.tag, str) else ""
                classes = (child.get("class") or "").split()
                if (
                    not tag  # comments
                    or tag in ("script", "desc")
                    or "tooltip-overlay" in classes
                    or "titles" in classes
                    or (tag == "title" and parent is not root)  # hover labels of ticks
                ):
                    parent.remove(child)
                    continue
                if "tooltip-trigger" in classes:
                    child.set("class", " ".join(c for c in classes if c != "tooltip-trigger"))
                for name in _ROUNDED:
                    value = child.get(name)
                    if value is not None and "." in value:
                        child.set(name, _DECIMALS.sub(r"\1", value))
        for node in root.iter("style"):
            node.attrib.pop("type", None)
            node.text = _css(chart_id, chart.colours, len(chart.series))
        title = next((t for t in root if t.tag == "title"), None)
        if title is None:
            title = ElementTree.Element("title")
        else:
            root.remove(title)
        title.set("id", f"{chart_id}-title")
        title.text = chart.title
        root.insert(0, title)
        return root

    return tidy


@lru_cache(maxsize=512)
def _drawn(chart: Chart, language: str) -> str:
    scale = _nice_scale(chart)
    style = Style(
        background="transparent",
        plot_background="transparent",
        foreground=INK,
        foreground_strong=INK,
        foreground_subtle=INK,
        colors=chart.colours,
        font_family="system-ui,sans-serif",
        label_font_size=FONT,
        major_label_font_size=FONT,
        legend_font_size=FONT,
        value_font_size=FONT,
        title_font_size=FONT,
        tooltip_font_size=FONT,
        no_data_font_size=16,
    )
    labels = [_short(label) for label in chart.labels]
    series = [(s.name, list(s.values)) for s in chart.series]
    height = HEIGHT
    if chart.kind.horizontal:
        height = 50 + BAR_ROW * max(1, len(labels))
        # pygal stacks categories from the bottom up; a reader reads them from the top.
        labels.reverse()
        series = [(name, values[::-1]) for name, values in series]
    every = math.ceil(len(labels) / 6)  # at most six labels along the bottom
    legend = len(chart.series) > 1
    # Legend boxes in rows of up to three; pygal reserves floor(n / columns) rows, so the
    # margin gets what it leaves out.
    columns = len(chart.series) if len(chart.series) <= 3 else 2
    rows = math.ceil(len(chart.series) / columns) if legend else 0
    options: dict[str, Any] = {
        "js": [],
        "css": [],
        "pretty_print": True,  # no regex minifying of a stylesheet we replace anyway
        "disable_xml_declaration": True,
        "no_prefix": False,
        "style": style,
        "width": WIDTH,
        "height": height + LEGEND_ROW * rows,
        "explicit_size": False,
        "show_legend": legend,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": columns,
        "legend_box_size": 12,
        "truncate_legend": 28,
        "truncate_label": -1,  # `_short` shortens them, the same for every chart
        "margin": 8,
        "margin_right": 20,
        "margin_bottom": 8 + (rows - len(chart.series) // columns) * LEGEND_ROW if legend else 8,
        "spacing": 8,
        "show_x_guides": False,
        "show_y_guides": True,
        "y_labels": scale.labels,
        "range": (0, scale.top),
        "include_x_axis": True,
        "value_formatter": _formatter(language, chart.percent),
        "x_labels_major_every": every,
        "show_minor_x_labels": every == 1 or chart.kind.horizontal,
        "no_data_text": chart.no_data,
        "print_values": False,
        "dots_size": 3,
    }
    if chart.empty:
        del options["y_labels"], options["range"]
    drawing: Any
    match chart.kind:
        case Kind.line:
            drawing = pygal.Line(allow_interruptions=True, **options)
        case Kind.bar:
            drawing = pygal.Bar(**options)
        case Kind.stacked_bar:
            drawing = pygal.StackedBar(**options)
        case Kind.horizontal_bar:
            drawing = pygal.HorizontalBar(**options)
        case Kind.stacked_horizontal_bar:
            drawing = pygal.HorizontalStackedBar(**options)
    drawing.uuid = chart.key  # a stable id: the same chart, the same markup
    drawing.add_xml_filter(_tidy(chart))
    drawing.x_labels = labels
    if not chart.empty:
        for name, values in series:
            drawing.add(name, values)
    svg: str = drawing.render(is_unicode=True)
    # ElementTree names the SVG namespace with a prefix when it parsed one; pygal built
    # this tree itself, so it is `xmlns` on the root only.
    return svg.replace("ns0:", "").replace(":ns0", "")
