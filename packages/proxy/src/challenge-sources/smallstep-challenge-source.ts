/**
 * Challenges from Smallstep's SCEP challenge webhook (the Jamf-style
 * `SCEPChallenge` webhook Smallstep's MDM integrations answer).
 *
 * @module
 */
import { toBase64 } from "@scep/core";
import type { CaConfig } from "../cas/ca-config.js";
import { type ChallengeSource, type FetchedChallenge, fitsPrintableString } from "./challenge-source.js";
import { ChallengeSourceError } from "../errors.js";
import { deadline } from "../lib/deadline.js";
import { transportFailure } from "../lib/net-errors.js";
import { BODY_BYTES, TIMER_MS, functionOption, integerOption } from "../lib/options.js";
import { callerAbort, readCapped } from "@scep/core/internal";
import {
  ChallengeSourceConfigError,
  SmallstepAuthError,
  SmallstepEmptyError,
  SmallstepHttpStatusError,
  SmallstepInvalidChallengeError,
  SmallstepTimeoutError,
  SmallstepTransportError,
  TRANSPORT_FAILURE_TEXT,
} from "./errors.js";
import { CONTROL_CHARACTER, MAX_CHALLENGE_CHARS, opensAsHtmlDocument } from "../lib/text.js";
import { basicCredentialsFault } from "../lib/url-credentials.js";

/**
 * The JSON body POSTed to the Smallstep challenge webhook: Jamf Pro's
 * `SCEPChallenge` webhook event, which Smallstep's integration endpoints
 * accept (field names as Fleet sends them).
 *
 * @group Challenge sources
 */
export interface SmallstepChallengeRequest {
  /** The webhook that fired. */
  webhook: {
    /** Always `"SCEPChallenge"`. */
    webhookEvent: "SCEPChallenge";
    /** Webhook id; always 1. */
    id: number;
    /** When the event fired, in seconds since the epoch (injected clock). */
    eventTimestamp: number;
    /** Webhook name; `"SCEPChallenge"`. */
    name: string;
  };
  /** The profile being rendered. */
  event: {
    /** The CA's SCEP URL (`CaConfig.url`). */
    scepServerUrl: string;
    /** A fresh upper-case UUID per request, standing for the profile's PayloadIdentifier. */
    payloadIdentifier: string;
    /** `["com.apple.security.scep"]`. */
    payloadTypes: string[];
  };
}

/**
 * Options of {@link SmallstepChallengeSource}.
 *
 * @group Challenge sources
 */
export interface SmallstepChallengeSourceOptions {
  /** Clock for `retrievedAt` and `eventTimestamp`. Default `() => new Date()`. */
  now?: () => Date;
  /** Deadline for one fetch (connect, answer and body), in ms. Default 30 000. An integer from 1 to 2 147 483 647 (ms), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  timeoutMs?: number;
  /** Largest response read, in bytes. Default 64 KiB. An integer from 1 to 1 073 741 824 (bytes), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  maxBodyBytes?: number;
  /** The `fetch` to use (a proxy-aware one, or a test double). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** PayloadIdentifier generator. Default `crypto.randomUUID()` in upper case. */
  payloadIdentifier?: () => string;
}

/**
 * A {@link ChallengeSource} for CAs of type `smallstep`: POSTs a
 * {@link SmallstepChallengeRequest} to `ca.smallstep.webhookUrl` with Basic
 * authentication; the whole 200 body (UTF-8, surrounding whitespace trimmed)
 * is the challenge.
 *
 * Not step-ca's own `SCEPCHALLENGE` webhook: that one goes the other way
 * (step-ca POSTs `{scepChallenge, scepTransactionID, …}` to a validator and
 * expects `{allow}`); this source asks Smallstep for a challenge to put in a
 * profile, as an MDM does.
 *
 * `retrievedAt` is the injected clock's time when the request was sent.
 *
 * Errors (all `ChallengeSourceError`s):
 * - `ERR_PROXY_SMALLSTEP_AUTH`: 401 or 403;
 * - `ERR_PROXY_SMALLSTEP_HTTP_STATUS` (`status`; retryable for 5xx/429): any other non-200;
 * - `ERR_PROXY_SMALLSTEP_EMPTY`: 200 with an empty body;
 * - `ERR_PROXY_SMALLSTEP_INVALID`: over 255 characters, not UTF-8, control characters, an HTML page (a body opening
 *   with `<!DOCTYPE html` or `<html`, whatever its `Content-Type`: a plain challenge sent as `text/html` is taken), or
 *   over `maxBodyBytes`;
 * - `ERR_PROXY_SMALLSTEP_TIMEOUT`, `ERR_PROXY_SMALLSTEP_TRANSPORT` (retryable);
 * - `ERR_PROXY_CHALLENGE_SOURCE_CONFIG`: `ca` is not of type `smallstep` or lacks `smallstep` settings, its
 *   `webhookUrl` is not an absolute http(s) URL or holds user info, or its `username` holds a colon or a control
 *   character or its `password` a control character (RFC 7617 §2: HTTP Basic cannot carry them); nothing is sent.
 *   `MemoryCaRegistry` refuses such settings when the CA is configured.
 * - `ERR_PROXY_CONFIG` ({@link ProxyConfigError}, from the constructor): `timeoutMs` or `maxBodyBytes` is not a positive integer.
 *
 * @example
 * ```ts
 * import { SmallstepChallengeSource, type CaConfig } from "@scep/proxy";
 *
 * const ca: CaConfig = {
 *   name: "smallstep",
 *   type: "smallstep",
 *   url: "https://agents.example.scep.smallstep.com/p/agents/integration-mdm",
 *   smallstep: { webhookUrl: "https://example.scep.smallstep.com/webhooks/challenge", username: "mdm", password: "…" },
 * };
 * const { challenge, retrievedAt } = await new SmallstepChallengeSource().fetchChallenge(ca);
 * ```
 * @group Challenge sources
 */
export class SmallstepChallengeSource implements ChallengeSource {
  readonly #now: () => Date;
  readonly #timeoutMs: number;
  readonly #maxBody: number;
  readonly #fetch: typeof fetch;
  readonly #payloadIdentifier: () => string;

  /** @throws ProxyConfigError `ERR_PROXY_CONFIG` for a `timeoutMs` / `maxBodyBytes` out of range, or a `now`, `fetch` or `payloadIdentifier` that is not a function. */
  constructor(options: SmallstepChallengeSourceOptions = {}) {
    for (const name of ["now", "fetch", "payloadIdentifier"] as const) functionOption(name, options[name]);
    this.#now = options.now ?? (() => new Date());
    this.#timeoutMs = integerOption("timeoutMs", options.timeoutMs, 30_000, TIMER_MS);
    this.#maxBody = integerOption("maxBodyBytes", options.maxBodyBytes, 64 * 1024, BODY_BYTES);
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#payloadIdentifier = options.payloadIdentifier ?? (() => crypto.randomUUID().toUpperCase());
  }

  /**
   * Fetches one challenge from `ca`'s Smallstep webhook.
   *
   * @param ca - A CA of type `smallstep` with `smallstep` settings.
   * @param options - `signal` aborts the fetch: the promise rejects with its reason, except for a deadline (a
   *   `TimeoutError` reason, as `AbortSignal.timeout` gives), which is this source's own `SmallstepTimeoutError`
   *   (`ERR_PROXY_SMALLSTEP_TIMEOUT`, retryable) whichever deadline passed first.
   * @returns The challenge and the time (ms since the epoch) the request was sent.
   * @throws ChallengeSourceError with the codes listed on the class.
   */
  async fetchChallenge(ca: CaConfig, options: { signal?: AbortSignal } = {}): Promise<FetchedChallenge> {
    if (ca.type !== "smallstep" || !ca.smallstep) {
      throw new ChallengeSourceConfigError(`CA "${ca.name}" is not a Smallstep CA with smallstep settings (webhookUrl, username, password)`);
    }
    let url: URL;
    try {
      url = new URL(ca.smallstep.webhookUrl);
    } catch (e) {
      throw new ChallengeSourceConfigError("Smallstep webhook URL is not a valid URL", { cause: e });
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new ChallengeSourceConfigError("Smallstep webhook URL must be http: or https:");
    if (url.username || url.password) throw new ChallengeSourceConfigError("Smallstep webhook URL must not hold credentials; pass them as username/password");
    // A CA from a registry that did not check its settings (MemoryCaRegistry refuses these): nothing is sent.
    const { username, password } = ca.smallstep as { username: unknown; password: unknown };
    if (typeof username !== "string" || typeof password !== "string") throw new ChallengeSourceConfigError("Smallstep settings: username and password must be strings");
    const fault = basicCredentialsFault(username, password, { username: "Smallstep username", password: "Smallstep password" });
    if (fault !== undefined) throw new ChallengeSourceConfigError(fault);
    if (options.signal?.aborted) throw callerAbort(options.signal, callerDeadline);

    const sent = this.#now();
    const body: SmallstepChallengeRequest = {
      webhook: { webhookEvent: "SCEPChallenge", id: 1, eventTimestamp: Math.floor(sent.getTime() / 1000), name: "SCEPChallenge" },
      event: { scepServerUrl: ca.url, payloadIdentifier: this.#payloadIdentifier(), payloadTypes: ["com.apple.security.scep"] },
    };
    const basic = toBase64(new TextEncoder().encode(`${username}:${password}`));

    const limit = deadline(this.#timeoutMs, options.signal);
    try {
      const res = await this.#fetch(url, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/json", accept: "text/plain, */*" },
        body: JSON.stringify(body),
        redirect: "manual",
        signal: limit.signal,
      });
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        if (res.status === 401 || res.status === 403) throw new SmallstepAuthError(`Smallstep webhook refused the credentials (HTTP ${res.status})`);
        throw new SmallstepHttpStatusError(`Smallstep webhook answered HTTP ${res.status}`, res.status);
      }
      const bytes = await readCapped(res.body, this.#maxBody, limit.signal);
      if (bytes === "too-large") throw new SmallstepInvalidChallengeError(`Smallstep webhook answered more than ${this.#maxBody} bytes`);
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes).trim();
      } catch (e) {
        throw new SmallstepInvalidChallengeError("Smallstep webhook answered a body that is not UTF-8", { cause: e });
      }
      if (text.length === 0) throw new SmallstepEmptyError("Smallstep webhook answered 200 with an empty body");
      // A login or error page (an access gateway in front of the webhook) is no challenge, though one line of it fits.
      if (opensAsHtmlDocument(text)) throw new SmallstepInvalidChallengeError("Smallstep webhook answered an HTML page, not a challenge");
      if (text.length > MAX_CHALLENGE_CHARS) throw new SmallstepInvalidChallengeError(`Smallstep webhook answered ${text.length} characters; a challenge has at most ${MAX_CHALLENGE_CHARS}`);
      // C0 controls and DEL only: C1 code points (U+0080–U+009F) are legal in a UTF8String challenge.
      if (CONTROL_CHARACTER.test(text)) throw new SmallstepInvalidChallengeError("Smallstep webhook answered a body with control characters");
      return { challenge: text, retrievedAt: sent.getTime(), printableString: fitsPrintableString(text) };
    } catch (e) {
      if (limit.expired) throw new SmallstepTimeoutError(`Smallstep webhook did not answer within ${this.#timeoutMs} ms`, { cause: e });
      if (options.signal?.aborted) throw callerAbort(options.signal, callerDeadline);
      if (e instanceof ChallengeSourceError) throw e; // already typed
      const reason = transportFailure(e);
      throw new SmallstepTransportError(`Smallstep webhook: ${TRANSPORT_FAILURE_TEXT[reason]}`, reason, { cause: e });
    } finally {
      limit.clear();
    }
  }
}

/** The caller's deadline passed: a timeout like this source's own. */
const callerDeadline = (cause: unknown): Error => new SmallstepTimeoutError("Smallstep webhook did not answer before the caller's deadline", { cause });
