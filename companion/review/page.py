"""The private page (pure: content in, one self-contained HTML document out): the period's summary
and charts at the top, then every entry by session and week, each answer with its recording and its
words timed for highlighting. The style and the script are package data (companion/data/page.*);
nothing is fetched from anywhere, and the page's own policy forbids it."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from importlib import resources

from companion.review.chart import NARROW, WIDE, StateDays, WeekCount, states_svg, weeks_svg
from companion.review.export import KIND_TITLE, day_name, period_title, sittings, when
from companion.review.periods import group_by_session, group_by_week

TITLE = "Companion — what I said"
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
          "media-src data:; img-src data:")
"""Content-Security-Policy of the page: it may load nothing at all from outside itself."""
WORD_HINT = ("Click a word to hear it from there, or move through the words with the arrow keys and "
             "press Enter. The word being spoken is lit while a recording plays.")


@dataclass
class PageContent:
    """Everything the page shows; `audio[entry id]` is the recording as Ogg Opus."""

    period: str
    summary: list[str]
    sessions: list[dict]
    entries: list[dict]  # each with `states` and `words`
    marks: StateDays
    weeks: list[WeekCount]
    audio: dict[int, bytes] = field(default_factory=dict)
    made: str = ""


def _asset(name: str) -> str:
    return resources.files("companion").joinpath("data", name).read_text(encoding="utf-8")


def page_document(content: PageContent) -> str:
    """The whole page as HTML text."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<meta name="color-scheme" content="light dark">', '<link rel="icon" href="data:,">',
           f"<title>{e(TITLE)}</title>", f"<style>{_asset('page.css')}</style></head><body>",
           '<a class="skip" href="#timeline">Skip to what you said</a>',
           f'<header><h1>{e(TITLE)}</h1><p class="period">{e(content.period)}</p>',
           f'<p class="made">Made on {e(content.made)}. Private: keep it where only you can open it.</p></header>',
           "<main>", _overview(content), _finder(content), '<section id="timeline" aria-label="What you said">']
    if not content.entries:
        out.append("<p><em>Nothing recorded in this period.</em></p>")
    for period in group_by_session(content.sessions, content.entries):
        out.append(f'<section class="period-group"><h2>{e(period_title(period))}</h2>')
        if period.session and period.session.get("note") and period.session.get("source") == "manual":
            out.append(f'<p class="note">Session note: {e(period.session["note"].strip())}</p>')
        for monday, week in group_by_week(period.entries):
            out.append(f'<section class="week"><h3>Week of {e(day_name(monday))}</h3>')
            for _, block in sittings(week):
                first = block[0]
                out.append(f'<div class="sitting"><h4 class="when">{e(when(first["started_at"]))} — '
                           f'<span class="kind">{e(KIND_TITLE.get(first["kind"], first["kind"]))}</span></h4>')
                out.extend(entry_html(entry, content.audio.get(entry["id"])) for entry in block)
                out.append("</div>")
            out.append("</section>")
        out.append("</section>")
    out += ["</section></main>", f"<script>{_asset('page.js')}</script>", "</body></html>"]
    return "\n".join(out) + "\n"


def _overview(content: PageContent) -> str:
    e = html.escape
    parts = ['<section class="overview" aria-labelledby="overview-title"><h2 id="overview-title">How the weeks went</h2>']
    parts += [f'<p class="summary">{e(sentence)}</p>' for sentence in content.summary]
    if content.marks.days:
        parts.append(f'<figure><figcaption>Body states you named, day by day</figcaption>'
                     f'{states_svg(content.marks, WIDE)}{states_svg(content.marks, NARROW)}</figure>')
    else:
        parts.append('<p class="quiet">No body states were named in this period.</p>')
    if any(w.ripples or w.practices for w in content.weeks):
        parts.append(f'<figure><figcaption>Ripples and practices, week by week</figcaption>'
                     f'{weeks_svg(content.weeks, WIDE)}{weeks_svg(content.weeks, NARROW)}</figure>')
    parts.append("</section>")
    return "".join(parts)


def _finder(content: PageContent) -> str:
    """The search box and the filters (used by page.js; hidden in print)."""
    e = html.escape
    kinds = sorted({entry["kind"] for entry in content.entries})
    kind_options = "".join(f'<option value="{e(k)}">{e(KIND_TITLE.get(k, k))}</option>' for k in kinds)
    state_options = "".join(f'<option value="{e(s)}">{e(s)}</option>' for s in sorted(content.marks.days))
    return ('<form class="finder" role="search" aria-label="Find entries">'
            '<div class="field"><label for="find-text">Search what you said</label>'
            '<input id="find-text" type="search" autocomplete="off" spellcheck="false" '
            'placeholder="a word, like breathe"></div>'
            f'<div class="field"><label for="find-kind">Kind</label><select id="find-kind">'
            f'<option value="">All kinds</option>{kind_options}</select></div>'
            f'<div class="field"><label for="find-state">Body state</label><select id="find-state">'
            f'<option value="">All body states</option>{state_options}</select></div>'
            f'<p id="find-count" class="count-line" role="status" aria-live="polite"></p>'
            f'</form><p class="hint">{e(WORD_HINT)}</p>')


def entry_html(entry: dict, audio: bytes | None) -> str:
    """One entry: its question, its words (timed when recorded), body states and recording."""
    e = html.escape
    states = entry.get("states") or []
    out = [f'<article class="entry" id="entry-{entry["id"]}" data-kind="{e(entry["kind"])}" '
           f'data-states="{e("|".join(states))}">']
    if entry.get("prompt"):
        out.append(f'<p class="prompt">{e(entry["prompt"].strip())}</p>')
    text = (entry.get("text") or "").strip()
    words = entry.get("words") or []
    edited = entry.get("original_text") is not None and entry.get("edited_at")
    if edited:
        out.append(f'<p class="said">{e(text)}</p>')
        original = timed_words(words) if words else e((entry["original_text"] or "").strip() or "(no words)")
        out.append(f'<details class="original"><summary>As first heard (before your correction)</summary>'
                   f'<p class="said timed">{original}</p></details>')
    elif words and audio is not None:
        out.append(f'<p class="said timed">{timed_words(words)}</p>')
    else:
        silent = "(no words were recognised; your voice is kept)" if audio else "(no answer)"
        out.append(f'<p class="said">{e(text)}</p>' if text else f'<p class="said"><em>{silent}</em></p>')
    if states:
        out.append(f'<p class="body">Body: {e(", ".join(states))}</p>')
    if audio is not None:
        label = f"Your voice, {when(entry['started_at'])}"
        data = base64.b64encode(audio).decode("ascii")
        out.append(f'<audio controls preload="metadata" data-entry="{entry["id"]}" aria-label="{e(label)}" '
                   f'src="data:audio/ogg;codecs=opus;base64,{data}"></audio>')
    out.append("</article>")
    return "".join(out)


def timed_words(words: list[dict]) -> str:
    """Each word as an element carrying the seconds it starts and ends; pieces such as "-disposed"
    join the word before, as in the stored text (companion.textnorm.join_words)."""
    e = html.escape
    out = ""
    for w in words:
        word = w["word"].strip()
        if word:
            glue = not out or word[:1] in "-'"
            out += ("" if glue else " ") + f'<span class="w" data-start="{w["start"]:.2f}" data-end="{w["end"]:.2f}">{e(word)}</span>'
    return out
