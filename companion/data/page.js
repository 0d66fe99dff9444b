"use strict";
(() => {
  // Words lit while a recording plays; a word clicked (or chosen with the keys) plays from there.
  const entryOf = (node) => node.closest(".entry");
  const wordsOf = (entry) => [...entry.querySelectorAll(".w")];
  const span = (w) => [parseFloat(w.dataset.start), parseFloat(w.dataset.end)];

  function spoken(words, t) {
    for (const w of words) {
      const [start, end] = span(w);
      if (start <= t && t < end) return w;
    }
    return null;
  }

  function follow(audio) {
    const entry = entryOf(audio);
    const words = wordsOf(entry);
    let lit = null, frame = 0;
    const light = () => {
      const w = spoken(words, audio.currentTime);
      if (w !== lit) {
        if (lit) lit.classList.remove("lit");
        if (w) w.classList.add("lit");
        lit = w;
      }
    };
    const loop = () => { light(); frame = audio.paused ? 0 : requestAnimationFrame(loop); };
    audio.addEventListener("play", () => {
      for (const other of document.querySelectorAll("audio")) if (other !== audio) other.pause();
      if (!frame) frame = requestAnimationFrame(loop);
    });
    audio.addEventListener("pause", light);
    audio.addEventListener("seeked", light);
    audio.addEventListener("timeupdate", light);
    audio.addEventListener("ended", () => { if (lit) lit.classList.remove("lit"); lit = null; });
  }

  function playFrom(word) {
    const audio = entryOf(word).querySelector("audio");
    if (!audio) return;
    audio.currentTime = span(word)[0];
    audio.play().catch(() => {});
  }

  function wordKeys(said) {
    const words = [...said.querySelectorAll(".w")];
    words.forEach((w, i) => { w.tabIndex = i === 0 ? 0 : -1; });
    if (words.length) {
      said.setAttribute("aria-description", "Arrow keys move between words; Enter plays from the word.");
    }
    said.addEventListener("keydown", (event) => {
      const at = words.indexOf(event.target);
      if (at < 0) return;
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: -at, End: words.length - 1 - at }[event.key];
      if (step !== undefined) {
        event.preventDefault();
        const next = words[Math.max(0, Math.min(words.length - 1, at + step))];
        words[at].tabIndex = -1; next.tabIndex = 0; next.focus();
      } else if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        playFrom(event.target);
      }
    });
    said.addEventListener("click", (event) => {
      if (event.target.classList.contains("w")) playFrom(event.target);
    });
  }

  // Search as you type, with the stemming idea of `companion search`: "breathe" finds "breathing".
  const SUFFIXES = ["ingly", "edly", "ings", "ing", "ness", "ment", "ful", "ies", "ied", "ly", "ed", "es", "s"];
  function stem(word) {
    let w = word.toLowerCase().replace(/[’']/g, "'").replace(/'s$/, "").replace(/[^a-z0-9\u00c0-\u024f]/g, "");
    for (const suffix of SUFFIXES) {
      if (w.length - suffix.length >= 3 && w.endsWith(suffix)) {
        w = w.slice(0, -suffix.length) + (suffix === "ies" || suffix === "ied" ? "y" : "");
        break;
      }
    }
    if (w.length > 3 && w.endsWith("e")) w = w.slice(0, -1);
    if (w.length > 3 && /([b-df-hj-np-tv-z])\1$/.test(w) && !/(ll|ss|zz)$/.test(w)) w = w.slice(0, -1);
    return w;
  }
  const stems = (text) => text.toLowerCase().split(/[^\p{L}\p{N}'’]+/u).map(stem).filter(Boolean);

  const entries = [...document.querySelectorAll(".entry")];
  const index = new Map(entries.map((entry) => [entry, stems(entry.textContent)]));
  const text = document.getElementById("find-text");
  const kind = document.getElementById("find-kind");
  const state = document.getElementById("find-state");
  const count = document.getElementById("find-count");

  function filter() {
    const wanted = stems(text.value);
    let shown = 0;
    for (const entry of entries) {
      const own = index.get(entry);
      const states = entry.dataset.states ? entry.dataset.states.split("|") : [];
      const keep = (!kind.value || entry.dataset.kind === kind.value)
        && (!state.value || states.includes(state.value))
        && wanted.every((term) => own.some((word) => word.startsWith(term)));
      entry.hidden = !keep;
      if (keep) shown += 1;
    }
    for (const group of document.querySelectorAll(".sitting, .week, .period-group")) {
      group.hidden = !group.querySelector(".entry:not([hidden])");
    }
    const filtering = wanted.length || kind.value || state.value;
    count.textContent = filtering ? (shown ? `${shown} of ${entries.length} entries shown.`
      : "Nothing found for that. Other words, or fewer, may find it.") : "";
  }

  if (text) {
    text.form.addEventListener("submit", (event) => event.preventDefault());
    for (const control of [text, kind, state]) control.addEventListener("input", filter);
  }
  document.querySelectorAll("audio").forEach(follow);
  document.querySelectorAll(".said.timed").forEach(wordKeys);

  // Print the corrected and the first-heard words alike.
  const opened = [];
  window.addEventListener("beforeprint", () => {
    document.querySelectorAll("details:not([open])").forEach((d) => { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", () => { opened.splice(0).forEach((d) => { d.open = false; }); });
})();
