/**
 * The in-process {@link Upstream}: RFC 8894 §4 against any `{ fetch(Request) }`
 * handler in the same process (a `@scep/core` `createScepServer`, a test
 * double), without a socket.
 *
 * @module
 */
import type { CaConfig } from "../cas/ca-config.js";
import { HttpUpstream, type HttpUpstreamOptions } from "./http-upstream.js";
import type { Upstream, UpstreamCallOptions, UpstreamResponse } from "./upstream.js";
import { objectOption } from "../lib/options.js";
import { abortable } from "@scep/core/internal";

/**
 * What {@link FetchHandlerUpstream} forwards to: the shape of `@scep/core`'s
 * `FetchHandler` (`createScepServer` returns one).
 *
 * @group Upstream
 */
export interface UpstreamFetchHandler {
  /** Answers one web-standard request. */
  fetch(request: Request): Promise<Response>;
}

/**
 * Options of {@link FetchHandlerUpstream}: those of {@link HttpUpstream}
 * except `fetch` (the handler takes its place).
 *
 * @group Upstream
 */
export type FetchHandlerUpstreamOptions = Omit<HttpUpstreamOptions, "fetch">;

/** Statuses whose Response may not have a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * An {@link Upstream} that hands each request to `handler.fetch` in the same
 * process: the same requests, choices and checks as {@link HttpUpstream}
 * (GetCACaps cached for `capsTtlMs` to choose POST or GET, the device's
 * message forwarded byte for byte, content types checked, `timeoutMs` and
 * size limits, the caller's `AbortSignal`), with `CaConfig.url` giving the
 * request's URL (the handler routes on its path, e.g.
 * `http://in-process/scep`). A handler that never answers, or a body that
 * stalls, still ends at the deadline or the abort: the call does not wait
 * for the handler.
 *
 * Errors: `UpstreamError` (`ERR_PROXY_UPSTREAM`): reason `http` with `status`
 * for a non-2xx answer, `timeout` past `timeoutMs`, `other` for a handler
 * that throws, an abort by the caller, a wrong content type or an oversized
 * body. Messages never name the URL.
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore, createScepServer } from "@scep/core";
 * import { FetchHandlerUpstream, MemoryCaRegistry, MemoryProfileStore, createScepProxy } from "@scep/proxy";
 *
 * declare const server: ReturnType<typeof createScepServer>; // your CA, serving path /scep
 * const proxy = createScepProxy({
 *   profiles: new MemoryProfileStore(),
 *   challenges: new MemoryChallengeStore(),
 *   cas: new MemoryCaRegistry([{ name: "local", type: "custom", url: "http://in-process/scep" }]),
 *   upstream: new FetchHandlerUpstream(server, { timeoutMs: 5_000 }),
 * });
 * ```
 *
 * @throws {@link ProxyConfigError} (`ERR_PROXY_CONFIG`) from the constructor for a limit out of its range or a
 * `userAgent` that is no HTTP field value (as {@link HttpUpstream}'s), or a `handler` without a `fetch` function.
 *
 * @group Upstream
 */
export class FetchHandlerUpstream implements Upstream {
  readonly #http: HttpUpstream;

  constructor(handler: UpstreamFetchHandler, options: FetchHandlerUpstreamOptions = {}) {
    objectOption("handler", handler, "FetchHandler", ["fetch"]);
    this.#http = new HttpUpstream({
      ...options,
      fetch: async (input, init) => {
        const signal = init?.signal ?? undefined;
        signal?.throwIfAborted();
        const request = new Request(input, init);
        const answer = Promise.resolve().then(() => handler.fetch(request));
        const response = signal ? await abortable(answer, signal) : await answer;
        if (!signal || !response.body || NULL_BODY.has(response.status)) return response;
        // The body too ends at the abort or the deadline, whatever the handler's stream does.
        const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), { signal });
        return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
      },
    });
  }

  /** {@inheritDoc Upstream.getCACaps} */
  getCACaps(ca: CaConfig, options?: UpstreamCallOptions): Promise<UpstreamResponse> {
    return this.#http.getCACaps(ca, options);
  }

  /** {@inheritDoc Upstream.getCACert} */
  getCACert(ca: CaConfig, message: string | undefined, options?: UpstreamCallOptions): Promise<UpstreamResponse> {
    return this.#http.getCACert(ca, message, options);
  }

  /** {@inheritDoc Upstream.pkiOperation} */
  pkiOperation(ca: CaConfig, message: Uint8Array, options?: UpstreamCallOptions): Promise<UpstreamResponse> {
    return this.#http.pkiOperation(ca, message, options);
  }
}
