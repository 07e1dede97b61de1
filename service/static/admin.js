// Keeps the admin dashboard live: re-fetches the server-rendered panel every few seconds.
// No framework and nothing from a CDN; the page's Content-Security-Policy allows only this origin.
(() => {
  "use strict";
  const panel = document.getElementById("panel");
  if (!panel) return;
  const every = Number(panel.dataset.pollMs) || 3000;
  const stamp = document.getElementById("updated");

  async function refresh() {
    try {
      const res = await fetch(panel.dataset.src, { credentials: "same-origin", cache: "no-store" });
      if (res.status === 401) {  // the session ended (logout elsewhere, expiry, restart)
        window.location.assign("/admin/login");
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      panel.innerHTML = await res.text();
      panel.dataset.polls = String(Number(panel.dataset.polls) + 1);
      panel.classList.remove("stale");
      if (stamp) stamp.textContent = `${new Date().toISOString().slice(11, 19)} UTC`;  // as every time shown
    } catch (err) {
      panel.classList.add("stale");
      if (stamp) stamp.textContent = `failed (${err.message}), retrying`;
    }
    setTimeout(refresh, every);
  }

  setTimeout(refresh, every);
})();
