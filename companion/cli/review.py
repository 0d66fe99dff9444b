"""Commands for looking back: `review` (spoken and shown), `play` (one's own voice), `list`, `show`, `search`."""

from __future__ import annotations

import sys

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
    from companion.review.digest import gather, print_review, review_items
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
            print_review(ui, items)
            return
        settings = command_settings(options, config.SPEAKING)
        with spoken_io(settings) as (engine, mic, speaker, voice):
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
    """Find words in what you said, the best matches first; "breathe" finds "breathing" too."""
    from companion.review.present import more_found_line, search_line
    from companion.store.sessions import parse_moment

    typed_text(" ".join(query), "what you searched for", limit=None, nothing="nothing was searched")
    size = _page_size(limit, every)
    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    until_value = None
    if until:
        moment = parse_moment(until, what="--until")
        until_value = until.strip() if len(until.strip()) == 10 else moment.isoformat(timespec="seconds")
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


COMMANDS: list[click.Command] = [review, play, list_, show, search]
