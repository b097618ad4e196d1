// The voucherd console's only script: counts down to the `data-until` time of `.countdown`
// elements (the connection pin's expiry). Pages work without it.
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
