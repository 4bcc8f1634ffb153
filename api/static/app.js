// The page only ever shows text it received from the API, inserted as text (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "content-type": "application/json" };
  const key = $("api-key").value || localStorage.getItem("qa-api-key") || "";
  if (key) { h.authorization = "Bearer " + key; localStorage.setItem("qa-api-key", key); }
  return h;
}

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail
      : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ")
      : response.statusText;
    throw new Error(`${response.status}: ${detail}`);
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

function docLink(answer, span, label) {
  const a = document.createElement("a");
  const q = new URLSearchParams({ doc: answer.doc_id, start: span.start_char, end: span.end_char });
  a.href = "?" + q.toString();
  a.textContent = label;
  return a;
}

function renderAnswers(result) {
  const list = $("answers");
  list.replaceChildren();
  const status = $("status");
  status.className = "";
  if (result.abstained) {
    status.textContent = (result.message || "No answer in these articles.") +
      ` (confidence ${result.confidence.toFixed(2)} that the best passage found does not answer)`;
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
      docLink(answer, h, `[${answer.doc_id}:${h.start_char}-${h.end_char}]`),
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

async function ask(event) {
  event.preventDefault();
  const question = $("question").value;
  $("status").textContent = "Searching…";
  $("answers").replaceChildren();
  try {
    const result = await call("ask", {
      method: "POST",
      body: JSON.stringify({ question, mode: $("mode").value, top_k: 5 }),
    });
    renderAnswers(result);
    history.replaceState(null, "", "?" + new URLSearchParams({ q: question }).toString());
  } catch (err) {
    $("status").textContent = "Error " + err.message;
  }
}

async function showDocument(params) {
  $("ask-view").hidden = true;
  $("doc-view").hidden = false;
  const start = Number(params.get("start")), end = Number(params.get("end"));
  try {
    const doc = await call("documents/" + encodeURIComponent(params.get("doc")));
    $("doc-title").textContent = doc.title;
    $("doc-meta").textContent = `${doc.doc_id}${byline(doc)} · characters ${start}-${end}`;
    const body = $("doc-text");
    const marked = Number.isInteger(start) && Number.isInteger(end) && 0 <= start
      ? markedText(doc.text, 0, start, end) : null;
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
$("ask-form").addEventListener("submit", ask);
if (params.has("doc")) {
  showDocument(params);
} else if (params.has("q")) {
  $("question").value = params.get("q");
  $("ask-form").requestSubmit();
}
