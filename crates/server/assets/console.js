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
