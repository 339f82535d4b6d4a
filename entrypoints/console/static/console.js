// The console's one script: progressive enhancement only. Every page works without it.
"use strict";

// A form submitted once stays submitted: its buttons are disabled until the answer arrives, so a
// double click sends one request (the server's idempotency keys guard the rest).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
  window.setTimeout(() => {
    for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) {
      button.disabled = true;
    }
  }, 0);
});

// Any page left open in a tab comes back from the browser's cache as it was: show it afresh.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
