// The admin page at /admin/scep: server-rendered HTML (the tab shells, the active tab from ?tab=) and one small
// script (admin-page/app.js) that fills them from the admin API. No framework, no build step. The page holds no
// data and needs no token to load; the script asks for the token and keeps it in sessionStorage only.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/** Where the page is served. */
export const ADMIN_PAGE_PATH = "/admin/scep";
/** Where its script is served. */
export const ADMIN_SCRIPT_PATH = "/admin/scep/app.js";

/** The tabs, in order; `?tab=<id>` opens one (a deep link that survives reloads). */
export const ADMIN_TABS = [
  ["profiles", "Profiles"],
  ["intune", "Intune"],
  ["activity", "Recent activity"],
] as const;

const SCRIPT = readFileSync(new URL("./admin-page/app.js", import.meta.url), "utf8");
const STYLE = readFileSync(new URL("./admin-page/app.css", import.meta.url), "utf8");
const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

const HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

// Scripts only from this origin, the one inline style by its hash, API calls to this origin, no framing.
const CSP = `default-src 'none'; script-src 'self'; style-src 'sha256-${STYLE_HASH}'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function tabFrom(url: URL): string {
  const t = url.searchParams.get("tab");
  return ADMIN_TABS.some(([id]) => id === t) ? (t as string) : "profiles";
}

/**
 * The page: header with the token form, tabs Profiles / Intune / Recent activity (the one `?tab=` names is
 * rendered open), an empty panel per tab that the script fills. `content-security-policy` allows only the
 * page's own script and its inline style.
 */
export function adminPageHtml(url: URL): Response {
  const active = tabFrom(url);
  const tabs = ADMIN_TABS.map(
    ([id, label]) => `<a role="tab" id="tab-${id}" href="?tab=${id}" aria-controls="panel-${id}" aria-selected="${id === active}">${label}</a>`,
  ).join("");
  const hidden = (id: string): string => (id === active ? "" : " hidden");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SCEP admin</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>SCEP admin</h1>
<form id="login" autocomplete="off" hidden>
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" size="28">
<button type="submit">Use token</button>
<span id="login-message"></span>
</form>
<button type="button" id="refresh">Refresh</button>
<button type="button" id="forget" hidden>Forget token</button>
<span id="status" role="status"></span>
</header>
<nav role="tablist">${tabs}</nav>
<section id="panel-profiles" role="tabpanel" aria-labelledby="tab-profiles"${hidden("profiles")}>
<div id="profiles-cards" class="cards"></div>
</section>
<section id="panel-intune" role="tabpanel" aria-labelledby="tab-intune"${hidden("intune")}>
<div id="intune-cards" class="cards"></div>
</section>
<section id="panel-activity" role="tabpanel" aria-labelledby="tab-activity"${hidden("activity")}>
<h2>Pending requests</h2>
<table id="pending-table"><thead><tr><th>profile</th><th>subject</th><th>transactionID</th><th>age</th><th></th></tr></thead><tbody></tbody></table>
<p id="pending-empty" hidden>Nothing is waiting for a decision.</p>
<h2>Recent requests</h2>
<div class="chips" role="group" aria-label="filter">
<button type="button" class="chip" data-filter="all" aria-pressed="true">All</button>
<button type="button" class="chip" data-filter="initial" aria-pressed="false">Initial</button>
<button type="button" class="chip" data-filter="renewal" aria-pressed="false">Renewal</button>
<button type="button" class="chip" data-filter="intune" aria-pressed="false">Intune</button>
<button type="button" class="chip" data-filter="static" aria-pressed="false">Static</button>
</div>
<table id="activity-table"><thead><tr><th>time</th><th>profile</th><th>kind</th><th>challenge</th><th>outcome</th><th>reason</th><th>subject</th><th>client</th></tr></thead><tbody></tbody></table>
<p id="activity-empty" hidden>No requests match.</p>
</section>
<script src="${ADMIN_SCRIPT_PATH}"></script>
</body>
</html>
`;
  return new Response(html, { status: 200, headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": CSP, ...HEADERS } });
}

/** The page's script. */
export function adminPageScript(): Response {
  return new Response(SCRIPT, { status: 200, headers: { "content-type": "text/javascript; charset=utf-8", ...HEADERS } });
}
