// The voucherd console's only script: counts down to the `data-until` time of `.countdown`
// elements (the connection pin's expiry), previews patterns on the settings page, and follows
// the events page live. Pages work without it.
"use strict";
function tick() {
  for (const el of document.querySelectorAll(".countdown[data-until]")) {
    const left = Math.max(0, Math.floor((Date.parse(el.dataset.until) - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    el.textContent = left > 0 ? `(${minutes}:${seconds} left)` : "(expired)";
  }
}
document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 1000);
});

// Live preview of id, code and PIN patterns on the settings page: samples from the console's
// preview endpoint as the operator types. Without the script, "Preview samples" does the same.
let previewTimer = null;
document.addEventListener("input", (event) => {
  const field = event.target;
  if (!field.classList || !field.classList.contains("pattern")) return;
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const target = document.getElementById(field.dataset.samples);
    const url = `${field.dataset.preview}?pattern=${encodeURIComponent(field.value)}`;
    try {
      const answer = await fetch(url, { credentials: "same-origin" });
      const body = await answer.json();
      target.textContent = body.text;
    } catch (_) {
      target.textContent = "";
    }
  }, 250);
});

// "Follow live" on the events page: asks the console for events after the last one shown,
// waiting on the server until one commits, and adds each as a row. Text only: nothing of an
// event is read as HTML.
document.addEventListener("click", async (event) => {
  const button = event.target;
  if (!button || button.id !== "follow" || button.dataset.following) return;
  button.dataset.following = "yes";
  button.disabled = true;
  const state = document.getElementById("follow-state");
  const table = document.getElementById("events");
  const body = table.querySelector("tbody");
  const live = new URL(button.dataset.live, window.location.href);
  state.textContent = "Following: new events appear below as they happen.";
  for (;;) {
    live.searchParams.set("after", table.dataset.last);
    try {
      const answer = await fetch(live, { credentials: "same-origin" });
      if (!answer.ok) throw new Error(String(answer.status));
      const page = await answer.json();
      for (const row of page.rows) {
        const tr = document.createElement("tr");
        tr.dataset.seq = row.seq;
        for (const value of [row.seq, row.at, row.type, row.face, row.actor, row.voucher, row.amount, row.balance]) {
          const td = document.createElement("td");
          td.textContent = value;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
      table.dataset.last = page.next_after;
      const none = document.getElementById("no-events");
      if (none && page.rows.length > 0) none.remove();
    } catch (_) {
      state.textContent = "Lost the connection; trying again.";
      await new Promise((resolve) => setTimeout(resolve, 2000));
      state.textContent = "Following: new events appear below as they happen.";
    }
  }
});
