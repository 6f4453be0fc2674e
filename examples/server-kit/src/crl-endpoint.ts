// The embedded CA's CRL over HTTP (RFC 5280 §5, served as RFC 2585's application/pkix-crl), and the
// schedule that keeps a signed copy in the data directory fresh.
import { isScepError, isStoreUnavailable } from "@scep/core";
import { errorFields } from "./store-unavailable.js";
import type { FileCa, SignedCrl } from "@scep-examples/embedded-ca";

/** Where the example servers serve the CRL (GET and HEAD; DER). */
export const CRL_PATH = "/scep/ca.crl";

/** File in the data directory where `FileCa.crl()` publishes the current CRL (DER). */
export const CRL_FILE = "ca.crl";

/** The CRL endpoint: a fetch-style handler with a cheap `owns(path)`, mounted like the SCEP server. */
export interface CrlEndpoint {
  /** Whether `path` is one it serves ({@link CRL_PATH}, or a key of the map it was created with). */
  owns(path: string): boolean;
  /**
   * 200 with the DER CRL (`content-type: application/pkix-crl`), 405 for other methods, 503 + Retry-After when the
   * revocation store is down (then one `{ type: "crl-failed", path, status: 503, code, error }` line to `log`), 500
   * when the CA's CRL numbers are used up (`ERR_CRL_NUMBER_EXHAUSTED`: past 2^159 - 1, RFC 5280 §5.2.3; a new CA is
   * needed; one `crl-failed` line with status 500).
   */
  fetch(request: Request): Promise<Response>;
}

/**
 * Serves `ca.crl()` at {@link CRL_PATH} (or each CA's at its path, given a map path → CA): DER,
 * `content-type: application/pkix-crl` (RFC 2585 §4.2), `cache-control: public, max-age=60` (a revocation shows
 * within a minute even behind a cache), `last-modified` = thisUpdate and `expires` = nextUpdate. `log`, when given,
 * hears why a request was answered 503 (the store is down) or 500 (the CA's CRL numbers are used up,
 * `ERR_CRL_NUMBER_EXHAUSTED`): `{ type: "crl-failed", path, status, code, error }` (`error`: the first line of the
 * error's message), the cause the body does not show.
 *
 * @example
 * ```ts
 * const crl = createCrlEndpoint(ca);
 * if (crl.owns(new URL(request.url).pathname)) return crl.fetch(request);
 * ```
 */
export function createCrlEndpoint(cas: FileCa | ReadonlyMap<string, FileCa>, log?: (entry: Record<string, unknown>) => void): CrlEndpoint {
  const at: ReadonlyMap<string, FileCa> = cas instanceof Map ? cas : new Map([[CRL_PATH, cas as FileCa]]);
  return {
    owns: (path) => at.has(path),
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const ca = at.get(path);
      if (!ca) return new Response("not found\n", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
      if (request.method !== "GET" && request.method !== "HEAD") return new Response("use GET\n", { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" } });
      let crl: SignedCrl;
      try {
        crl = await ca.crl();
      } catch (e) {
        if (isStoreUnavailable(e)) {
          const { code, message } = errorFields(e);
          log?.({ type: "crl-failed", path, status: 503, code, error: message });
          return new Response("the revocation store is unavailable; try again\n", { status: 503, headers: { "retry-after": "30", "content-type": "text/plain; charset=utf-8" } });
        }
        if (isScepError(e) && e.code === "ERR_CRL_NUMBER_EXHAUSTED") {
          // Not the client's doing and not passing: the CA's CRL numbers reached RFC 5280 §5.2.3's 20 octets.
          const { code, message } = errorFields(e);
          log?.({ type: "crl-failed", path, status: 500, code, error: message });
          return new Response("the CA can sign no further CRL: its CRL numbers are used up (RFC 5280 §5.2.3)\n", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
        }
        throw e;
      }
      const headers = {
        "content-type": "application/pkix-crl",
        "content-length": String(crl.der.byteLength),
        "cache-control": "public, max-age=60",
        "last-modified": crl.thisUpdate.toUTCString(),
        expires: crl.nextUpdate.toUTCString(),
      };
      return new Response(request.method === "HEAD" ? null : crl.der, { status: 200, headers });
    },
  };
}

/**
 * Signs the CRL now and every `intervalMs` (when `ca.crl()` decides it is due: half its validity
 * passed, or the revocations changed); `ca.crl()` publishes each new one to `<dataDir>/ca.crl` itself (under a lock,
 * temporary file + rename, only over a lower CRL number: the workers of one data directory never put an older CRL
 * back, RFC 5280 §5.2.3). Logs
 * `{ type: "crl", crlNumber, revoked, thisUpdate, nextUpdate }` per new CRL after the first and `{ type: "crl-failed", code, error }`
 * when signing or writing fails (the next round tries again; `ERR_CRL_NUMBER_EXHAUSTED` says no round will succeed). The timer does not keep the process alive.
 *
 * @returns `first` (the round started now: resolves with its CRL, or undefined when it failed and was logged; never
 * rejects; a server on Redis awaits it before it serves, so the published CRL's revocations the store lost are back
 * in it first), `refresh()` (sign now if due; the admin API calls it after a revocation; never rejects) and `stop()`
 * (no more rounds; resolves once a CRL being signed or written is on disk, so the data directory and the
 * revocation store can then be closed or removed).
 */
export function scheduleCrl(
  ca: FileCa,
  intervalMs: number,
  log: (entry: Record<string, unknown>) => void,
): { first: Promise<SignedCrl | undefined>; refresh(): Promise<SignedCrl | undefined>; stop(): Promise<void> } {
  // setInterval takes at most 2^31 − 1 ms (longer fires at once, every millisecond).
  intervalMs = Math.min(Math.max(1000, intervalMs), 2_147_483_647);
  let last: bigint | undefined;
  let first = true;
  const running = new Set<Promise<SignedCrl | undefined>>();
  const refresh = (): Promise<SignedCrl | undefined> => {
    const round = refreshOnce();
    running.add(round);
    void round.finally(() => running.delete(round));
    return round;
  };
  const refreshOnce = async (): Promise<SignedCrl | undefined> => {
    try {
      const crl = await ca.crl();
      if (crl.crlNumber !== last) {
        last = crl.crlNumber;
        // The first one is part of starting (the banner names the CRL); later ones are news.
        if (!first) log({ type: "crl", crlNumber: String(crl.crlNumber), revoked: crl.revokedCount, thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate.toISOString() });
        first = false;
      }
      return crl;
    } catch (e) {
      // errorFields never throws (what was thrown may be no Error): a throw here would leave the round's promise
      // rejected, an unhandled rejection through `void refresh()` of the timer.
      const { code, message } = errorFields(e);
      log({ type: "crl-failed", code, error: message });
      return undefined;
    }
  };
  const firstRound = refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return {
    first: firstRound,
    refresh,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(running);
    },
  };
}
