"""Charts drawn on the server as inline SVG: each builder turns counts into the geometry that
templates/charts.html draws. No script and no style attribute (the CSP allows neither): colours
are app.css classes, positions and sizes SVG attributes, in a fixed view box the page scales.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 960
HEIGHT = 260
LEFT = 64  # room for the y axis' numbers
RIGHT = 8
BOTTOM = 24  # room for the x axis' labels
TOP = 24  # room for drift markers
WIDEST_BAR = 48
X_LABELS = 8  # at most, so that they never overlap
SERIES = 6  # stacked values with a colour of their own (app.css .series-0 to .series-5)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Tick:
    """A label on an axis: its position (y for values, x for buckets) and its text."""

    at: float
    text: str


@dataclass(frozen=True)
class Scale:
    """Values onto the plot's height, with round numbers on the axis (SVG's y grows down)."""

    low: float
    high: float
    ticks: list[Tick]

    @classmethod
    def of(cls, low: float, high: float, count: int = 4) -> Scale:
        if high <= low:
            high = low + 1
        step = nice_step((high - low) / count)
        low, high = math.floor(low / step) * step, math.ceil(high / step) * step
        steps = round((high - low) / step)
        scale = cls(low, high, [])
        scale.ticks.extend(
            Tick(scale.y(low + i * step), compact(low + i * step, max(abs(low), abs(high))))
            for i in range(steps + 1)
        )
        return scale

    def y(self, value: float) -> float:
        bottom = HEIGHT - BOTTOM
        return round(bottom - (value - self.low) / (self.high - self.low) * (bottom - TOP), 2)


def nice_step(raw: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten at or above ``raw``."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(f * magnitude for f in (1, 2, 5, 10) if raw <= f * magnitude * (1 + 1e-9))


def number(value: float) -> str:
    """A number as a table or a title shows it: whole ones with thousands separators."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def compact(value: float, largest: float) -> str:
    """A number as an axis shows it, short (1.5M, 250k, 1,200), in the unit its largest
    number is written in."""
    for least, divisor, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if largest >= least:
            return f"{value / divisor:.3g}{suffix}" if value else "0"
    return number(value)


@dataclass(frozen=True)
class Slots:
    """The plot's width cut into one slot per bucket, a bar centred in each."""

    count: int

    @property
    def width(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.count, 1)

    @property
    def bar_width(self) -> float:
        return round(min(max(self.width * 0.8, 1), WIDEST_BAR), 2)

    def left(self, index: int) -> float:
        return round(LEFT + index * self.width, 2)

    def center(self, index: int) -> float:
        return round(LEFT + (index + 0.5) * self.width, 2)

    def bar_x(self, index: int) -> float:
        return round(self.center(index) - self.bar_width / 2, 2)

    def labels(self, shorts: Sequence[str]) -> list[Tick]:
        """Every n-th bucket's short label, at most X_LABELS of them."""
        every = max(1, math.ceil(len(shorts) / X_LABELS))
        return [Tick(self.center(i), short) for i, short in enumerate(shorts) if i % every == 0]


# Counts over time: one column per bucket, each a link into the records it counts.


@dataclass(frozen=True)
class Point:
    label: str
    """The bucket's full name: the link's accessible name and the table's row."""
    short: str
    """Its name on the axis."""
    count: int
    href: str | None = None


@dataclass(frozen=True)
class Column:
    point: Point
    x: float
    y: float
    width: float
    height: float
    slot_x: float
    slot_width: float
    """The whole slot, top to bottom: what a click or a tap on the column hits."""


@dataclass(frozen=True)
class Columns:
    columns: list[Column]
    scale: Scale
    x_labels: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - BOTTOM
    left: int = LEFT


def columns(points: Sequence[Point]) -> Columns:
    scale = Scale.of(0, max((p.count for p in points), default=0))
    slots = Slots(len(points))
    drawn = []
    for i, point in enumerate(points):
        top = scale.y(point.count)
        # A count of one among millions is still seen.
        height = max(HEIGHT - BOTTOM - top, 1.0) if point.count else 0.0
        drawn.append(
            Column(
                point,
                slots.bar_x(i),
                HEIGHT - BOTTOM - height,
                slots.bar_width,
                height,
                slots.left(i),
                round(slots.width, 2),
            )
        )
    return Columns(drawn, scale, slots.labels([p.short for p in points]))


# The most frequent values: horizontal bars, drawn as a table (labels wrap as text does).


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    percent: float
    """Of the largest count: the bar's length."""
    href: str | None = None


def shares(items: Sequence[tuple[str, int, str | None]]) -> list[Share]:
    peak = max((count for _, count, _ in items), default=0) or 1
    return [Share(label, n, round(100 * n / peak, 2), href) for label, n, href in items]


# The hour × weekday heat map.

CELL = 24
HEAT_LEFT = 40
HEAT_TOP = 18


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    weekday: str
    hour: int
    count: int
    opacity: float
    """0 for none: drawn as an empty cell."""


@dataclass(frozen=True)
class HeatMap:
    cells: list[Cell]
    rows: list[Tick]
    hours: list[Tick]
    legend: list[tuple[float, str]]
    """(opacity, count) swatches, fewest first."""
    busiest: Cell | None
    cell: int = CELL
    row_label_x: int = HEAT_LEFT - 6
    width: int = HEAT_LEFT + 24 * CELL
    height: int = HEAT_TOP + 7 * CELL


def heat_map(grid: Sequence[Sequence[int]]) -> HeatMap:
    """Rows Monday first, columns hours 0-23, as GET /stats answers."""
    peak = max((n for row in grid for n in row), default=0)
    cells = [
        Cell(
            HEAT_LEFT + hour * CELL,
            HEAT_TOP + day * CELL,
            WEEKDAYS[day],
            hour,
            n,
            opacity(n, peak),
        )
        for day, row in enumerate(grid)
        for hour, n in enumerate(row)
    ]
    busiest = max(cells, key=lambda c: c.count) if peak else None
    steps = sorted({0, *(math.ceil(peak * f) for f in (0.25, 0.5, 0.75)), peak})
    return HeatMap(
        cells,
        [Tick(HEAT_TOP + (i + 0.5) * CELL, name[:3]) for i, name in enumerate(WEEKDAYS)],
        [Tick(HEAT_LEFT + (h + 0.5) * CELL, f"{h:02}") for h in range(0, 24, 3)],
        [(opacity(n, peak), number(n)) for n in steps],
        busiest,
    )


def opacity(count: int, peak: int) -> float:
    """How strongly a cell is filled: the busiest fully, the quietest that has any faintly."""
    if not count or not peak:
        return 0.0
    return round(0.15 + 0.85 * count / peak, 3)


# Parameter analytics: a number's spread per bucket, or its most frequent values.


@dataclass(frozen=True)
class Marker:
    """A drifted bucket: a triangle and the word, over its slot (not colour alone)."""

    x: float
    label: str
    worded: bool
    """Whether the slot is wide enough for the word beside the triangle."""

    @property
    def word_at_left(self) -> bool:
        """At the right edge, the word goes left of the triangle."""
        return self.x + 48 > WIDTH


def markers(slots: Slots, labels: Sequence[str], drifted: Sequence[bool]) -> list[Marker]:
    worded = slots.width >= 40
    return [
        Marker(slots.center(i), label, worded)
        for i, (label, drift) in enumerate(zip(labels, drifted, strict=True))
        if drift
    ]


SPREAD = ("min", "p5", "p25", "median", "p75", "p95", "max")


@dataclass(frozen=True)
class Spread:
    label: str
    short: str
    values: tuple[float, ...] | None
    """The bucket's statistics, in SPREAD's order; None: it has no value of the param."""
    drifted: bool

    @property
    def text(self) -> str:
        if self.values is None:
            return "no values"
        return ", ".join(f"{n} {number(v)}" for n, v in zip(SPREAD, self.values, strict=True))


@dataclass(frozen=True)
class Box:
    spread: Spread
    x: float
    width: float
    center: float
    p5: float
    p25: float
    median: float
    p75: float
    p95: float


@dataclass(frozen=True)
class Bands:
    boxes: list[Box]
    scale: Scale
    x_labels: list[Tick]
    markers: list[Marker]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - BOTTOM
    left: int = LEFT


def bands(spreads: Sequence[Spread]) -> Bands:
    """Per bucket a whisker from p5 to p95, a box from p25 to p75 and the median across it.
    Not min to max: one outlier would flatten every box (min and max are in the box's title
    and the page's table)."""
    known = [s.values for s in spreads if s.values is not None]
    scale = Scale.of(min((v[1] for v in known), default=0.0), max((v[5] for v in known), default=1))
    slots = Slots(len(spreads))
    boxes = []
    for i, spread in enumerate(spreads):
        if spread.values is not None:
            _, p5, p25, median, p75, p95, _ = (scale.y(v) for v in spread.values)
            box = Box(
                spread, slots.bar_x(i), slots.bar_width, slots.center(i), p5, p25, median, p75, p95
            )
            boxes.append(box)
    drifts = markers(slots, [s.label for s in spreads], [s.drifted for s in spreads])
    return Bands(boxes, scale, slots.labels([s.short for s in spreads]), drifts)


@dataclass(frozen=True)
class Tallies:
    """One bucket's most frequent values, and the count of the others."""

    label: str
    short: str
    values: Sequence[tuple[str, int]]
    other: int
    drifted: bool


@dataclass(frozen=True)
class Slice:
    y: float
    height: float
    series: str
    """The app.css class of its colour: series-0 to series-5, or series-other."""
    value: str
    count: int


@dataclass(frozen=True)
class Stack:
    tallies: Tallies
    x: float
    width: float
    slices: list[Slice]


@dataclass(frozen=True)
class Stacks:
    stacks: list[Stack]
    scale: Scale
    x_labels: list[Tick]
    markers: list[Marker]
    legend: list[tuple[str, str]]
    """(class, value) of each colour, "other" last where any bucket has others."""
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - BOTTOM
    left: int = LEFT


OTHER = "series-other"


def stacks(buckets: Sequence[Tallies]) -> Stacks:
    """Per bucket a stacked bar of its values: the SERIES most frequent over all buckets in a
    colour each, the rest together as "other"."""
    overall: Counter[str] = Counter()
    for bucket in buckets:
        overall.update(dict(bucket.values))
    coloured = {value: f"series-{i}" for i, (value, _) in enumerate(_most_common(overall))}
    scale = Scale.of(0, max((sum(n for _, n in b.values) + b.other for b in buckets), default=0))
    slots = Slots(len(buckets))
    drawn = [
        Stack(bucket, slots.bar_x(i), slots.bar_width, _slices(bucket, coloured, scale))
        for i, bucket in enumerate(buckets)
    ]
    legend = list((series, value) for value, series in coloured.items())
    if any(s.series == OTHER for stack in drawn for s in stack.slices):
        legend.append((OTHER, "other values"))
    drifts = markers(slots, [b.label for b in buckets], [b.drifted for b in buckets])
    return Stacks(drawn, scale, slots.labels([b.short for b in buckets]), drifts, legend)


def _most_common(counts: Counter[str]) -> list[tuple[str, int]]:
    """The most frequent values, ties by value: the same colours on every load."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:SERIES]


def _slices(bucket: Tallies, coloured: dict[str, str], scale: Scale) -> list[Slice]:
    parts = [(coloured[v], v, n) for v, n in bucket.values if v in coloured]
    others = bucket.other + sum(n for v, n in bucket.values if v not in coloured)
    if others:
        parts.append((OTHER, "other values", others))
    slices, below = [], 0
    for series, value, n in parts:
        top, bottom = scale.y(below + n), scale.y(below)
        slices.append(Slice(top, round(bottom - top, 2), series, value, n))
        below += n
    return slices
