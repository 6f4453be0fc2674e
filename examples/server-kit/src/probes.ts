// Liveness and readiness probes for orchestrators, answered before any framework (no crypto, no I/O: each check
// reads cached state), shared by the example servers and the example proxy:
//   GET /healthz  200 "ok" while the process serves requests (liveness)
//   GET /readyz   200 {"status":"ready","checks":{…}} when every check passes, else 503 {"status":"not ready",…}
import type { IncomingMessage, ServerResponse } from "node:http";

/** The probe paths. */
export const PROBE_PATHS = ["/healthz", "/readyz"] as const;

/** Named readiness checks (`ca`, `redis`, …): each returns whether that part can serve now, from cached state only. */
export type ProbeChecks = Readonly<Record<string, () => boolean>>;

/** Writes a whole small response: no caching, an exact Content-Length. */
export function sendPlain(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8", headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * Answers `/healthz` or `/readyz` (GET or HEAD; any other method 405 with `Allow`) and returns true; returns false,
 * having written nothing, for any other path. `/readyz` is 200 when every check passes (no checks: ready), else 503;
 * its JSON body names each check `ok` or `down`.
 */
export function answerProbe(req: IncomingMessage, res: ServerResponse, path: string, checks: ProbeChecks): boolean {
  if (!(PROBE_PATHS as readonly string[]).includes(path)) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendPlain(res, 405, "method not allowed\n", undefined, { allow: "GET, HEAD" });
    return true;
  }
  if (path === "/healthz") {
    sendPlain(res, 200, "ok\n");
    return true;
  }
  const results: Record<string, "ok" | "down"> = {};
  for (const [name, check] of Object.entries(checks)) results[name] = check() ? "ok" : "down";
  const ready = Object.values(results).every((v) => v === "ok");
  sendPlain(res, ready ? 200 : 503, JSON.stringify({ status: ready ? "ready" : "not ready", checks: results }) + "\n", "application/json");
  return true;
}

/**
 * The answer of a process that is alive but cannot serve yet (an example server waiting for Redis at start):
 * `/healthz` 200 (a liveness probe must not restart it), `/readyz` 503 `{"status":"not ready","reason":…,"checks":{…}}`
 * with `Retry-After`, and any other request 503 with `Retry-After` and `reason` as its text. `checks` names what is
 * down (e.g. `{ redis: "down" }`). A probe path with a method other than GET or HEAD: 405, as {@link answerProbe}.
 */
export function answerNotReadyYet(req: IncomingMessage, res: ServerResponse, path: string, reason: string, checks: Readonly<Record<string, "ok" | "down">>, retryAfterSeconds = 1): void {
  const retryAfter = { "retry-after": String(retryAfterSeconds) };
  if (path === "/readyz" && (req.method === "GET" || req.method === "HEAD")) {
    return sendPlain(res, 503, JSON.stringify({ status: "not ready", reason, checks }) + "\n", "application/json", retryAfter);
  }
  if (answerProbe(req, res, path, {})) return;
  sendPlain(res, 503, `${reason}\n`, undefined, retryAfter);
}
