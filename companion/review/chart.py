"""Charts of a period, drawn plainly (pure: entries in, SVG or text out): which body states were
named on which days, and how many ripples and practices each week held. No scores, no streaks,
no colours that judge: each state simply has its own gentle hue."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from companion.review.periods import week_start

PALETTE = ("#6f8fb3", "#9a86b8", "#5f9e9a", "#c0a26a", "#7d8aa0", "#b08aa6", "#8ab0c8", "#a39a84",
           "#8c7bb0", "#4f8aa0", "#c4a98a", "#93a0ad")
"""Soft, equal hues for the body states, handed out in order (no state is better than another)."""
RIPPLE_COLOUR, PRACTICE_COLOUR = "#7fa7c9", "#b7a3cf"


def local_day(iso: str) -> date:
    """The local calendar day of a stored ISO time."""
    return datetime.fromisoformat(iso).astimezone().date()


@dataclass
class StateDays:
    """The body states of a period and the days each was named, most often named first."""

    first: date
    last: date
    days: dict[str, set[date]] = field(default_factory=dict)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def state_days(entries: list[dict], first: date | None = None, last: date | None = None) -> StateDays:
    """The days each body state was named (entries carry `states` and `started_at`). The span runs
    from `first` (else the first entry's day) to `last` (else the last entry's day)."""
    days: dict[str, set[date]] = {}
    moments = [local_day(e["started_at"]) for e in entries]
    for entry, day in zip(entries, moments):
        for state in entry.get("states") or ():
            days.setdefault(state, set()).add(day)
    start = first or min(moments, default=date.today())
    end = max(last or max(moments, default=start), start)
    ordered = sorted(days.items(), key=lambda item: (-len(item[1]), item[0]))
    return StateDays(start, end, {state: {d for d in named if start <= d <= end} for state, named in ordered})


@dataclass(frozen=True)
class WeekCount:
    monday: date
    ripples: int
    practices: int


def week_counts(entries: list[dict], practice_times: list[str], first: date, last: date) -> list[WeekCount]:
    """Ripples and practices in each week from `first` to `last` (weeks with none included)."""
    monday = first - timedelta(days=first.weekday())
    weeks: dict[date, list[int]] = {}
    while monday <= last:
        weeks[monday] = [0, 0]
        monday += timedelta(days=7)
    for entry in entries:
        if entry["kind"] == "ripple":
            weeks.setdefault(week_start(entry["started_at"]), [0, 0])[0] += 1
    for moment in practice_times:
        weeks.setdefault(week_start(moment), [0, 0])[1] += 1
    return [WeekCount(m, r, p) for m, (r, p) in sorted(weeks.items())]


def short_day(day: date) -> str:
    return f"{day.day} {day:%b}"


def _long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


# SVG

WIDE, NARROW = 640, 360  # drawing widths: a screen, and a phone (the same text size on both)
ROW, TOP = 26, 30


def states_svg(marks: StateDays, width: int = WIDE) -> str:
    """One row per body state, one mark for each day it was named; weeks labelled along the top."""
    e = html.escape
    dates = marks.dates()
    label = 118 if width >= WIDE else 84
    plot = width - label - 12
    step = plot / len(dates)
    radius = max(2.0, min(7.0, step * 0.36))
    height = TOP + ROW * len(marks.days) + 8
    described = "; ".join(f"{state}: {', '.join(_long_day(d) for d in sorted(named))}" for state, named in marks.days.items())
    out = [f'<svg class="chart states-chart w{width}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="states-title-{width} states-desc-{width}">',
           f'<title id="states-title-{width}">Body states, day by day</title>',
           f'<desc id="states-desc-{width}">{e(described)}</desc>']
    for i, day in enumerate(dates):
        if day.weekday() == 0 or i == 0:
            x = label + i * step
            out.append(f'<line class="week-line" x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{height - 4}"/>')
            if day.weekday() == 0 or len(dates) < 7 or (7 - day.weekday()) * step >= 44:  # room before the next Monday's
                out.append(f'<text class="axis" x="{x + 3:.1f}" y="{TOP - 12}">{e(short_day(day))}</text>')
    for row, (state, named) in enumerate(marks.days.items()):
        y = TOP + row * ROW + ROW / 2
        colour = PALETTE[row % len(PALETTE)]
        if row % 2 == 0:
            out.append(f'<rect class="band" x="0" y="{y - ROW / 2:.1f}" width="{width}" height="{ROW}"/>')
        out.append(f'<text class="label" x="{label - 8}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{e(_fit(state, 16 if width >= WIDE else 11))}</text>')
        for day in sorted(named):
            x = label + ((day - marks.first).days + 0.5) * step
            out.append(f'<circle class="mark" data-state="{e(state)}" data-day="{day.isoformat()}" cx="{x:.1f}" '
                       f'cy="{y:.1f}" r="{radius:.1f}" fill="{colour}"><title>{e(state)}, {e(_long_day(day))}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def _fit(label: str, most: int = 16) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def weeks_svg(weeks: list[WeekCount], width: int = WIDE) -> str:
    """Ripples and practices side by side for each week, each bar with its number (a count of one is
    a small bar, not a tall one: counts are not goals)."""
    e = html.escape
    most = max([w.ripples for w in weeks] + [w.practices for w in weeks] + [1])
    unit = min(22.0, 110 / most)
    top = 40
    base = top + unit * most
    height = round(base + 26)
    column = (width - 20) / max(len(weeks), 1)
    bar = max(3.0, min(26.0, column * 0.32))
    described = "; ".join(f"week of {_long_day(w.monday)}: {w.ripples} ripple{'s' * (w.ripples != 1)}, "
                          f"{w.practices} practice{'s' * (w.practices != 1)}" for w in weeks)
    out = [f'<svg class="chart weeks-chart w{width}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="weeks-title-{width} weeks-desc-{width}">',
           f'<title id="weeks-title-{width}">Ripples and practices, week by week</title>',
           f'<desc id="weeks-desc-{width}">{e(described)}</desc>',
           f'<rect x="10" y="6" width="12" height="12" rx="2" fill="{RIPPLE_COLOUR}"/>'
           '<text class="axis" x="27" y="16">ripples</text>',
           f'<rect x="100" y="6" width="12" height="12" rx="2" fill="{PRACTICE_COLOUR}"/>'
           '<text class="axis" x="117" y="16">practices</text>',
           f'<line class="week-line" x1="10" y1="{base:.1f}" x2="{width - 10}" y2="{base:.1f}"/>']
    label_every = max(1, round(len(weeks) / (10 if width >= WIDE else 5)))
    for i, week in enumerate(weeks):
        middle = 10 + column * (i + 0.5)
        for offset, count, colour, kind in ((-bar - 1, week.ripples, RIPPLE_COLOUR, "ripples"),
                                            (1, week.practices, PRACTICE_COLOUR, "practices")):
            tall = unit * count
            x = middle + offset
            if count:
                out.append(f'<rect class="bar" data-kind="{kind}" data-week="{week.monday.isoformat()}" x="{x:.1f}" '
                           f'y="{base - tall:.1f}" width="{bar:.1f}" height="{tall:.1f}" rx="2" fill="{colour}">'
                           f'<title>{count} {kind}, week of {e(_long_day(week.monday))}</title></rect>')
                out.append(f'<text class="count" x="{x + bar / 2:.1f}" y="{base - tall - 4:.1f}" '
                           f'text-anchor="middle">{count}</text>')
        if i % label_every == 0:
            out.append(f'<text class="axis" x="{middle:.1f}" y="{base + 18:.1f}" text-anchor="middle">'
                       f'{e(short_day(week.monday))}</text>')
    out.append("</svg>")
    return "".join(out)


# Text, for the terminal

TEXT_DAYS = 56  # beyond eight weeks the text chart shows weeks instead of days
NAMED, UNNAMED = "●", "·"


def states_text(marks: StateDays, label_width: int = 14) -> list[str]:
    """The body states as a small text chart: a row per state, a ● for each day (or, over a long
    span, each week) it was named, weeks set apart by a space. Empty when no state was named."""
    if not marks.days:
        return []
    dates = marks.dates()
    width = min(label_width, max(len(s) for s in marks.days))
    if len(dates) <= TEXT_DAYS:
        heading = f"Body states, day by day from {dates[0]:%a} {short_day(dates[0])} to {dates[-1]:%a} {short_day(dates[-1])}:"
        columns = [[day] for day in dates]
        gaps = {i for i, day in enumerate(dates) if i and day.weekday() == 0}
    else:
        mondays = sorted({d - timedelta(days=d.weekday()) for d in dates})
        heading = f"Body states, week by week from the week of {short_day(mondays[0])}:"
        columns = [[m + timedelta(days=k) for k in range(7)] for m in mondays]
        gaps = {i for i, monday in enumerate(mondays) if i and monday.day <= 7}  # a space where a month begins
    lines = [heading]
    for state, named in marks.days.items():
        cells = "".join((" " if i in gaps else "") + (NAMED if named.intersection(days) else UNNAMED)
                        for i, days in enumerate(columns))
        lines.append(f"  {_fit(state, width):<{width}}  {cells}")
    return lines
