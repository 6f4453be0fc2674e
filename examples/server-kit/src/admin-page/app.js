// The admin page's script (served at /admin/scep/app.js). No framework, no build: it keeps the admin token in
// sessionStorage only (gone when the tab closes), calls the admin API with it, and fills the three tabs the
// server rendered. Every value from the API is put in the page as text (textContent), never as HTML.
"use strict";
(() => {
  const KEY = "scep-admin-token";
  const API = "/admin/scep/";
  const TABS = ["profiles", "intune", "activity"];
  const FILTERS = ["all", "initial", "renewal", "intune", "static"];
  const DAY = 86400000;
  let filter = "all";
  /** The last reload's outcome, shown again after the Intune tab is drawn anew. */
  let reloadNotice = null;

  const $ = (selector) => document.querySelector(selector);

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function setStatus(text, kind) {
    const s = $("#status");
    s.textContent = text;
    s.dataset.kind = kind || "info";
  }

  function showLogin(message) {
    $("#login").hidden = false;
    $("#forget").hidden = true;
    $("#login-message").textContent = message;
  }

  class Refused extends Error {}

  async function call(path, init) {
    const token = sessionStorage.getItem(KEY);
    if (!token) {
      showLogin("Enter the admin token (SCEP_ADMIN_TOKEN) to load the data.");
      throw new Refused("no token");
    }
    const headers = { authorization: "Bearer " + token };
    if (init && init.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(API + path, { method: (init && init.method) || "GET", headers, body: init && init.body !== undefined ? JSON.stringify(init.body) : undefined });
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(KEY);
      showLogin(res.status === 403 ? "The server refused this token; enter it again." : "Enter the admin token (SCEP_ADMIN_TOKEN) to load the data.");
      throw new Refused("refused");
    }
    let body = {};
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    return { status: res.status, body };
  }

  // --- expiry colour bands: ≥ 30 days good, 7–30 warn, < 7 bad, past notAfter EXPIRED ---
  function band(notAfter, daysLeft) {
    const t = Date.parse(notAfter);
    const days = typeof daysLeft === "number" ? daysLeft : Math.floor((t - Date.now()) / DAY);
    if (!(t > Date.now())) return { band: "expired", label: "EXPIRED" };
    if (days < 7) return { band: "bad", label: days + (days === 1 ? " day" : " days") };
    if (days < 30) return { band: "warn", label: days + " days" };
    return { band: "good", label: days + " days" };
  }

  function expiry(notAfter, daysLeft) {
    const b = band(notAfter, daysLeft);
    return el("span", { class: "expiry band-" + b.band, "data-band": b.band, title: "notAfter " + notAfter }, b.label, el("small", {}, " until " + String(notAfter).slice(0, 10)));
  }

  const isIntune = (p) => p.challenge && (p.challenge.kind === "intune" || Array.isArray(p.challenge.trustAnchors));

  // --- Profiles ---
  function renderProfiles(profiles) {
    const root = $("#profiles-cards");
    root.replaceChildren();
    if (profiles.length === 0) root.append(el("p", {}, "No profiles."));
    for (const p of profiles) {
      const c = p.challenge || {};
      const badges = el(
        "p",
        { class: "badges" },
        el("span", { class: "badge " + (c.configured ? "ok" : "off"), "data-badge": "challenge" }, c.configured ? "challenge set (" + c.kind + ")" : "no challenge"),
        isIntune(p) ? el("span", { class: "badge ok", "data-badge": "intune" }, "Intune" + (c.mode ? " · " + c.mode : "")) : null,
        p.redis ? el("span", { class: "badge ok", "data-badge": "redis" }, "Redis") : el("span", { class: "badge off", "data-badge": "memory" }, "memory"),
      );
      const rows = [el("tr", { "data-role": "ca" }, el("th", {}, "CA"), el("td", {}, p.ca.subject), el("td", {}, expiry(p.ca.notAfter, p.ca.daysLeft)))];
      for (const ra of p.ra || []) rows.push(el("tr", { "data-role": "ra" }, el("th", {}, "RA"), el("td", {}, ra.subject), el("td", {}, expiry(ra.notAfter, ra.daysLeft))));
      for (const next of p.nextCa || []) rows.push(el("tr", { "data-role": "next-ca" }, el("th", {}, "next CA"), el("td", {}, next.subject), el("td", {}, expiry(next.notAfter, next.daysLeft))));
      const outcomes = (p.counters && p.counters.outcomes) || {};
      root.append(
        el(
          "article",
          { class: "card", "data-profile": p.profile },
          el("h2", {}, p.profile),
          badges,
          el("table", { class: "certs" }, el("tbody", {}, rows)),
          el("p", { class: "counts" }, "requests: ", Object.keys(outcomes).length ? Object.entries(outcomes).map(([k, v]) => k + " " + v).join(" · ") : "none yet"),
          el("p", { class: "waiting" }, p.pending === null ? "waiting for approval: unknown (the transaction store is down)" : "waiting for approval: " + p.pending),
        ),
      );
    }
  }

  // --- Intune ---
  async function renderIntune(profiles) {
    const root = $("#intune-cards");
    root.replaceChildren();
    const intune = profiles.filter(isIntune);
    if (intune.length === 0) {
      root.append(el("p", {}, "No profile checks Intune challenges."));
      return;
    }
    const failures = (await call("activity?filter=intune&outcome=failure&limit=50")).body.activity || [];
    for (const p of intune) {
      const c = p.challenge;
      const reasons = Object.entries((p.counters && p.counters.reasons) || {}).sort((a, b) => b[1] - a[1]);
      const status = el("p", { class: "reload-status", role: "status" });
      if (reloadNotice && reloadNotice.profile === p.profile) {
        status.textContent = reloadNotice.text;
        status.dataset.kind = reloadNotice.kind;
        reloadNotice = null;
      }
      const button = el("button", { class: "reload", type: "button", "data-profile": p.profile }, "Reload trust anchors");
      button.addEventListener("click", async () => {
        if (!window.confirm("Reload the Intune trust anchors of " + p.profile + " from their file?")) {
          status.textContent = "Reload cancelled.";
          status.dataset.kind = "info";
          return;
        }
        button.disabled = true;
        try {
          const r = await call("reload-trust", { method: "POST", body: { profile: p.profile } });
          if (r.status === 200) {
            reloadNotice = { profile: p.profile, text: "Reloaded: " + r.body.anchors.length + " trust anchor(s).", kind: "ok" };
            await load();
          } else {
            status.textContent = "Reload failed: " + (r.body.error || "HTTP " + r.status);
            status.dataset.kind = "error";
          }
        } finally {
          button.disabled = false;
        }
      });
      const mine = failures.filter((f) => f.profile === p.profile);
      root.append(
        el(
          "article",
          { class: "card", "data-profile": p.profile },
          el("h2", {}, p.profile, c.mode ? el("small", {}, " " + c.mode) : null),
          el("h3", {}, "Requests by reason"),
          el("table", { class: "reasons" }, el("thead", {}, el("tr", {}, el("th", {}, "reason"), el("th", {}, "count"))), el("tbody", {}, reasons.map(([k, v]) => el("tr", { "data-reason": k }, el("td", {}, k), el("td", { class: "num" }, v))))),
          el("h3", {}, "Trust anchors"),
          el("table", { class: "anchors" }, el("tbody", {}, (c.trustAnchors || []).map((a) => el("tr", {}, el("td", {}, a.subject), el("td", {}, expiry(a.notAfter, a.daysLeft)))))),
          c.lastReloadError ? el("p", { class: "error" }, "Last reload failed: " + c.lastReloadError) : null,
          el("p", {}, button),
          status,
          el("h3", {}, "Recent failures"),
          mine.length
            ? el("table", { class: "failures" }, el("thead", {}, el("tr", {}, ["time", "reason", "failInfo", "subject", "transactionID"].map((h) => el("th", {}, h)))), el("tbody", {}, mine.map((f) => el("tr", {}, el("td", {}, f.time), el("td", {}, f.reason), el("td", {}, f.failInfo || ""), el("td", {}, f.subject || ""), el("td", { class: "mono" }, f.transactionId || "")))))
            : el("p", { class: "none" }, "No failures."),
        ),
      );
    }
  }

  // --- Recent activity (and pending requests) ---
  async function renderActivity() {
    for (const chip of document.querySelectorAll(".chip")) chip.setAttribute("aria-pressed", String(chip.dataset.filter === filter));
    const [activity, pending] = await Promise.all([call("activity?limit=200" + (filter === "all" ? "" : "&filter=" + encodeURIComponent(filter))), call("pending")]);
    const rows = (activity.body.activity || []).map((e) =>
      el(
        "tr",
        { "data-kind": e.kind, "data-challenge": e.challenge || "", "data-outcome": e.outcome },
        el("td", {}, e.time),
        el("td", {}, e.profile || ""),
        el("td", {}, e.kind),
        el("td", {}, e.challenge || ""),
        el("td", { class: "outcome-" + e.outcome }, e.outcome),
        el("td", {}, e.reason),
        el("td", {}, e.subject || ""),
        el("td", { class: "mono" }, e.clientAddress || ""),
      ),
    );
    $("#activity-table tbody").replaceChildren(...rows);
    $("#activity-empty").hidden = rows.length > 0;
    const list = pending.body.pending || [];
    $("#pending-table tbody").replaceChildren(
      ...list.map((t) =>
        el(
          "tr",
          { "data-transaction-id": t.transactionId },
          el("td", {}, t.profile),
          el("td", {}, t.subject),
          el("td", { class: "mono" }, t.transactionId),
          el("td", { class: "num" }, t.ageSeconds + " s"),
          el("td", {}, el("button", { type: "button", class: "approve", onclick: () => decide("approve", t) }, "Approve"), " ", el("button", { type: "button", class: "reject", onclick: () => decide("reject", t) }, "Reject")),
        ),
      ),
    );
    $("#pending-empty").hidden = list.length > 0;
  }

  async function decide(action, t) {
    const r = await call(action, { method: "POST", body: { transactionId: t.transactionId, profile: t.profile } });
    // An approval names the issued certificate's serial (the one the Certificates tab lists and revoke takes).
    if (r.status === 200) setStatus((action === "approve" ? "Approved " : "Rejected ") + t.subject + ": " + r.body.status + (r.body.serialNumber ? ", serial " + r.body.serialNumber : ""), "ok");
    else setStatus(action + " failed: " + (r.body.error || "HTTP " + r.status), "error");
    await renderActivity();
  }

  // --- tabs and loading ---
  function currentTab() {
    const t = new URLSearchParams(location.search).get("tab");
    return TABS.includes(t) ? t : "profiles";
  }

  function showTab(tab) {
    for (const t of TABS) {
      $("#tab-" + t).setAttribute("aria-selected", String(t === tab));
      $("#panel-" + t).hidden = t !== tab;
    }
  }

  async function load() {
    const tab = currentTab();
    showTab(tab);
    try {
      const profiles = (await call("profiles")).body.profiles || [];
      $("#login").hidden = true;
      $("#forget").hidden = false;
      if (tab === "profiles") renderProfiles(profiles);
      else if (tab === "intune") await renderIntune(profiles);
      else await renderActivity();
      document.body.dataset.loaded = tab;
    } catch (e) {
      if (!(e instanceof Refused)) setStatus("Could not load: " + e.message, "error");
    }
  }

  for (const t of TABS) {
    $("#tab-" + t).addEventListener("click", (event) => {
      event.preventDefault();
      const url = new URL(location.href);
      url.searchParams.set("tab", t);
      history.pushState(null, "", url);
      void load();
    });
  }
  for (const chip of document.querySelectorAll(".chip")) {
    chip.addEventListener("click", () => {
      filter = FILTERS.includes(chip.dataset.filter) ? chip.dataset.filter : "all";
      void renderActivity();
    });
  }
  window.addEventListener("popstate", () => void load());
  $("#login").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#token").value.trim();
    $("#token").value = "";
    if (value === "") return;
    sessionStorage.setItem(KEY, value);
    setStatus("", "info");
    void load();
  });
  $("#forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showLogin("Token forgotten.");
  });
  $("#refresh").addEventListener("click", () => void load());
  void load();
})();
