"""Spoken requests: what a person asks of Companion in their own words, as a small `Request`.

Pure and data-driven: the phrases, synonyms and replies are in companion/data/intents.toml; the
matcher works on normalised words (contractions written out), keeps the words of a ripple or a
check-in exactly as said, and never guesses: a request it cannot place is `unknown`, a request
turned down ("I'm not ready to reflect") is `cancel`. Every hands-free way in shares it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources

from companion.textnorm import scoring_words
from companion.understand.crisis import crisis_note_enabled, crisis_words_in
from companion.understand.lengths import spoken_minutes
from companion.understand.body_states import load_body_vocabulary, map_body_states

INTENTS = ("reflect", "practice", "ripple", "checkin", "review", "session", "cancel", "stop", "unknown")
Phrase = tuple[str, ...]
_WORD = re.compile(r"\d+\.\d+|[\w']+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_CLAUSE_END = re.compile(r"[,.;:!?\u2014\u2026]|\s-\s")
_EDGE_PUNCTUATION = " \t\n,.;:!?-\u2014\u2026\"'"


@dataclass(frozen=True)
class Request:
    """What was asked: one of INTENTS, and what came with it."""

    intent: str = "unknown"
    practice: str | None = None  # a practice's name; None with "practice": ask which
    minutes: float | None = None  # the length asked for, as said
    text: str | None = None  # a ripple's or a check-in's own words, as said
    kind: str | None = None  # the review's kind: "ripple", "reflection", "checkin", or None for all
    heard: str = field(default="", compare=False)  # everything said after the wake name, as said


@dataclass(frozen=True)
class _Token:
    word: str  # normalised
    start: int  # where it stands in the text as said
    end: int


@dataclass(frozen=True)
class Grammar:
    """The phrases of companion/data/intents.toml, normalised."""

    aliases: dict[str, Phrase]
    words: dict[str, frozenset[str]]
    phrases: dict[str, tuple[Phrase, ...]]
    practice_names: dict[str, tuple[Phrase, ...]]
    practice_needs: dict[str, tuple[Phrase, ...]]
    review_kinds: dict[str, tuple[Phrase, ...]]
    numbers: dict[str, float]
    units: dict[str, float]
    replies: dict[str, str]
    body_vocabulary: dict[str, list[str]] = field(default_factory=dict)


def _words(text: str, aliases: Mapping[str, Phrase]) -> list[str]:
    return [part for w in scoring_words(text) for part in aliases.get(w, (w,))]


@lru_cache(maxsize=1)
def load_grammar() -> Grammar:
    """The packaged phrases, normalised as requests are."""
    data = tomllib.loads(resources.files("companion").joinpath("data", "intents.toml").read_text(encoding="utf-8"))
    aliases = {key: tuple(scoring_words(value)) for key, value in data["aliases"].items()}

    def phrases(items: Iterable[str]) -> tuple[Phrase, ...]:
        found = {tuple(_words(p, aliases)) for p in items}
        return tuple(sorted((p for p in found if p), key=lambda p: (-len(p), p)))  # longest first

    words = {key: frozenset(w for item in value for w in _words(item, aliases)) for key, value in data["words"].items()
             if key in ("wake", "hesitations", "fillers", "linking", "carriers", "practice_words", "negations", "breaks", "dangling", "unfinished")}
    table = {key: phrases(data["words"][key]) for key in ("openers", "refusals")}
    table["words.closings"] = phrases(data["words"]["closings"])
    table |= {f"{section}.{key}": phrases(value) for section in ("stop", "cancel", "ripple", "checkin", "review", "reflect", "session")
              for key, value in data[section].items() if isinstance(value, list)}
    table["practice.general"] = phrases(data["practice"]["general"]["phrases"])
    words["ripple.request"] = frozenset(w for key in ("ripple.leads", "ripple.placeholders") for p in table[key] for w in p) | (
        words["dangling"] | words["unfinished"] | words["hesitations"])  # a ripple asked for, with nothing of it yet
    return Grammar(
        aliases, words, table,
        {name: phrases([*items, name.replace("-", " ")]) for name, items in data["practice"]["names"].items()},
        {name: phrases(items) for name, items in data["practice"]["needs"].items()},
        {kind: phrases(items) for kind, items in data["review"]["kinds"].items()},
        {key: float(value) for key, value in data["minutes"]["numbers"].items()},
        {key: float(value) for key, value in data["minutes"]["units"].items()},
        dict(data["replies"]),
        load_body_vocabulary(),
    )


def _tokens(text: str, grammar: Grammar) -> tuple[str, list[_Token]]:
    """The text as said (Unicode-normalised) and its words, each with where it stands."""
    shown = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    tokens = []
    for m in _WORD.finditer(shown):
        words = [m.group()] if "." in m.group() else _words(m.group(), grammar.aliases)
        tokens += [_Token(w, m.start(), m.end()) for w in words]
    return shown, tokens


def _starts_with(words: list[str], at: int, phrases: Iterable[Phrase]) -> Phrase | None:
    """The first (longest) phrase that `words` has at position `at`."""
    for phrase in phrases:
        if tuple(words[at : at + len(phrase)]) == phrase:
            return phrase
    return None


def _name_forms(name: Phrase) -> set[Phrase]:
    """The wake name as it may be heard: as it is, and with a plural "s" ("Companions")."""
    return {name, (*name[:-1], name[-1] + "s")} if name else set()


def _name_length_at(tokens: list[_Token], i: int, names: set[Phrase]) -> int:
    """How many tokens the wake name takes from position `i` (0: it is not there)."""
    return next((len(n) for n in names if tuple(t.word for t in tokens[i : i + len(n)]) == n), 0)


def _without_name(tokens: list[_Token], name: Phrase, grammar: Grammar) -> list[_Token]:
    """The tokens without the wake name (and "hey" and hesitations before it) at either end."""
    fillers = grammar.words["wake"] | grammar.words["fillers"]
    names = _name_forms(name)

    def name_at(i: int) -> int:
        return _name_length_at(tokens, i, names)

    changed = True
    while changed and tokens:
        changed = False
        i = 0
        while i < len(tokens) and tokens[i].word in fillers:
            i += 1
        if i < len(tokens) and (n := name_at(i)):
            tokens, changed = tokens[i + n :], True
        for n in sorted((len(n) for n in names), reverse=True):
            if len(tokens) >= n and name_at(len(tokens) - n):
                tokens, changed = tokens[: len(tokens) - n], True
                break
    return tokens


class _Heard:
    """One request's words as matched (fillers left out), with the text and tokens they stand for."""

    def __init__(self, shown: str, tokens: list[_Token], grammar: Grammar) -> None:
        self.shown, self.tokens, self.grammar = shown, tokens, grammar
        self.kept = [i for i, t in enumerate(tokens) if t.word not in grammar.words["fillers"]]
        self.words = [tokens[i].word for i in self.kept]
        self.core = self._after_openers()
        self.clause = self._clauses()

    def _after_openers(self) -> int:
        at = 0
        while at < len(self.words) and (opener := _starts_with(self.words, at, self.grammar.phrases["openers"])):
            at += len(opener)
        return at

    def _clauses(self) -> list[int]:
        """The clause number of each matched word: a new clause after punctuation or a break word."""
        numbers, clause = [], 0
        for n, i in enumerate(self.kept):
            if n:
                before = self.tokens[self.kept[n - 1]]
                gap = self.shown[before.end : self.tokens[i].start]
                skipped = {t.word for t in self.tokens[self.kept[n - 1] + 1 : i]}
                if _CLAUSE_END.search(gap) or skipped & self.grammar.words["breaks"] or self.words[n] in self.grammar.words["breaks"]:
                    clause += 1
            numbers.append(clause)
        return numbers

    def find(self, phrases: Iterable[Phrase]) -> list[tuple[int, Phrase]]:
        """Every (position, phrase) found, longest phrase first at each position."""
        phrases = list(phrases)
        return [(at, p) for at in range(len(self.words)) if (p := _starts_with(self.words, at, phrases))]

    def negated(self, at: int) -> bool:
        """A negation just before position `at`, or a refusal earlier in its clause."""
        return bool(set(self.words[max(0, at - 2) : at]) & self.grammar.words["negations"]) or self.refused(at)

    def refused(self, at: int) -> bool:
        """A refusal ("not ready", "don't want") earlier in the clause of position `at`."""
        for start, refusal in self.find(self.grammar.phrases["refusals"]):
            end = start + len(refusal)
            if end <= at and self.clause[end - 1] == self.clause[at]:
                return True
        return False

    def text_after(self, position: int) -> str | None:
        """What was said after the matched word at `position`, exactly as said, or None if nothing."""
        last = self.tokens[self.kept[position - 1]].end if position else 0
        rest = [t for t in self.tokens if t.start >= last]
        fillers = self.grammar.words["hesitations"]
        while rest and rest[0].word in fillers:
            rest = rest[1:]
        while rest and rest[-1].word in fillers:
            rest = rest[:-1]
        text = self.shown[rest[0].start : rest[-1].end].strip(_EDGE_PUNCTUATION) if rest else ""
        return text or None

    def whole(self, phrases: tuple[Phrase, ...]) -> bool:
        """Whether the request is only one of `phrases` (a closing "thanks", a repeat ("stop, stop"), the
        openers, and a "no" or "sorry" around it aside)."""
        words = tuple(self.words)
        closing = next((c for c in self.grammar.phrases["words.closings"] if len(c) < len(words) and words[-len(c) :] == c), ())
        words = words[: len(words) - len(closing)]  # "enough for now, thanks"
        deduplicated = tuple(w for n, w in enumerate(words) if not n or w != words[n - 1])
        candidates = {words, deduplicated, tuple(self.words[self.core :])}
        breaks, first, last = self.grammar.words["breaks"], 0, len(words)
        while first < last and words[first] in breaks:
            first += 1  # "no, stop", "sorry, I wasn't talking to you"
        while last > first and (words[last - 1] in breaks or words[last - 1] in self.grammar.words["dangling"]):
            last -= 1  # "never mind, sorry", "never mind. and"
        candidates.add(words[first:last])
        return any(c in phrases for c in candidates if c)


def _practice(heard: _Heard, minutes_at: set[int], own: Mapping[str, tuple[Phrase, ...]]) -> tuple[bool, str | None, bool]:
    """(a practice is asked for, which one or None, a practice was turned down): names before needs
    before practice in general; a one-word name counts only when it is nearly the whole request
    ("box please", "help me rest")."""
    g = heard.grammar
    ignorable = g.words["carriers"] | g.words["practice_words"] | g.words["negations"]
    tables = (own, g.practice_names, g.practice_needs, {"": g.phrases["practice.general"]})
    turned_down = {n for table in tables for phrases in table.values() for at, phrase in heard.find(phrases)
                   if len(phrase) > 1 and heard.negated(at) for n in range(at, at + len(phrase))}

    def alone(at: int, length: int) -> bool:  # "not box breathing, resonance" is resonance alone
        return all(w in ignorable for n, w in enumerate(heard.words)
                   if n not in minutes_at and n not in turned_down and not at <= n < at + length)

    declined = False
    for table in tables:
        for name, phrases in table.items():
            for at, phrase in heard.find(phrases):
                if len(phrase) == 1 and not alone(at, 1):
                    declined |= heard.refused(at)  # "I'm not in the mood for breathing"
                    continue
                if heard.negated(at):
                    declined = True
                    continue
                return True, name or None, declined
    rest = [w for n, w in enumerate(heard.words) if n not in minutes_at]
    named = [n for n, w in enumerate(heard.words) if w in g.words["practice_words"]]
    if rest and all(w in ignorable for w in rest) and named:
        if set(rest) & g.words["negations"] or heard.find(g.phrases["refusals"]):
            return False, None, True  # "I don't need a practice right now"
        return True, None, declined  # "a breathing exercise", "let's do a practice"
    return False, None, declined or any(heard.refused(n) for n in named)  # "no more practices today"


def understand(text: str, name: str = "companion", practices: Mapping[str, Iterable[str]] | None = None,
               grammar: Grammar | None = None) -> Request:
    """What `text` asks for. `name` is the wake name, left out where it begins or ends the request;
    `practices` adds a person's own practices (name -> the phrases that choose it)."""
    g = grammar or load_grammar()
    shown, tokens = _tokens(text, g)
    tokens = _without_name(tokens, tuple(_words(name, g.aliases)), g)
    heard = _Heard(shown, tokens, g)
    request = _request(heard, practices)
    return replace(request, heard=heard.text_after(0) or "")


def called(text: str, name: str = "companion", grammar: Grammar | None = None) -> str | None:
    """What follows the wake name when `text` begins with it ("hey", "okay" and hesitations may come
    first; "Companions" counts), as said: "" for the name alone; None when `text` does not begin with
    the name (the name inside a sentence never calls Companion)."""
    g = grammar or load_grammar()
    shown, tokens = _tokens(text, g)
    fillers = g.words["wake"] | g.words["fillers"]
    i = 0
    while i < len(tokens) and tokens[i].word in fillers:
        i += 1
    n = _name_length_at(tokens, i, _name_forms(tuple(_words(name, g.aliases))))
    if not n:
        return None
    rest = tokens[i + n:]
    return shown[rest[0].start:].strip().strip(_EDGE_PUNCTUATION) if rest else ""


def _request(heard: _Heard, practices: Mapping[str, Iterable[str]] | None) -> Request:
    g = heard.grammar
    if not heard.words:
        return Request()
    for intent in ("stop", "cancel"):
        if heard.whole(g.phrases[f"{intent}.whole"]):
            return Request(intent)
    last_clause = [w for w, c in zip(heard.words, heard.clause) if c == heard.clause[-1]]
    if heard.clause[-1] and tuple(last_clause) in g.phrases["cancel.trailing"]:
        return Request("cancel")  # "help me ground... actually, never mind"

    start = _at_start(heard)
    if start:
        return start
    declined = False
    for intent in ("reflect", "review", "session"):  # "I finished my session and want to go over it"
        for at, _ in heard.find(g.phrases[f"{intent}.phrases"]):
            if heard.negated(at):
                declined = True
                continue
            return Request(intent, kind=_review_kind(heard) if intent == "review" else None)
    minutes, minutes_at = spoken_minutes(heard.words, g.numbers, g.units)
    own = {n: tuple(spoken for p in [*phrases, n.replace("-", " ")] if (spoken := tuple(_words(p, g.aliases))))
           for n, phrases in (practices or {}).items()}  # a name of fillers alone would match everything
    asked, practice, turned_down = _practice(heard, minutes_at, own)
    if asked:
        return Request("practice", practice=practice, minutes=minutes)
    if declined or turned_down:
        return Request("cancel")  # "I'm not ready to reflect": nothing starts
    return _feeling(heard) or Request()


def _at_start(heard: _Heard) -> Request | None:
    """A request named by the longest phrase at its start: a ripple (with its words), a check-in, the
    review, a reflection or a session."""
    g, at = heard.grammar, heard.core
    sections = {"ripple": ("ripple.leads", "ripple.said_whole"), "checkin": ("checkin.leads",),
                "review": ("review.phrases",), "reflect": ("reflect.phrases",), "session": ("session.phrases",)}
    best: tuple[int, str, str] | None = None
    for intent, keys in sections.items():
        for key in keys:
            phrase = _starts_with(heard.words, at, g.phrases[key])
            if phrase and (best is None or len(phrase) > best[0]):
                best = (len(phrase), intent, key)
    if best is None:
        return None
    length, intent, key = best
    if intent in ("review", "reflect", "session"):
        return Request(intent, kind=_review_kind(heard) if intent == "review" else None)
    if key == "ripple.said_whole":
        return Request("ripple", text=heard.text_after(heard.core))
    after = at + length
    if intent == "ripple":
        if _starts_with(heard.words, after, (("that",),)) and after + 1 < len(heard.words):
            after += 1
        rest = _without_trailing_off(heard.words[after:], g)
        for held in g.phrases["ripple.placeholders"]:  # "I noticed something. Time": one stray word after it,
            n = len(held)                               # as a short decode adds, is not the ripple
            if rest[:n] == held and len(rest) == n + 1 and heard.clause[after + n] != heard.clause[after + n - 1]:
                rest = held
        asked_only = all(w in g.words["ripple.request"] for w in rest)  # "", "something", "something, I noticed something"
        return Request("ripple", text=None if asked_only else heard.text_after(after))
    feeling = _starts_with(heard.words, after, g.phrases["checkin.feeling"]) or _starts_with(
        heard.words, after, g.phrases["checkin.being"]) or ()  # "check in: I'm tired"
    after += len(feeling)
    return Request("checkin", text=heard.text_after(after) if _without_trailing_off(heard.words[after:], g) else None)


def _without_trailing_off(words: list[str], g: Grammar) -> tuple[str, ...]:
    """`words` without what they trail off on: after "I noticed something" or "check in", "and" or
    "and I'll" (cut off, or a short decode's guess) means the person's own words are still to come."""
    rest = tuple(words)
    while rest and (rest[-1] in g.words["dangling"] or rest[-1] in g.words["unfinished"]):
        rest = rest[:-1]
    return rest


def _feeling(heard: _Heard) -> Request | None:
    """A check-in said as how the body feels: "I feel tired and a bit open", "I'm tense", "heavy"."""
    g, at = heard.grammar, heard.core
    lead = _starts_with(heard.words, at, g.phrases["checkin.feeling"])
    if lead:
        return Request("checkin", text=heard.text_after(at + len(lead)))
    part = _body_part(heard)
    if part:  # "my shoulders are tight": kept whole
        states = map_body_states(heard.text_after(part) or "", g.body_vocabulary).states
        return Request("checkin", text=heard.text_after(at)) if states else None
    negated = _starts_with(heard.words, at, g.phrases["checkin.said_whole"])
    if negated:  # "I don't feel tense": kept whole, the negation with it
        states = map_body_states(heard.text_after(at + len(negated)) or "", g.body_vocabulary).states
        return Request("checkin", text=heard.text_after(at)) if states else None
    lead = _starts_with(heard.words, at, g.phrases["checkin.being"]) or ()
    text = heard.text_after(at + len(lead))
    said = map_body_states(text or "", g.body_vocabulary)
    if said.states and (lead or not said.unknown):
        return Request("checkin", text=text)
    return None


def _body_part(heard: _Heard) -> int | None:
    """Where the words after "my shoulders are", "my chest feels" begin, for a request that begins so."""
    at = heard.core
    if heard.words[at : at + 1] != ["my"]:
        return None
    for n in range(at + 2, min(at + 4, len(heard.words))):
        if heard.words[n] in heard.grammar.words["linking"]:
            return n + 1
    return None


def _review_kind(heard: _Heard) -> str | None:
    for kind, phrases in heard.grammar.review_kinds.items():
        if heard.find(phrases):
            return kind
    return None


def kind_reply(request: Request, grammar: Grammar | None = None, crisis_note: bool | None = None) -> str:
    """What Companion says back before (or instead of) a flow: the kind answer to a request it did not
    understand, a short word after "never mind", and "" when the flow speaks for itself. Words of
    acute crisis are met with the crisis note first, whatever was asked (a ripple's or a check-in's
    own flow gives it after saving); COMPANION_CRISIS_NOTE=0 or `crisis_note=False` turns it off."""
    replies = (grammar or load_grammar()).replies
    if request.intent not in ("ripple", "checkin") and crisis_note_enabled(crisis_note) and crisis_words_in(request.heard):
        return replies["crisis"]
    return replies.get(request.intent, "")
