// policybot authoring view: upload a policy, review the draft beside the live clauses, try
// questions on it, accept it. No build step. As in app.js, every piece of data goes into the
// page as text (textContent / text nodes), never parsed as HTML.
"use strict";

const NEW_SCHOOL = "__new__";
let schools = {};
let draft = null;   // the draft as the server last sent it

async function api(path, options = {}) {
  for (;;) {
    const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), ...tokenHeader() } });
    if (response.status !== 401) return response;
    const hadToken = Boolean(sessionStorage.getItem(TOKEN_KEY));
    sessionStorage.removeItem(TOKEN_KEY);
    await askForToken(hadToken, "upload-status");
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body;
  } catch (e) { /* not JSON */ }
  return { error: `Something went wrong (HTTP ${response.status}). Please try again.` };
}

function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

// --- 1. choosing the school and uploading ---
async function loadSchools() {
  const response = await api("/api/schools");
  if (!response.ok) {
    $("upload-status").textContent = (await errorOf(response)).error;
    return;
  }
  const select = $("school");
  select.replaceChildren(el("option", { value: "" }, "Choose a school…"));
  for (const s of (await response.json()).schools) {
    schools[s.slug] = s;
    select.append(el("option", { value: s.slug }, s.name));
  }
  select.append(el("option", { value: NEW_SCHOOL }, "A new school…"));
  select.disabled = false;
  schoolChanged();
}

function schoolChanged() {
  const slug = $("school").value;
  const isNew = slug === NEW_SCHOOL;
  $("new-school").hidden = !isNew;
  $("policy-id").hidden = isNew;
  $("policy-id-new").hidden = !isNew;
  const policies = schools[slug] ? schools[slug].policies : [];
  $("policy-id").replaceChildren(...policies.map((p) => el("option", { value: p.id }, `${p.title} (${p.id})`)));
}

async function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  const status = $("upload-status");
  const choice = $("school").value;
  if (!choice) { status.textContent = "Choose the school first."; return; }
  if (!file) { status.textContent = "Choose the policy document to upload."; return; }
  const params = new URLSearchParams({ filename: file.name });
  if (choice === NEW_SCHOOL) {
    params.set("school", $("slug").value.trim());
    params.set("policy_id", $("policy-id-new").value.trim());
    for (const key of ["name", "lead_role", "lead_name", "lead_email", "deputy_role", "deputy_name", "deputy_email"]) {
      params.set(key, $(key).value.trim());
    }
  } else {
    params.set("school", choice);
    params.set("policy_id", $("policy-id").value);
  }
  status.textContent = `Reading ${file.name}…`;
  $("upload-button").disabled = true;
  try {
    const response = await api(`/api/authoring/drafts?${params}`, {
      method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file,
    });
    if (response.status !== 201) {
      status.textContent = (await errorOf(response)).error;
      return;
    }
    const data = await response.json();
    status.textContent = `Read ${file.name}: ${data.clauses.length} clauses.`;
    $("try-answers").replaceChildren();
    $("accept-status").replaceChildren();
    $("save-button").disabled = false;
    $("try-button").disabled = false;
    renderDraft(data);
  } catch (e) {
    status.textContent = "The server could not be reached; please try again.";
  } finally {
    $("upload-button").disabled = false;
  }
}

// --- 2. the draft beside the live clauses ---
const METADATA = [["title", "Title"], ["adopted", "Adopted"], ["reviewed", "Last reviewed"], ["next_review", "Next review"]];

function schoolName(slug) {
  return schools[slug] ? schools[slug].name : (draft && draft.new_school) || slug;
}

function wordDiff(ops) {
  const p = el("p", { class: "word-diff" });
  ops.forEach((op, i) => {
    if (i) p.append(" ");
    p.append(op.op === "equal" ? document.createTextNode(op.text) : el(op.op === "delete" ? "del" : "ins", {}, op.text));
  });
  return p;
}

function liveMatches(data) {
  // For each draft clause id: what it is to the live version (kb diff's classification).
  const byNew = {};
  const liveById = Object.fromEntries(data.live.map((c) => [c.id, c]));
  for (const c of data.clauses) if (liveById[c.id]) byNew[c.id] = { kind: "unchanged", old: liveById[c.id] };
  if (data.diff && data.diff.changes) {
    for (const ch of data.diff.changes) {
      if (ch.new_id) byNew[ch.new_id] = { kind: ch.renumbered && ch.kind === "reworded" ? "reworded" : ch.kind, change: ch,
                                          old: ch.old ? { ...(liveById[ch.old_id] || {}), ...ch.old } : null };
    }
  }
  return byNew;
}

function problemsBlock(problems) {
  if (!problems.length) return el("p", { class: "ok" }, "No problems: this draft can go live.");
  return el("div", { class: "problems" },
    el("strong", {}, `${problems.length} problem(s) to fix before it can go live:`),
    el("ul", {}, ...problems.map((p) => el("li", {}, p.problem, p.hint ? el("span", { class: "hint" }, p.hint) : null))));
}

function diffSummary(data) {
  if (!data.diff) {
    return el("p", { class: "muted" }, data.new_school ? `A new school: ${data.new_school}. Every clause is new.`
                                                        : "A new policy for this school: every clause is new.");
  }
  if (data.diff.error) return el("p", { class: "warning" }, `The live version could not be read: ${data.diff.error}`);
  const n = data.diff.counts;
  const box = el("div", {},
    el("p", { class: "diff-counts" }, `Compared with the live policy: ${n.unchanged} unchanged, ${n.renumbered} renumbered, ` +
                                      `${n.reworded} reworded, ${n.added} added, ${n.removed} removed.`));
  for (const m of data.diff.metadata) box.append(el("p", { class: "muted" }, `${m.field}: "${m.old}" → "${m.new}"`));
  return box;
}

function clauseRow(c, match, hasLive) {
  const kind = match ? match.kind : (hasLive ? "added" : "new");
  const left = el("div", { class: "draft-side" },
    el("p", { class: "clause-head" }, "Draft · ", el("strong", { class: "clause-id" }, c.id), ` · ${c.section}`,
       el("span", { class: "kind" }, kind)),
    c.lead_in ? el("p", { class: "lead-in" }, c.lead_in) : null,
    el("p", { class: "clause-text" }, c.text),
    c.notes.length ? el("p", { class: "note" }, `policybot's doubt: ${c.notes.join("; ")} (source line ${c.line})`) : null,
    c.review ? el("p", { class: "review-note" }, `Review: ${c.review}`) : null,
    el("label", { for: `about-${c.id}` }, "Staff phrasings (one per line)"));
  const area = el("textarea", { id: `about-${c.id}`, class: "about", rows: String(Math.max(2, c.about.length + 1)),
                                "data-clause": c.id, placeholder: "How staff would ask about this, in their words" });
  area.value = c.about.join("\n");
  area.dataset.original = area.value;
  left.append(area);
  if (!hasLive) return el("div", { class: "clause-row single kind-new" }, left);
  let right;
  if (match && match.old) {
    const old = match.old;
    right = el("div", { class: "live-side" },
      el("p", { class: "clause-head" }, "Live · ", el("strong", {}, old.id), ` · ${old.section || ""}`),
      old.lead_in ? el("p", { class: "lead-in" }, old.lead_in) : null,
      match.kind === "reworded" && match.change ? wordDiff(match.change.word_diff) : el("p", {}, old.text),
      old.about && old.about.length ? el("p", { class: "muted" }, `Phrasings: ${old.about.join(" · ")}`) : null);
  } else {
    right = el("div", { class: "live-side" }, el("p", { class: "muted" },
      "Not in the live policy: added by this version."));
  }
  return el("div", { class: `clause-row kind-${kind}` }, left, right);
}

function renderDraft(data) {
  draft = data;
  for (const id of ["draft", "try", "accept"]) $(id).hidden = false;
  $("draft-summary").textContent = `${data.filename} → ${schoolName(data.school)}, policy ${data.policy_id}: ` +
    `${data.clauses.length} clauses read.`;
  $("metadata").replaceChildren(...METADATA.map(([key, label]) => {
    const input = el("input", { id: `meta-${key}`, "data-field": key });
    input.value = data.metadata[key] || "";
    input.dataset.original = input.value;
    return el("div", {}, el("label", { for: `meta-${key}` }, label), input);
  }));
  $("problems").replaceChildren(problemsBlock(data.problems));
  $("diff-summary").replaceChildren(diffSummary(data));
  $("skipped").querySelector("ul").replaceChildren(...data.skipped.map((s) => el("li", {}, s)));
  const matches = liveMatches(data);
  const hasLive = Boolean(data.diff && !data.diff.error);
  $("clauses").replaceChildren(...data.clauses.map((c) => clauseRow(c, matches[c.id], hasLive)));
  const removed = (data.diff && data.diff.changes ? data.diff.changes : []).filter((ch) => ch.kind === "removed");
  $("removed").replaceChildren(...(removed.length ? [el("p", { class: "diff-counts" }, "Removed from the live policy:"),
    ...removed.map((ch) => el("div", { class: "clause-row kind-removed" },
      el("div", {}, el("p", { class: "clause-head" }, "Removed · ", el("strong", {}, ch.old.id), ` · ${ch.old.section}`),
         el("p", {}, ch.old.text)),
      el("div", { class: "muted" }, ch.old.about.length ? `Its phrasings are dropped: ${ch.old.about.join(" · ")}` : "")))] : []));
  $("accept-button").disabled = data.problems.length > 0;
}

async function save() {
  const about = {};
  for (const area of document.querySelectorAll("textarea.about")) {
    if (area.value !== area.dataset.original) {
      about[area.dataset.clause] = area.value.split("\n").map((s) => s.trim()).filter(Boolean);
    }
  }
  const metadata = {};
  for (const input of document.querySelectorAll("#metadata input")) {
    if (input.value !== input.dataset.original) metadata[input.dataset.field] = input.value;
  }
  const status = $("save-status");
  if (!Object.keys(about).length && !Object.keys(metadata).length) { status.textContent = "Nothing changed."; return; }
  const response = await postJSON(`/api/authoring/drafts/${draft.id}/edit`, { about, metadata });
  if (!response.ok) { status.textContent = (await errorOf(response)).error; return; }
  renderDraft(await response.json());
  status.textContent = `Saved (${Object.keys(about).length} clause(s) changed). Try questions to see the effect.`;
}

// --- 3. trying questions on the draft ---
function answerBlock(data, question) {
  const badge = { answer: "The draft would answer", escalate: "The draft would pass this to the lead",
                  urgent: "URGENT: a live concern (never answered from policy)" }[data.decision] || data.decision;
  const box = el("article", { class: `msg bot decision-${data.decision}` },
    el("p", { class: "muted" }, `“${question}”`), el("p", { class: "badge" }, badge));
  if (data.decision === "urgent") box.append(el("p", {}, data.text.replaceAll("**", "").split("\n")[0]));
  if (data.decision !== "urgent" && data.citations.length && data.decision !== "answer") {
    box.append(el("p", { class: "muted" }, "Closest clauses:"));
  }
  for (const c of data.decision === "urgent" ? [] : data.citations) {
    box.append(el("blockquote", { class: "clause" },
      c.display_lead_in ? el("p", { class: "lead-in" }, c.display_lead_in) : null,
      el("p", { class: "clause-text" }, c.display_text ?? c.text),
      el("p", { class: "cite" }, "Section ", el("strong", { class: "clause-id" }, c.id), ` · ${c.section} · Stance: ${c.stance}`)));
  }
  box.append(el("p", { class: "meta" }, el("span", { class: "confidence" }, `Confidence ${Math.round(data.confidence * 100)}%`),
                ` · ${data.reason.replaceAll("_", " ")}`));
  return box;
}

async function tryAsk(event) {
  event.preventDefault();
  const question = $("try-question").value.trim();
  if (!question) return;
  $("try-button").disabled = true;
  try {
    const response = await postJSON(`/api/authoring/drafts/${draft.id}/ask`, { question });
    if (!response.ok) {
      const body = await errorOf(response);
      $("try-answers").prepend(el("article", { class: "msg bot error" }, body.error,
        body.problems ? problemsBlock(body.problems) : null));
      return;
    }
    $("try-answers").prepend(answerBlock(await response.json(), question));
  } finally {
    $("try-button").disabled = false;
  }
}

// --- 4. accepting ---
async function accept() {
  const status = $("accept-status");
  $("accept-button").disabled = true;
  status.replaceChildren("Writing the files and reloading…");
  const response = await postJSON(`/api/authoring/drafts/${draft.id}/accept`, {});
  if (!response.ok) {
    const body = await errorOf(response);
    status.replaceChildren(el("span", { class: "warning" }, body.error), body.problems ? problemsBlock(body.problems) : "");
    $("accept-button").disabled = false;
    return;
  }
  const body = await response.json();
  // The draft is written and gone from the server: upload again to make another change.
  $("save-button").disabled = true;
  $("try-button").disabled = true;
  if (body.live) {
    status.replaceChildren(el("span", { class: "ok" },
      `Live: ${schoolName(draft.school)}'s ${draft.policy_id} is answering staff now (knowledge ${body.reload.version}). `),
      " ", el("a", { href: "/" }, "Ask in the chat"));
  } else {
    // The files are written, but the reload refused the knowledge as a whole: say exactly that.
    status.replaceChildren(el("span", { class: "warning" }, `Written (${body.written.join(", ")}), but not live: ` +
      body.reload.message), problemsBlock(body.reload.problems.map((p, i) => ({ problem: p, hint: body.reload.hints[i] }))));
  }
  await loadSchools();
}

document.addEventListener("DOMContentLoaded", () => {
  $("school").addEventListener("change", schoolChanged);
  $("upload-form").addEventListener("submit", upload);
  $("save-button").addEventListener("click", save);
  $("try-form").addEventListener("submit", tryAsk);
  $("accept-button").addEventListener("click", accept);
  loadSchools();
});
