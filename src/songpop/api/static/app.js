// songpop what-if page: builds the form from GET /schema/features and asks POST /predict.
"use strict";

(function () {
  const DEBOUNCE_MS = 250;
  const TOP_REASONS = 5; // the strongest pushes shown
  const SIMILAR = 5; // the nearest training songs shown
  // Classes shown from least to most popular when the model's classes are known ones.
  const CLASS_ORDER = ["low", "medium", "high", "not_hit", "hit"];
  const KEYS = ["C", "C♯/D♭", "D", "D♯/E♭", "E", "F", "F♯/G♭", "G", "G♯/A♭", "A", "A♯/B♭", "B"];

  const form = document.getElementById("song-form");
  const statusEl = document.getElementById("status");
  const errorsEl = document.getElementById("errors");
  const resultEl = document.getElementById("result");
  const modelSelect = document.getElementById("model");
  let features = [];
  let models = [];
  let timer = null;
  let inFlight = null;
  let requestSeq = 0;
  // The catalogue song the form holds, untouched since it was picked (or named by an upload's
  // tags): asked by title, so the answer says whether it is one of the model's own songs.
  let picked = null;

  // Sliders narrower than the valid range: duration in whole seconds from 0:30 to 10:00.
  const SLIDER_SPANS = {
    duration_ms: { min: 30000, max: 600000, step: 1000, words: "from 0:30 to 10:00 (minutes:seconds)" },
  };

  // How a value reads next to its slider.
  function describe(spec, value) {
    const v = Number(value);
    switch (spec.name) {
      case "key":
        return v < 0 ? "no key" : KEYS[v];
      case "mode":
        return v === 1 ? "major" : "minor";
      case "explicit":
        return v === 1 ? "yes" : "no";
      case "duration_ms": {
        const s = Math.round(v / 1000);
        return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} min`;
      }
      default:
        return spec.unit ? spec.unit : "";
    }
  }

  function decimals(step) {
    const text = String(step);
    return text.includes(".") ? text.split(".")[1].length : 0;
  }

  // Left empty unless the user sets it: the release year (the server then takes this year and
  // says so, rather than a typical song's year the musician never chose).
  const OPTIONAL = new Set(["year"]);
  let newSong = false; // the server leads with the answer for a new song (GET /schema/features)

  function unset(box, shown) {
    box.value = "";
    box.placeholder = "this year";
    shown.textContent = "not set: this year";
  }

  function buildField(spec) {
    const row = document.createElement("div");
    row.className = "field";
    row.dataset.feature = spec.name;
    const id = `f-${spec.name}`;
    const hintId = `${id}-hint`;

    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = spec.label;

    const slider = document.createElement("input");
    slider.type = "range";
    slider.id = id;
    slider.name = spec.name;
    slider.min = spec.min;
    slider.max = spec.max;
    slider.step = spec.step;
    slider.value = spec.default;
    slider.setAttribute("aria-describedby", hintId);
    // Some sliders span where songs are, not all the valid values (a 3-minute song sat at the
    // far left of 1 ms to 60 min); the exact box beside it still takes any valid value.
    const span = SLIDER_SPANS[spec.name];
    if (span) Object.assign(slider, span);

    const box = document.createElement("input");
    box.type = "number";
    box.className = "exact";
    box.min = spec.min;
    box.max = spec.max;
    box.step = "any"; // any valid value may be typed; the API checks the range
    box.value = Number(spec.default).toFixed(decimals(spec.step));
    box.setAttribute("aria-label", `${spec.label}, exact value`);

    const shown = document.createElement("span");
    shown.className = "shown";
    shown.textContent = describe(spec, spec.default);
    if (OPTIONAL.has(spec.name) && newSong) unset(box, shown);

    const hint = document.createElement("small");
    hint.id = hintId;
    hint.className = "hint";
    // key's "unit" is a sentence already in its description; "1900 to 2100 year" reads badly
    const unit = spec.unit && !["key", "year", "decade"].includes(spec.name) ? ` ${spec.unit}` : "";
    hint.textContent = span
      ? `${spec.description}. The slider runs ${span.words}; the box takes any value from ${spec.min} to ${spec.max}${unit}.`
      : `${spec.description}. Range ${spec.min} to ${spec.max}${unit}.`;

    const source = document.createElement("span");
    source.className = "source";
    source.hidden = true;
    label.append(" ", source);

    slider.addEventListener("input", () => {
      clearSource(row);
      box.value = Number(slider.value).toFixed(decimals(spec.step));
      shown.textContent = describe(spec, slider.value);
      schedule();
    });
    box.addEventListener("input", () => {
      clearSource(row);
      if (box.value === "" && OPTIONAL.has(spec.name) && newSong) {
        box.removeAttribute("aria-invalid");
        unset(box, shown);
      } else if (box.value === "" || !box.checkValidity()) {
        box.setAttribute("aria-invalid", "true");
      } else {
        box.removeAttribute("aria-invalid");
        slider.value = box.value;
        shown.textContent = describe(spec, box.value);
      }
      schedule();
    });

    const controls = document.createElement("div");
    controls.className = "controls";
    controls.append(slider, box, shown);
    row.append(label, controls, hint);
    return row;
  }

  // A value the user moved is theirs now: no longer measured or estimated from the file.
  function clearSource(row) {
    const badge = row.querySelector(".source");
    forgetSong();
    delete row.dataset.exact;
    row.querySelector("input.exact").removeAttribute("title");
    if (!badge.hidden) {
      badge.hidden = true;
      delete row.dataset.source;
      document.getElementById("range-box").hidden = true;
    }
  }

  // One song at a time: what was said about the last searched or uploaded song goes once the
  // user moves a value, searches or uploads another.
  function forgetSong() {
    picked = null;
    document.getElementById("song-history").textContent = "";
    document.getElementById("audio-status").textContent = "";
    showKnown(null, null);
  }

  // The value shown in a box: the exact value when it is short (a catalogue's 0.00146), else
  // six significant digits; the exact value itself is what the page sends (row.dataset.exact).
  function shownExact(spec, v) {
    if (spec.kind === "int") return String(Math.round(v));
    return String(Number(v.toPrecision(6)));
  }

  // A badge's short name; the full source (a file name) goes in its tooltip.
  function sourceWord(source) {
    if (source === "tags") return "tags";
    if (String(source).startsWith("catalogue")) return "catalogue";
    return source;
  }

  function setField(name, value, source) {
    const row = form.querySelector(`[data-feature="${name}"]`);
    const spec = features.find((f) => f.name === name);
    if (!row || !spec || value === null || value === undefined) return;
    const v = Math.min(spec.max, Math.max(spec.min, Number(value)));
    row.querySelector('input[type="range"]').value = v;
    const box = row.querySelector("input.exact");
    // the full-precision value goes behind the slider: the page asks about exactly this
    // (a value rounded to the slider's step gave other probabilities than the CLI's)
    row.dataset.exact = String(v);
    box.value = shownExact(spec, v);
    box.title = `exact value used: ${v}`;
    box.removeAttribute("aria-invalid");
    row.querySelector(".shown").textContent = describe(spec, v);
    const badge = row.querySelector(".source");
    badge.textContent = sourceWord(source);
    badge.title = String(source).startsWith("catalogue")
      ? `the real value, from the local catalogue (${source})`
      : String(source);
    badge.dataset.source = sourceWord(source);
    badge.hidden = false;
    row.dataset.source = source;
  }

  // Suggestions from the local catalogue as the user types; picking one fills the sliders with
  // the song's real features and says what really happened to it.
  let suggestions = new Map();
  let searchTimer = null;

  function songLabel(c) {
    const when = c.year ? ` (${c.year})` : c.features.decade ? ` (${c.features.decade}s)` : "";
    return `${c.title} — ${c.artist}${when}`;
  }

  async function suggest(text) {
    if (text.trim().length < 2) return;
    const url = `/lookup?prefix=true&limit=8&q=${encodeURIComponent(text)}`;
    const response = await fetch(url);
    if (!response.ok) return;
    const found = await response.json();
    const list = document.getElementById("song-suggestions");
    list.replaceChildren();
    if (!found.length) {
      forgetSong(); // the last song's sentence goes: this search found none
      document.getElementById("song-history").textContent =
        `No song called “${text.trim()}” in the local catalogue (its tables end in 2020): try another spelling, drop in the audio file, or set the sliders.`;
    }
    suggestions = new Map();
    for (const c of found) {
      const option = document.createElement("option");
      option.value = songLabel(c);
      suggestions.set(option.value, c);
      list.append(option);
    }
  }

  function history(c) {
    if (c.charted === true) {
      return `It reached #${c.best_position} on the Hot 100, on ${c.weeks_on_chart} weekly charts.`;
    }
    if (c.charted === false) return "It never entered the Hot 100.";
    return "Its chart history is not known here.";
  }

  function pickSong(c) {
    forgetSong();
    document.getElementById("artist").value = c.artist || "";
    for (const spec of features) {
      if (c.features[spec.name] !== undefined) setField(spec.name, c.features[spec.name], "catalogue");
    }
    const pop = c.popularity !== null && c.popularity !== undefined ? ` Spotify popularity ${c.popularity}.` : "";
    document.getElementById("song-history").textContent =
      `${c.title} by ${c.artist}: real features from ${c.source_file}. ${history(c)}${pop}`;
    document.getElementById("range-box").hidden = true;
    picked = { title: c.title, artist: c.artist };
    predictNow();
  }

  // The sentence beside the prediction when the song is one of the model's own: which (training
  // or test song), its real level and its chart history. Null clears it.
  function showKnown(known, song) {
    const box = document.getElementById("known");
    if (!known) {
      box.textContent = "";
      box.hidden = true;
      return;
    }
    const name = song ? `${song.title} by ${song.artist} is ` : "This song is ";
    box.textContent = `Known song: ${name}${known.line}. ${song ? history(song) : ""}`.trim();
    box.hidden = false;
  }

  async function uploadAudio(file) {
    const audioStatus = document.getElementById("audio-status");
    forgetSong();
    audioStatus.textContent = `Analysing ${file.name}…`;
    const body = new FormData();
    body.append("file", file, file.name);
    if (inFlight) inFlight.abort();
    const seq = ++requestSeq;
    try {
      // without a model id the server leads with the answer for a new song
      const model = currentModel() === models[0] ? "" : `&model=${encodeURIComponent(currentModel().id)}`;
      const response = await fetch(`/predict?explain=true&similar=${SIMILAR}${model}`, {
        method: "POST",
        body,
      });
      const payload = await response.json();
      if (seq !== requestSeq) return;
      if (!response.ok) {
        audioStatus.textContent = `Could not use ${file.name}: ${payload.detail}`;
        return;
      }
      for (const [name, value] of Object.entries(payload.values)) {
        setField(name, value, payload.sources[name]);
      }
      const known = payload.known_song;
      if (known) picked = { title: known.title, artist: known.artist };
      const estimated = Object.values(payload.sources).filter(
        (s) => s === "estimated" || s === "default",
      );
      audioStatus.textContent = known
        ? `${file.name}: its tags name ${known.title} by ${known.artist}, found in the local catalogue: its real values are used, not the analysis.`
        : `${file.name}: ${estimated.length} of ${Object.keys(payload.sources).length} values estimated or assumed (marked); move any slider to try another value.`;
      showPrediction(payload, {
        ...payload,
        explanation: payload.explanation ? { contributions: payload.explanation } : null,
      });
      showRange(payload);
      // a song the tags found is asked by title too: is it one of the model's own?
      if (picked) predictNow();
    } catch (err) {
      audioStatus.textContent = `The server did not answer: ${err.message}`;
    }
  }

  function showRange(payload) {
    const box = document.getElementById("range-box");
    const list = document.getElementById("range");
    list.replaceChildren();
    if (!payload.range) {
      box.hidden = true;
      return;
    }
    const rank = (c) => (CLASS_ORDER.includes(c) ? CLASS_ORDER.indexOf(c) : CLASS_ORDER.length);
    for (const cls of [...payload.classes].sort((a, b) => rank(a) - rank(b))) {
      const [lo, hi] = payload.range[cls];
      const item = document.createElement("li");
      item.dataset.class = cls;
      item.textContent = `${words(cls)}: ${percent(lo)} to ${percent(hi)}`;
      list.append(item);
    }
    document.getElementById("range-help").textContent =
      `Each level's probability (10th to 90th percentile) when the estimated values are replaced by those of the ${payload.scenarios} reference songs closest in what was measured.`;
    box.hidden = false;
  }

  function currentModel() {
    return models.find((m) => m.id === modelSelect.value) || models[0];
  }

  // The features the chosen model reads: every audio feature plus the context it uses.
  function activeFeatures() {
    const model = currentModel();
    return features.filter((f) => f.group === "audio" || model.feature_names.includes(f.name));
  }

  function showContextFields() {
    const model = currentModel();
    let anyContext = false;
    for (const spec of features) {
      if (spec.group !== "context") continue;
      const used = model.feature_names.includes(spec.name);
      form.querySelector(`[data-feature="${spec.name}"]`).hidden = !used;
      anyContext = anyContext || used;
    }
    document.getElementById("context-fields").hidden = !anyContext;
  }

  function readSong() {
    const song = {};
    const artist = document.getElementById("artist").value.trim();
    if (artist) song.artist = artist;
    for (const spec of activeFeatures()) {
      const box = form.querySelector(`[data-feature="${spec.name}"] input.exact`);
      const unsetYear = box.value === "" && OPTIONAL.has(spec.name) && newSong;
      // not sent to the new-song answer (the server takes this year and says so); a named
      // model that reads it gets the slider's typical value
      if (unsetYear && newSong && currentModel() === models[0]) continue;
      const row = form.querySelector(`[data-feature="${spec.name}"]`);
      const slider = row.querySelector('input[type="range"]');
      // a value a lookup or an analysis filled is sent in full, not as the box shows it
      const typed = box.value === "" ? NaN : Number(box.value);
      const raw = unsetYear ? Number(slider.value) : row.dataset.exact !== undefined ? Number(row.dataset.exact) : typed;
      song[spec.name] = spec.kind === "int" ? Math.round(raw) : raw;
    }
    return song;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(predictNow, DEBOUNCE_MS);
  }

  async function predictNow() {
    clearTimeout(timer);
    const song = readSong();
    const bad = Object.entries(song).filter(([k, v]) => k !== "artist" && !Number.isFinite(v));
    if (bad.length) {
      showErrors(bad.map(([name]) => `${name}: enter a number in its range`));
      return;
    }
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    const seq = ++requestSeq;
    statusEl.textContent = "Predicting…";
    if (resultEl.hidden) statusEl.classList.remove("visually-hidden");
    // the default model without an id: the server then leads with the new-song answer
    const model = currentModel() === models[0] ? undefined : currentModel().id;
    // an untouched catalogue song is asked by title (as `songpop predict --title` does), so
    // the answer says whether it is one of the model's training or test songs
    const asked = picked
      ? { url: `/predict?explain=true&similar=${SIMILAR}${model ? `&model=${encodeURIComponent(model)}` : ""}`,
          body: { title: picked.title, artist: picked.artist || undefined } }
      : { url: "/predict?explain=true",
          body: { records: [song], explain: true, similar: SIMILAR, model } };
    try {
      const response = await fetch(asked.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(asked.body),
        signal: inFlight.signal,
      });
      const payload = await response.json();
      if (seq !== requestSeq) return; // a newer request is on its way
      if (!response.ok) {
        const detail = payload.detail;
        showErrors(Array.isArray(detail) ? detail.map((d) => d.msg) : [String(detail)]);
        statusEl.textContent = "The model could not score these values.";
        statusEl.classList.remove("visually-hidden");
        return;
      }
      const prediction = payload.predictions[0];
      showPrediction(payload, prediction);
      if (picked) showKnown(prediction.known, prediction.song);
    } catch (err) {
      if (err.name === "AbortError") return;
      showErrors([`The server did not answer: ${err.message}`]);
      statusEl.textContent = "No prediction.";
      statusEl.classList.remove("visually-hidden");
    }
  }

  function showErrors(messages) {
    errorsEl.replaceChildren();
    const list = document.createElement("ul");
    for (const msg of messages) {
      const item = document.createElement("li");
      item.textContent = msg;
      list.append(item);
    }
    errorsEl.append(list);
    errorsEl.hidden = false;
    resultEl.classList.add("stale"); // what is shown no longer matches the form
  }

  function percent(p) {
    return `${(100 * p).toFixed(1)}%`;
  }

  // One line of the explanation: an arrow for the direction and the sentence.
  function reason(c) {
    const item = document.createElement("li");
    item.className = `push-${c.direction}`;
    const arrow = document.createElement("span");
    arrow.className = "arrow";
    arrow.setAttribute("aria-hidden", "true");
    arrow.textContent = c.direction === "up" ? "▲" : "▼";
    const text = document.createElement("span");
    text.textContent = c.text;
    item.append(arrow, text);
    // a push that rests on a value songpop estimated from the audio says so
    const row = form.querySelector(`[data-feature="${c.feature}"]`);
    if (row && ["estimated", "default"].includes(row.dataset.source)) {
      const mark = document.createElement("span");
      mark.className = "source";
      mark.dataset.source = row.dataset.source;
      mark.textContent = row.dataset.source === "default" ? "assumed" : "estimated";
      item.append(" ", mark);
    }
    return item;
  }

  // A class in plain words ("high popularity", "a hit"), as the chosen model names it.
  function words(cls) {
    const about = currentModel().about || {};
    return (about.classes || {})[cls] || cls.replace("_", " ");
  }

  function showNewSong(answers) {
    const box = document.getElementById("new-song");
    const lines = document.getElementById("new-song-lines");
    lines.replaceChildren();
    const answer = answers && answers[0];
    box.hidden = !answer;
    if (!answer) return;
    document.getElementById("new-song-headline").textContent = answer.lines[0];
    for (const text of answer.lines.slice(1)) {
      const item = document.createElement("li");
      item.textContent = text;
      lines.append(item);
    }
  }

  function showPrediction(payload, prediction) {
    errorsEl.hidden = true;
    showNewSong(payload.new_song);
    resultEl.classList.remove("stale");
    const level = document.getElementById("level");
    level.textContent = prediction.words || words(prediction.level);
    level.dataset.level = prediction.level;
    const p = prediction.probabilities[prediction.level] ?? 0;
    document.getElementById("level-p").textContent = `(${percent(p)})`;
    document.getElementById("confidence").textContent = prediction.confidence
      ? `How sure: ${prediction.confidence}.`
      : "";
    showWarnings(prediction.warnings || []);

    const bars = document.getElementById("probabilities");
    bars.replaceChildren();
    const rank = (c) => (CLASS_ORDER.includes(c) ? CLASS_ORDER.indexOf(c) : CLASS_ORDER.length);
    const ordered = [...payload.classes].sort((a, b) => rank(a) - rank(b));
    for (const cls of ordered) {
      const p = prediction.probabilities[cls] ?? 0;
      const item = document.createElement("li");
      item.className = "bar-row";
      item.dataset.class = cls;
      if (cls === prediction.level) item.classList.add("chosen");
      const name = document.createElement("span");
      name.className = "bar-label";
      name.textContent = words(cls);
      const track = document.createElement("span");
      track.className = "bar-track";
      track.setAttribute("role", "meter");
      track.setAttribute("aria-label", `probability of ${words(cls)}`);
      track.setAttribute("aria-valuemin", "0");
      track.setAttribute("aria-valuemax", "100");
      track.setAttribute("aria-valuenow", (100 * p).toFixed(1));
      const fill = document.createElement("span");
      fill.className = "bar-fill";
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      track.append(fill);
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = percent(p);
      item.append(name, track, value);
      bars.append(item);
    }

    const why = document.getElementById("explanation");
    why.replaceChildren();
    const contributions = prediction.explanation ? prediction.explanation.contributions : [];
    for (const c of contributions.slice(0, TOP_REASONS)) {
      why.append(reason(c));
    }
    if (!why.children.length) {
      const item = document.createElement("li");
      item.textContent = "No explanation is available for this model.";
      why.append(item);
    }
    showSimilar(prediction.similar || []);
    // The chart is SVG markup made by songpop (numbers and escaped names only).
    document.getElementById("positions").innerHTML = prediction.positions_svg || "";
    showAbout();
    const model = currentModel();
    document.getElementById("model-title").textContent = model.title || model.id;
    document.getElementById("model-id").textContent = prediction.model_id;
    resultEl.hidden = false;
    statusEl.textContent = `Predicted: ${level.textContent}.`;
    statusEl.classList.add("visually-hidden");
  }

  function showWarnings(warnings) {
    const box = document.getElementById("warnings");
    const list = document.getElementById("warning-list");
    list.replaceChildren();
    for (const text of warnings) {
      const item = document.createElement("li");
      item.textContent = text;
      list.append(item);
    }
    box.hidden = warnings.length === 0;
  }

  function cell(text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    return td;
  }

  function showSimilar(songs) {
    const body = document.querySelector("#similar tbody");
    body.replaceChildren();
    for (const s of songs) {
      const row = document.createElement("tr");
      const when = s.year === null ? "–" : s.decade ? `${s.year}s` : String(s.year);
      const chart =
        s.peak !== null
          ? `peak #${s.peak}${s.weeks !== null ? `, ${s.weeks} wk` : ""}`
          : "never charted";
      const pop = s.popularity === null ? "–" : s.popularity.toFixed(0);
      row.append(cell(`${s.title} — ${s.artist}`), cell(when, true), cell(chart, true),
        cell(pop, true), cell(s.words));
      body.append(row);
    }
    if (!songs.length) {
      const row = document.createElement("tr");
      const td = cell("This model was saved without its training songs.");
      td.colSpan = 5;
      row.append(td);
      body.append(row);
    }
  }

  // What the levels mean and how often the model is right, from GET /models.
  function showAbout() {
    const about = currentModel().about || {};
    document.getElementById("model-accuracy").textContent = about.accuracy
      ? `This model was ${about.accuracy}.`
      : "This model's accuracy was not recorded.";
    const list = document.getElementById("level-meaning");
    list.replaceChildren();
    for (const line of about.levels || []) {
      const item = document.createElement("li");
      item.textContent = line;
      list.append(item);
    }
  }

  function resetForm() {
    for (const spec of features) {
      const row = form.querySelector(`[data-feature="${spec.name}"]`);
      clearSource(row);
      row.querySelector('input[type="range"]').value = spec.default;
      const box = row.querySelector("input.exact");
      box.value = Number(spec.default).toFixed(decimals(spec.step));
      box.removeAttribute("aria-invalid");
      row.querySelector(".shown").textContent = describe(spec, spec.default);
      if (OPTIONAL.has(spec.name) && newSong) unset(box, row.querySelector(".shown"));
    }
    predictNow();
  }

  async function start() {
    try {
      const [schemaResponse, modelsResponse] = await Promise.all([
        fetch("/schema/features"),
        fetch("/models"),
      ]);
      if (!schemaResponse.ok || !modelsResponse.ok) throw new Error("the API is not ready");
      const schema = await schemaResponse.json();
      features = schema.features;
      newSong = Boolean(schema.new_song);
      models = await modelsResponse.json();
    } catch (err) {
      statusEl.textContent = `Cannot load the form: ${err.message}`;
      return;
    }
    if (!models.length) {
      statusEl.textContent = "No model is loaded.";
      return;
    }
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.id;
      const name = m.title || m.id;
      option.textContent = m.default ? `${name} (default)` : name;
      option.selected = m.default;
      modelSelect.append(option);
    }
    document.getElementById("model-choice").hidden = models.length < 2;
    const audio = document.getElementById("audio-fields");
    const context = document.getElementById("context-fields");
    for (const spec of features) {
      (spec.group === "audio" ? audio : context).append(buildField(spec));
    }
    showContextFields();
    modelSelect.addEventListener("change", () => {
      showContextFields();
      predictNow();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      predictNow();
    });
    document.getElementById("reset-button").addEventListener("click", resetForm);
    document.getElementById("artist").addEventListener("input", () => {
      picked = null; // another artist: no longer the catalogue song
      showKnown(null, null);
      schedule();
    });
    const search = document.getElementById("song-search");
    search.addEventListener("input", () => {
      const picked = suggestions.get(search.value);
      if (picked) {
        pickSong(picked);
        return;
      }
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => suggest(search.value), 150);
    });
    const picker = document.getElementById("audio-file");
    picker.addEventListener("change", () => {
      if (picker.files.length) uploadAudio(picker.files[0]);
    });
    const zone = document.getElementById("drop-zone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer.files.length) uploadAudio(event.dataTransfer.files[0]);
    });
    predictNow();
  }

  start();
})();
