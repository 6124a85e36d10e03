// policybot web chat. No build step, no framework. Every piece of data (questions, clauses,
// school and lead names) goes into the page as text nodes / textContent, so markup
// in any of it renders as text (no HTML-parsing DOM APIs anywhere in this file).
"use strict";

const SCHOOL_KEY = "policybot.school";
const STANCE_WORDS = {
  "must not": "not allowed", "should not": "should not", "advised against": "advised against",
  "must": "required", "should": "recommended", "may": "allowed", "information": "for information",
};

let schools = {};

function leadDisplay(contact) {
  return contact.name ? `${contact.name} (${contact.role})` : `the ${contact.role}`;
}

function longDate(iso) {
  const d = new Date(`${iso}T00:00:00`);
  return isNaN(d) ? iso : d.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
}

async function api(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    // The tab's id on every call: the server's rate limit counts per person, not per address
    // (behind a trust's proxy or NAT every member of staff shares one address).
    const response = await fetch(path, {
      ...options, headers: { ...(options.headers || {}), ...tokenHeader(), "X-Policybot-Client": clientId() },
    });
    if (response.status !== 401) return response;
    const hadToken = Boolean(sessionStorage.getItem(TOKEN_KEY));
    sessionStorage.removeItem(TOKEN_KEY);
    await askForToken(hadToken, "status");
  }
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON */ }
  return `Something went wrong (HTTP ${response.status}). Please try again.`;
}

// --- schools ---
async function loadSchools() {
  const select = $("school");
  let response;
  try {
    response = await api("/api/schools");
  } catch (e) {
    $("status").textContent = "Cannot reach the server.";
    return;
  }
  if (!response.ok) {
    $("status").textContent = await errorMessage(response);
    if (response.status === 503) setTimeout(loadSchools, 2000);
    return;
  }
  const data = await response.json();
  select.replaceChildren(el("option", { value: "" }, "Choose your school…"));
  for (const school of data.schools) {
    schools[school.slug] = school;
    select.append(el("option", { value: school.slug }, school.name));
  }
  const remembered = localStorage.getItem(SCHOOL_KEY);
  if (remembered && schools[remembered]) select.value = remembered;
  select.disabled = false;
  $("status").textContent = "";
  showSchool();
  if (!historyShown) { historyShown = true; loadHistory(); }  // once the schools are known
}
let historyShown = false;

function showSchool() {
  const school = schools[$("school").value];
  $("ask-button").disabled = !school;
  const info = $("school-info");
  if (!school) { info.replaceChildren(); return; }
  localStorage.setItem(SCHOOL_KEY, school.slug);
  const reachable = school.reach && school.reach.anyone;
  const parts = [reachable ? `Questions it can't answer go to ${leadDisplay(school.lead)}.` : ""];
  for (const p of school.policies) {
    parts.push(` ${p.title}: next review ${p.next_review}${p.overdue ? " (overdue)" : ""}.`);
  }
  info.replaceChildren(el("span", {}, parts.join("").trim()));
  if (!reachable) {
    // Said before anyone relies on it: nothing this page escalates would reach a person.
    info.append(el("p", { class: "warning unreachable" },
      `policybot cannot send questions to anyone at ${school.name} yet (no Slack, Teams or email is set up ` +
      `for ${leadDisplay(school.lead)} or ${leadDisplay(school.deputy)}). For anything it can't answer, ` +
      "or anything urgent, go to them directly."));
  }
}

// --- rendering an answer ---
function paragraphs(text) {
  // The contract's `text` is markdown-light; show it as plain paragraphs, ** marks dropped.
  return text.split("\n\n").map((para) => el("p", {}, para.replaceAll("**", "")));
}

function clauseBlock(c) {
  if (c.source === "lead answer") {
    // The lead's earlier answer (a reviewed note): named as their guidance with its date, set
    // apart from the policy's own text, never given a section or a stance.
    return el("blockquote", { class: "clause note" },
      el("p", { class: "note-label" }, `Guidance from ${c.author || "the lead"}, ${longDate(c.date)}`),
      el("p", { class: "clause-text" }, c.display_text ?? c.text),
      el("p", { class: "cite" }, "The lead's earlier answer to a similar question, not policy text."));
  }
  const stanceClass = "stance stance-" + c.stance.replace(/[^a-z]+/g, "-");
  return el("blockquote", { class: "clause" },
    c.display_lead_in ? el("p", { class: "lead-in" }, c.display_lead_in) : null,
    el("p", { class: "clause-text" }, c.display_text ?? c.text),
    el("p", { class: "cite" },
      "Section ", el("strong", { class: "clause-id" }, c.id),
      ` · ${c.section} · ${c.policy} · `,
      el("span", { class: stanceClass }, `Stance: ${c.stance}`),
      STANCE_WORDS[c.stance] && STANCE_WORDS[c.stance] !== c.stance ? ` (${STANCE_WORDS[c.stance]})` : ""));
}

// --- escalations: "Ask <lead>", the reference of an escalated question, and the lead's
// answer when it comes (the page polls GET /api/escalations/{id}). ---
const CLIENT_KEY = "policybot.client";
const POLL_MS = 15000;

// The conversation: its id is kept in this browser (localStorage) and is the only key to its
// history on the server, so it is 128 random bits; "New conversation" forgets it.
const CONVERSATION_KEY = "policybot.conversation";

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function conversationId() {
  let id = localStorage.getItem(CONVERSATION_KEY);
  if (!id || !/^[A-Za-z0-9_-]{32,128}$/.test(id)) {
    id = randomHex(16);
    localStorage.setItem(CONVERSATION_KEY, id);
  }
  return id;
}

async function loadHistory() {
  // After a reload (or a closed tab): the questions asked here, the replies shown, and any lead
  // answer that arrived since. Nothing to show (or no store on this server) leaves the chat empty.
  let response;
  try {
    response = await api("/api/history", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ conversation: conversationId() }),
    });
  } catch (e) { return; }
  if (!response.ok) return;
  const turns = (await response.json()).turns || [];
  if (!turns.length) return;
  $("chat").append(el("p", { class: "history-note" }, "Earlier in this conversation"));
  for (const turn of turns) {
    $("chat").append(el("p", { class: "msg user" }, turn.question));
    const data = { ...turn.reply, question: turn.question, turn: turn.id };
    if (turn.escalation) data.escalation = turn.escalation;
    if (turn.escalation && !data.delivery) data.asked = turn.escalation;  // "Ask <lead>" was pressed
    $("chat").append(renderAnswer(data));
  }
  $("chat").lastElementChild.scrollIntoView({ block: "end" });
}

function newConversation() {
  localStorage.removeItem(CONVERSATION_KEY);
  $("chat").replaceChildren();
  conversationId();
}

function clientId() {
  let id = sessionStorage.getItem(CLIENT_KEY);
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem(CLIENT_KEY, id);
  }
  return id;
}

function escalationNote(esc, deliveryText, state) {
  // What really happened, in the server's words: told whom and how, still trying, or not sent.
  const note = el("div", { class: `escalation delivery-${state || "unknown"}` });
  note.append(el("p", { class: "escalation-ref" }, deliveryText));
  if (esc) {
    const answer = el("div", { class: "lead-answer", hidden: true });
    note.append(answer);
    if (esc.answer) showLeadAnswer(answer, esc);  // it came while this page was closed
    else pollEscalation(esc.id, answer);
  }
  return note;
}

function showLeadAnswer(slot, esc) {
  slot.hidden = false;
  slot.replaceChildren(el("p", { class: "badge" }, `Answer from ${esc.answered_by || esc.lead}`),
                       ...paragraphs(esc.answer));
}

async function pollEscalation(id, slot) {
  try {
    const response = await api(`/api/escalations/${encodeURIComponent(id)}`);
    if (response.ok) {
      const esc = (await response.json()).escalation;
      if (esc.answer) {
        showLeadAnswer(slot, esc);
        return;
      }
    }
  } catch (e) { /* the server may be restarting: try again later */ }
  setTimeout(() => pollEscalation(id, slot), POLL_MS);
}

function escalationSlot(school, data) {
  const slot = el("div", { class: "escalate-slot" });
  if (data.delivery) {
    slot.append(escalationNote(data.escalation, data.delivery_text, data.delivery.state));
    return slot;
  }
  if (data.asked) {  // from the history: the asker pressed "Ask <lead>" under this answer
    slot.append(escalationNote(data.asked, `You asked ${data.asked.lead} (ref ${data.asked.id}).`, "asked"));
    return slot;
  }
  if (!school || !school.can_escalate || data.decision === "urgent") return slot;
  // An off-topic question is not sent unasked: the asker may still send it ("anyway").
  const anyway = data.reason === "out_of_scope" ? " anyway" : "";
  const button = el("button", { type: "button", class: "ask-lead" }, `Ask ${leadDisplay(data.lead)}${anyway}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const response = await api("/api/escalate", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ school: data.school, question: data.question, client: clientId(),
                               conversation: conversationId(), turn: data.turn }),
      });
      if (!response.ok) throw new Error(await errorMessage(response));
      const sent = await response.json();
      slot.replaceChildren(escalationNote(sent.escalation, sent.text, sent.delivery.state));
    } catch (e) {
      button.disabled = false;
      slot.append(el("p", { class: "error" }, e.message || "Could not send it; please try again."));
    }
  });
  slot.append(button);
  return slot;
}

function renderAnswer(data) {
  const school = schools[data.school];
  const lead = leadDisplay(data.lead);
  const box = el("article", { class: `msg bot decision-${data.decision}` });
  const cited = (data.citations || []).map((c) => c.source === "lead answer");
  const fromPolicy = cited.every((note) => !note) ? "Answer from your policy"
    : cited.some((note) => !note) ? "Answer from your policy and your lead's guidance" : "Answer from your lead's guidance";
  const badge = { answer: fromPolicy, escalate: `Goes to ${lead}`,
                  urgent: "URGENT: live safeguarding concern" }[data.decision] || data.decision;
  box.append(el("p", { class: "badge" }, badge));

  if (data.decision === "answer" && data.headline) {
    // The short answer first: the cited clauses' own position, as the core words it.
    box.append(el("p", { class: "headline" }, data.headline));
  }
  if (data.decision === "urgent") {
    // Headline, then the steps as a list; what happened to the notice follows in its own note.
    const [headline, ...rest] = data.text.replaceAll("**", "").split("\n");
    const steps = rest.filter((line) => line.startsWith("- ")).map((line) => el("li", {}, line.slice(2)));
    box.append(el("p", { class: "urgent-headline" }, headline), el("ul", { class: "urgent-steps" }, ...steps));
  } else if (data.decision === "answer" && data.reason === "ambiguous") {
    // "Did you mean", as the core renders it: each situation in staff words, then its clause.
    box.append(el("p", {}, `Your question could be about more than one situation in ` +
                           `${school ? school.name : data.school}'s policy. Did you mean:`));
    data.citations.forEach((c) => box.append(el("p", { class: "situation" }, `${c.situation}?`), clauseBlock(c)));
  } else if (data.decision === "answer") {
    const policies = [...new Set(data.citations.filter((c) => c.source !== "lead answer").map((c) => c.policy))]
      .sort().join(", ");
    const name = school ? school.name : data.school;
    const notes = data.citations.some((c) => c.source === "lead answer");
    box.append(el("p", {}, !notes ? `${name}, ${policies}, says:`
      : policies ? `${name}, ${policies}, says (with the lead's earlier guidance on a similar question):`
      : `${name}: the lead has answered a question like this before:`));
  } else {
    box.append(paragraphs(data.text)[0]);
    if (data.citations.length) {
      box.append(el("p", { class: "muted" }, "The closest clauses I found (they may not answer your question):"));
    }
  }
  if (data.decision !== "urgent" && data.reason !== "ambiguous") data.citations.forEach((c) => box.append(clauseBlock(c)));

  for (const w of data.review_warnings) {
    box.append(el("p", { class: "warning" },
      `Review date passed: ${w.policy} was due for review in ${w.next_review} (by ${longDate(w.due)}); ` +
      `check with ${lead} that it is still current.`));
  }
  const meta = el("p", { class: "meta" },
    el("span", { class: "confidence" }, `Confidence ${Math.round(data.confidence * 100)}%`),
    data.decision === "answer" ? " · " : "",
    data.decision === "answer" ? el("span", { class: "route" }, `Not what you needed? Ask ${lead}.`) : "");
  if (data.decision === "urgent") box.append(escalationSlot(school, data));
  else box.append(meta, escalationSlot(school, data));
  if (data.feedback_ref && data.decision !== "urgent") box.append(feedbackBlock(data));
  return box;
}

// --- feedback: Helpful / Not helpful under an answer (POST /api/feedback with its reference);
// pressing the other button changes the vote. ---
function feedbackBlock(data) {
  const block = el("div", { class: "feedback" });
  const status = el("span", { class: "feedback-status", role: "status" });
  const buttons = [[true, "Helpful"], [false, "Not helpful"]].map(([helpful, label]) => {
    const button = el("button", { type: "button", class: helpful ? "feedback-helpful" : "feedback-not-helpful" },
                      label);
    button.addEventListener("click", async () => {
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const response = await api("/api/feedback", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ ref: data.feedback_ref, helpful, client: clientId() }),
        });
        if (!response.ok) throw new Error(await errorMessage(response));
        status.textContent = "Thanks, your feedback is recorded.";
        buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      } catch (e) {
        status.textContent = e.message || "Could not record it; please try again.";
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    return button;
  });
  block.append(...buttons, status);
  return block;
}

function addMessage(node) {
  $("chat").append(node);
  node.scrollIntoView({ behavior: "smooth", block: "start" });
}

// A request whose response never came is sent again (up to twice more, a moment apart).
async function sentOnce(send, tries = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (e) {
      if (attempt >= tries) throw e;
      await new Promise((resolve) => setTimeout(resolve, 400 * attempt));
    }
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value;
  const slug = $("school").value;
  if (!slug || !question.trim()) return;
  addMessage(el("p", { class: "msg user" }, question));
  $("question").value = "";
  $("ask-button").disabled = true;
  $("status").textContent = "Looking in your school's policy…";
  try {
    // One request id per question (128 random bits): if the answer never arrives (a dropped
    // connection, a server process restarted), the same question is sent again with the same id,
    // and the server gives the answer it already made instead of answering (and escalating) twice.
    const body = JSON.stringify({ school: slug, question, client: clientId(), conversation: conversationId(),
                                  request: randomHex(16) });
    const response = await sentOnce(() => api("/api/ask", {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
    }));
    addMessage(response.ok ? renderAnswer({ ...(await response.json()), question })
                           : el("p", { class: "msg bot error" }, await errorMessage(response)));
  } catch (e) {
    addMessage(el("p", { class: "msg bot error" }, "Cannot reach the server; please try again."));
  } finally {
    $("status").textContent = "";
    $("ask-button").disabled = !$("school").value;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("school").addEventListener("change", showSchool);
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("new-conversation").addEventListener("click", newConversation);
  loadSchools();
});
