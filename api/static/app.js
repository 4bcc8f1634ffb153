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

// Text of [start, end) inside the span [outerStart, outerEnd), marked.
function markedText(text, outerStart, start, end) {
  const frag = document.createDocumentFragment();
  const mark = document.createElement("mark");
  mark.textContent = text.slice(start - outerStart, end - outerStart);
  frag.append(text.slice(0, start - outerStart), mark, text.slice(end - outerStart));
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
    quote.append(markedText(p.text, p.start_char, h.start_char, h.end_char).frag);
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
    if (Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= doc.text.length) {
      const { frag, mark } = markedText(doc.text, 0, start, end);
      mark.id = "cited";
      body.replaceChildren(frag);
      mark.scrollIntoView({ block: "center" });
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
