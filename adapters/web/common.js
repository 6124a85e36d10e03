// Shared by the chat page (app.js) and the authoring view (author.js): building elements from
// text, and the API token, asked for once per tab and kept in sessionStorage. No build step.
// Every piece of data goes into the page as text nodes / textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "policybot.token";
const $ = (id) => document.getElementById(id);

// Builds an element; children are nodes or strings (strings become text nodes).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function tokenHeader() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Shows the token form (the reason in the element `statusId`) and resolves once a token is given.
function askForToken(rejected, statusId) {
  return new Promise((resolve) => {
    const form = $("token-form");
    form.hidden = false;
    $(statusId).textContent = rejected ? "That token was not accepted; please check it." : "";
    $("token").focus();
    form.onsubmit = (event) => {
      event.preventDefault();
      const value = $("token").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token").value = "";
      form.hidden = true;
      resolve();
    };
  });
}
