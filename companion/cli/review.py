"""Commands for looking back: `review` (spoken and shown), `page` (a private page to look at),
`play` (one's own voice), `list`, `show`, `search`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from companion import config
from companion.cli.options import (
    ENTRY_ID,
    Bounded,
    audio_options,
    command_settings,
    engine_options,
    recover_waiting,
    spoken_io,
    store_for_reading,
    typed_text,
    voice_options,
)
from companion.errors import CompanionError


@click.command()
@click.option("--print", "print_only", is_flag=True, help="Show the review without speaking.")
@click.option("--since", help="Review from this date instead of the last session (e.g. 2026-11-01).")
@click.option("--pause", type=Bounded(0.5, 120, "from half a second to two minutes", unit="SECONDS", example="--pause 6"),
              default=6.0, show_default=True,
              help="Seconds to wait after each item before going on by itself.")
@engine_options
@audio_options
@voice_options
def review(print_only: bool, since: str | None, pause: float, **options) -> None:
    """What you said since your last session, spoken and shown.

    While it speaks you can say "next", "back", "repeat", "play my voice" or "stop".
    """
    from companion.review.digest import gather, print_review, review_items, states_chart
    from companion.review.read_aloud import Review
    from companion.store.database import Store
    from companion.store.sessions import parse_moment
    from companion.terminal import Terminal

    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    ui = Terminal()
    with Store.open(reading=print_only) as store:
        recover_waiting(store)
        digest, entries = gather(store, since_iso)
        items = review_items(digest, entries)
        if print_only:
            print_review(ui, items, states_chart(digest, entries))
            return
        settings = command_settings(options, config.SPEAKING)
        with spoken_io(settings, answers=False) as (engine, mic, speaker, voice):
            Review(store, engine, mic, speaker, voice, ui, pause).run(items)

@click.command()
@click.argument("entry_id", type=ENTRY_ID)
@click.option("--from-word", help="Start where these words are said.")
@click.option("--at", "at", type=float, help="Start at this second.")
@audio_options
def play(entry_id: int, from_word: str | None, at: float | None, **options) -> None:
    """Hear your own voice again, each word lit as you hear it."""
    from companion.audio.playback import Speaker
    from companion.review.replay import Replay

    if from_word is not None and at is not None:
        raise CompanionError("choose either --from-word or --at", "one starting point at a time")
    settings = command_settings(options, ("output_device",))
    with store_for_reading() as store:
        entry = store.get_entry(entry_id)
        replay = Replay(store, None)
        replay.load(entry)  # check the recording before opening the speaker
        with Speaker(settings.output_device) as speaker:
            replay.speaker = speaker
            click.echo(f"#{entry_id}  {entry.get('prompt') or ''}".rstrip())
            replay.play(entry, from_word=from_word, at=at)


def _page_size(limit: int | None, every: bool) -> int | None:
    """How many to show: `--limit`, everything with `--all` (None), else what fits the screen."""
    from companion.review.present import screen_rows

    if every and limit is not None:
        raise CompanionError("choose either --limit or --all", "--all shows every one, --limit N shows N")
    return None if every else limit or screen_rows()


@click.command("list")
@click.option("--kind", type=click.Choice(["reflection", "ripple", "checkin"]))
@click.option("--limit", type=Bounded(1, 10**9, "a whole number of entries, 1 or more", whole=True, unit="N",
                                     example="--limit 20"), help="Show the most recent N (default: what fits the screen).")
@click.option("--all", "every", is_flag=True, help="Show every entry.")
def list_(kind: str | None, limit: int | None, every: bool) -> None:
    """What you have said, the most recent last."""
    from companion.review.present import earlier_line, entry_line

    size = _page_size(limit, every)
    with store_for_reading() as store:
        if size is None:
            entries, earlier = store.list_entries(kind=kind), False
        else:
            entries, earlier = store.recent_entries(size, kind=kind)
    if not entries:
        click.echo("Nothing stored yet. `companion reflect` begins a reflection." if kind is None
                   else "Nothing of that kind stored yet.")
    styled = sys.stdout.isatty()
    for entry in entries:
        click.echo(entry_line(entry, styled=styled))
    if earlier:
        click.echo(earlier_line(len(entries)))

@click.command()
@click.argument("entry_id", type=ENTRY_ID)
def show(entry_id: int) -> None:
    """One entry, whole, with its transcript."""
    from companion.review.present import entry_detail

    with store_for_reading() as store:
        click.echo(entry_detail(store.get_entry(entry_id), store))


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(["reflection", "ripple", "checkin"]))
@click.option("--since", help="Only from this date (e.g. 2026-11-01).")
@click.option("--until", help="Only up to and including this date.")
@click.option("--limit", type=Bounded(1, 500, "from 1 to 500 results", whole=True, unit="N", example="--limit 50"),
              help="How many results to show (default: what fits the screen).")
@click.option("--all", "every", is_flag=True, help="Show every match.")
def search(query: tuple[str, ...], kind: str | None, since: str | None, until: str | None, limit: int | None,
           every: bool) -> None:
    """Find words in what you said, the best matches first.

    "breathe" finds "breathing" too; --kind, --since and --until narrow it down.
    """
    from companion.review.present import more_found_line, search_line

    typed_text(" ".join(query), "what you searched for", limit=None, nothing="nothing was searched")
    size = _page_size(limit, every)
    since_iso, until_value = period_bounds(since, until)
    with store_for_reading() as store:
        page = store.search_page(" ".join(query), kind=kind, since=since_iso, until=until_value, limit=size,
                                 every=every)
    if not page.results:
        click.echo("Nothing found for that. Other words, or fewer, may find it.")
    styled = sys.stdout.isatty()
    for result in page.results:
        click.echo(search_line(result, styled))
    if page.more:
        click.echo(more_found_line(page.more, page.matched, exact=page.counted_all))


def period_bounds(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """--since and --until as the store takes them: a time, or a bare date (until: the whole day)."""
    from companion.store.sessions import parse_moment

    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    until_value = None
    if until:
        moment = parse_moment(until, what="--until")
        until_value = until.strip() if len(until.strip()) == 10 else moment.isoformat(timespec="seconds")
    return since_iso, until_value


@click.command()
@click.option("--since", help="From this date instead of your last session (e.g. 2026-11-01).")
@click.option("--until", help="Up to and including this date.")
@click.option("--all", "everything", is_flag=True, help="Everything you have kept.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the page to this file (default: page.html in your data folder; "
                   "needed when the data folder is encrypted).")
@click.option("--no-open", is_flag=True, help="Only write the page; do not open it in the browser.")
def page(since: str | None, until: str | None, everything: bool, output: Path | None, no_open: bool) -> None:
    """A private page: the weeks, your body, your voice.

    Since your last session unless told otherwise: a short summary, a chart of the body states you
    named, and everything you said, with your recordings. Nothing in it reaches the network.
    """
    from companion.review.page_build import default_page_path, encryption_note, page_html, write_private
    from companion.store import crypto

    if everything and (since or until):
        raise CompanionError("--all already means everything", "use either --all or --since/--until")
    if output is None and crypto.is_enabled(default_page_path().parent):
        raise CompanionError("your data folder is encrypted, and the page cannot be (a browser must read it)",
                             "say where to keep it, e.g. `companion page -o ~/companion-page.html`, and delete it when you are done")
    since_iso, until_value = period_bounds(since, until)
    with store_for_reading() as store:
        click.echo("Making your page…")
        text = page_html(store, since_iso, until_value, everything)
    target = write_private(output or default_page_path(), text)
    size = len(text.encode())
    click.echo(f"Your page is at {target} ({size / 1e6:.1f} MB)." if size >= 1e6 else f"Your page is at {target} ({size // 1000 + 1} KB).")
    note = encryption_note(target)
    if note:
        click.echo(note)
    if not no_open:
        open_in_browser(target)


def open_in_browser(target: Path) -> None:
    """Open the page in the default browser when there is a screen to show it on; never an error."""
    import webbrowser

    uri = target.resolve().as_uri()
    on_screen = sys.platform != "linux" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    try:
        opened = bool(on_screen) and webbrowser.open(uri)
    except Exception:  # a browser that fails to start is no reason to fail: the page is written
        opened = False
    if not opened:
        click.echo(f"Open it in a browser: {uri}")


COMMANDS: list[click.Command] = [review, page, play, list_, show, search]
