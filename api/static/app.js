// The page only ever shows text it received from the API, inserted as text (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);

// The API key box: what it holds is sent with every request, and remembered in this browser
// (localStorage) once the server has taken it; emptying the box forgets it, and so does a 401.
const KEY = "qa-api-key";

// localStorage, where the browser allows it (a blocked one throws on every use)
function remembered(change) {
  try { return change(localStorage); } catch { return null; }
}

// A header value is a string of bytes (one per character up to U+00FF; fetch refuses any
// other): the key's UTF-8 bytes, as curl sends them and the server compares them.
function headerBytes(text) {
  return Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join("");
}

async function call(path, options = {}) {
  const key = $("api-key").value;
  const headers = { "content-type": "application/json" };
  if (key) headers.authorization = "Bearer " + headerBytes(key);
  const response = await fetch(path, { ...options, headers });
  if (key === $("api-key").value) {  // a late reply to a key since changed leaves it be
    if (response.status === 401) {
      remembered((s) => s.removeItem(KEY));
      $("key-box").open = true;
    } else if (response.ok) {
      remembered((s) => (key ? s.setItem(KEY, key) : s.removeItem(KEY)));
    }
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = typeof body?.detail === "string" ? body.detail
      : Array.isArray(body?.detail) ? body.detail.map((d) => d.msg).join("; ")
      : response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  if (body === null || typeof body !== "object") {
    throw new Error(`${response.status}: the reply to ${path} is not the API's JSON`);
  }
  return body;
}

// The API's offsets count characters (Unicode code points, as Python does); a JavaScript
// string counts UTF-16 units, two for a character beyond U+FFFF (most emoji). The unit index
// of character ``chars`` of ``text``, or -1 when the text is shorter.
function unitIndex(text, chars) {
  let i = 0;
  for (let n = 0; n < chars; n++) {
    if (i >= text.length) return -1;
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length;
    i += pair ? 2 : 1;
  }
  return i;
}

// Text of characters [start, end) of a text whose first character is character outerStart of
// its article, marked; null when the offsets fall outside it.
function markedText(text, outerStart, start, end) {
  const a = unitIndex(text, start - outerStart), b = unitIndex(text, end - outerStart);
  if (start < outerStart || a < 0 || b < a) return null;
  const frag = document.createDocumentFragment();
  const mark = document.createElement("mark");
  mark.textContent = text.slice(a, b);
  frag.append(text.slice(0, a), mark, text.slice(b));
  return { frag, mark };
}

// The document view's address carries the question and mode, for its way back.
function docLink(answer, span, label, asked) {
  const a = document.createElement("a");
  const q = new URLSearchParams({
    doc: answer.doc_id, start: span.start_char, end: span.end_char, ...asked,
  });
  a.href = "?" + q.toString();
  a.textContent = label;
  return a;
}

function renderAnswers(result, asked) {
  const list = $("answers");
  list.replaceChildren();
  const status = $("status");
  status.className = "";
  if (result.abstained) {
    // low_confidence: a passage was weighed and refused; no_match: none was found to weigh
    status.textContent = result.abstention === "low_confidence" ? result.message +
      ` (confidence ${result.confidence.toFixed(2)} that the best passage found does not answer)`
      : result.message;
    status.className = "abstained";
    return;
  }
  status.textContent = `${result.answers.length} passage(s) in ${result.took_ms} ms`;
  for (const answer of result.answers) {
    const li = document.createElement("li");
    li.className = "answer";
    const p = answer.passage, h = answer.highlight;
    const quote = document.createElement("blockquote");
    quote.className = "passage";
    const marked = markedText(p.text, p.start_char, h.start_char, h.end_char);
    quote.append(marked ? marked.frag : p.text);
    const cite = document.createElement("div");
    cite.className = "cite";
    cite.append(
      document.createTextNode(`${answer.title} — `),
      docLink(answer, h, `[${answer.doc_id}:${h.start_char}-${h.end_char}]`, asked),
      document.createTextNode(byline(answer)),
      document.createTextNode(` · confidence ${answer.confidence.toFixed(2)}`),
    );
    li.append(quote, cite);
    list.append(li);
  }
}

// " · outlet · date · author · file", leaving out what the article does not have
function byline(item) {
  return [item.source, item.published, item.author, item.origin]
    .filter(Boolean).map((part) => ` · ${part}`).join("");
}

// Only the latest question's reply is shown: an earlier one that arrives later is dropped.
let latest = 0;

async function ask(event) {
  event.preventDefault();
  const question = $("question").value, mode = $("mode").value;
  const status = $("status");
  const asked = { q: question, mode };
  const mine = ++latest;
  status.className = "";
  status.textContent = "Searching…";
  $("answers").replaceChildren();
  history.replaceState(null, "", "?" + new URLSearchParams(asked).toString());
  try {
    const result = await call("ask", {
      method: "POST",
      body: JSON.stringify({ question, mode, top_k: 5 }),
    });
    if (mine === latest) renderAnswers(result, asked);
  } catch (err) {
    if (mine === latest) {
      status.className = "error";
      status.textContent = "Error " + err.message;
    }
  }
}

// A citation's characters: two whole numbers, start before end; null otherwise.
function citedRange(params) {
  if (!params.has("start") || !params.has("end")) return null;
  const text = [params.get("start"), params.get("end")];
  if (!text.every((t) => /^[0-9]+$/.test(t))) return null;
  const [start, end] = text.map(Number);
  return start < end ? { start, end } : null;
}

async function showDocument(params) {
  $("ask-view").hidden = true;
  $("doc-view").hidden = false;
  const back = new URLSearchParams();
  for (const name of ["q", "mode"]) if (params.get(name)) back.set(name, params.get(name));
  $("back").href = back.toString() ? "?" + back.toString() : "./";
  $("back").textContent = back.has("q") ? "← back to the question" : "← ask a question";
  const range = citedRange(params);
  try {
    const doc = await call("documents/" + encodeURIComponent(params.get("doc")));
    $("doc-title").textContent = doc.title;
    const body = $("doc-text");
    const marked = range && markedText(doc.text, 0, range.start, range.end);
    $("doc-meta").textContent = `${doc.doc_id}${byline(doc)}` +
      (marked ? ` · characters ${range.start}-${range.end}` : "");
    if (marked) {
      marked.mark.id = "cited";
      body.replaceChildren(marked.frag);
      marked.mark.scrollIntoView({ block: "center" });
    } else {
      body.textContent = doc.text;
    }
  } catch (err) {
    $("doc-title").textContent = "Error " + err.message;
  }
}

const params = new URLSearchParams(location.search);
$("api-key").value = remembered((s) => s.getItem(KEY)) || "";
$("ask-form").addEventListener("submit", ask);
$("key-form").addEventListener("submit", (event) => {  // try the key on what is shown
  event.preventDefault();
  if (!$("api-key").value) remembered((s) => s.removeItem(KEY));  // an empty box forgets it
  if (params.has("doc")) showDocument(params);
  else if ($("question").value.trim()) $("ask-form").requestSubmit();
});
if (params.has("doc")) {
  showDocument(params);
} else if (params.has("q")) {
  $("question").value = params.get("q");
  const mode = [...$("mode").options].find((o) => o.value === params.get("mode"));
  if (mode) $("mode").value = mode.value;
  $("ask-form").requestSubmit();
}
