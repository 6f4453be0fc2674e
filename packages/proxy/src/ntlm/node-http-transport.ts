/**
 * An HTTP GET with NTLM authentication over one keep-alive connection (the
 * only module of the challenge sources that imports `node:`: `fetch` cannot
 * pin a request to a connection, and IIS binds an NTLM handshake to the TCP
 * connection it started on).
 *
 * @module
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { TLSSocket } from "node:tls";
import { ChallengeSourceError } from "../errors.js";
import { transportFailure } from "../lib/net-errors.js";
import { BODY_BYTES, TIMER_MS, booleanOption, integerOption } from "../lib/options.js";
import {
  ChallengeSourceConfigError,
  NdesAuthError,
  NdesAuthSchemeError,
  NdesTimeoutError,
  NdesTransportError,
  NdesUnknownPageError,
  TRANSPORT_FAILURE_TEXT,
} from "../challenge-sources/errors.js";
import { Certificate } from "@scep/core";
import { AvId, decodeChallengeMessage, encodeAuthenticateMessage, encodeNegotiateMessage, NEGOTIATE_FLAGS, NtlmFlags, withAvPair } from "./messages.js";
import { computeNtlmv2Response, fileTime, ntowfv2 } from "./ntlmv2.js";
import { callerAbort } from "@scep/core/internal";

/**
 * Account an NTLM or Basic exchange authenticates as.
 *
 * @group NTLM
 */
export interface NtlmCredentials {
  /** `user`, `DOMAIN\user` or a UPN (`user@corp.example`). */
  username: string;
  /** The account's password. Never logged, never in an error message. */
  password: string;
  /** NetBIOS domain; overrides the one in `DOMAIN\user`. Default: that one, else empty. */
  domain?: string;
  /** Workstation name sent in AUTHENTICATE. Default empty (the host name is not disclosed). */
  workstation?: string;
}

/**
 * Options of {@link ntlmHttpGet}.
 *
 * @group NTLM
 */
export interface NtlmHttpGetOptions {
  /** Who to authenticate as. */
  credentials: NtlmCredentials;
  /**
   * `"proactive"` (default): the first request already carries the NTLM
   * NEGOTIATE message, for WAFs and access gateways (Okta) that drop an
   * unauthenticated request. `"reactive"`: the first request goes without
   * `Authorization` and NTLM starts after a 401 `WWW-Authenticate: NTLM`; if
   * the connection is dropped instead, it is retried once proactively.
   */
  mode?: "proactive" | "reactive";
  /** Use Basic when the server offers only Basic. Default true. */
  allowBasic?: boolean;
  /** Also send Basic over plain `http:` (the password then crosses the network in clear). Default false. */
  allowBasicOverHttp?: boolean;
  /** Deadline for the whole exchange, handshake included, in ms. Default 30 000. An integer from 1 to 2 147 483 647 (ms), else `ProxyConfigError` (`ERR_PROXY_CONFIG`). */
  timeoutMs?: number;
  /**
   * Aborts the exchange; the promise then rejects with the signal's reason, except for a deadline (a `TimeoutError`
   * reason, as `AbortSignal.timeout` gives): `NdesTimeoutError` (`ERR_PROXY_NDES_TIMEOUT`), as past `timeoutMs`.
   */
  signal?: AbortSignal;
  /** Largest body read, in bytes. Default 1 MiB (an NDES page is about 2 KiB). An integer from 1 to 1 073 741 824 (bytes), else `ProxyConfigError` (`ERR_PROXY_CONFIG`). */
  maxBodyBytes?: number;
  /** Clock for the NTLMv2 timestamp when the server's CHALLENGE carries none. Default `() => new Date()`. */
  now?: () => Date;
  /** TLS settings for `https:` URLs: `ca`, the CA certificates (PEM) to verify against instead of Node's built-in list (Node's `ca`), and whether to verify the server. */
  tls?: { ca?: string | string[]; rejectUnauthorized?: boolean };
  /**
   * Over `https:`, add the connection's channel binding to the NTLM AUTHENTICATE message (MsvAvChannelBindings,
   * MS-NLMP §2.2.2.1, of the server certificate's RFC 5929 §4 `tls-server-end-point` hash), as IIS requires under
   * Extended Protection for Authentication. Default true. Set false when the certificate this process sees is not the
   * one IIS holds (a TLS-inspecting egress proxy, a load balancer that re-encrypts): IIS with Extended Protection
   * "Accept" or "Required" refuses a wrong binding, while "Accept" (or off) takes none; "Required" then cannot work.
   * Not a boolean: `ProxyConfigError` (`ERR_PROXY_CONFIG`). No effect over `http:` or on Basic.
   */
  channelBinding?: boolean;
}

/**
 * Result of {@link ntlmHttpGet}: the final response, after authentication.
 *
 * @group NTLM
 */
export interface NtlmHttpResponse {
  /** HTTP status of the final response (never 401: that throws). */
  status: number;
  /** The Content-Type header, or null. */
  contentType: string | null;
  /** The body's bytes. */
  body: Uint8Array;
  /** How the request was authenticated in the end. */
  scheme: "NTLM" | "Negotiate" | "Basic" | "none";
}

interface RawResponse {
  status: number;
  contentType: string | null;
  /** The Location header, or null. */
  location: string | null;
  challenges: Map<string, string>;
  body: Uint8Array;
  reusedSocket: boolean;
  /** The TLS server certificate of the connection (DER), for `https:`; undefined over plain HTTP. */
  peerCertificate: Uint8Array | undefined;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 1024 * 1024;

/** `WWW-Authenticate` challenges by lower-case scheme → token (empty when bare). */
function authChallenges(res: http.IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i]?.toLowerCase() !== "www-authenticate") continue;
    for (const piece of (res.rawHeaders[i + 1] ?? "").split(",")) {
      const m = /^\s*([A-Za-z0-9_-]+)(?:\s+([A-Za-z0-9+/=]+))?\s*$/.exec(piece);
      const scheme = m?.[1]?.toLowerCase();
      if (scheme && !out.has(scheme)) out.set(scheme, m?.[2] ?? "");
      else if (!m) {
        const basic = /^\s*basic\b/i.exec(piece);
        if (basic && !out.has("basic")) out.set("basic", "");
      }
    }
  }
  return out;
}

function splitUser(c: NtlmCredentials): { user: string; domain: string } {
  const slash = c.username.indexOf("\\");
  if (slash >= 0) return { domain: c.domain ?? c.username.slice(0, slash), user: c.username.slice(slash + 1) };
  return { user: c.username, domain: c.domain ?? "" };
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function utf8b64(s: string): string {
  return Buffer.from(s, "utf8").toString("base64");
}

/**
 * GETs `url` authenticating with NTLMv2 (MS-NLMP §3.1.5: NEGOTIATE →
 * CHALLENGE → AUTHENTICATE over one keep-alive connection, `Authorization:
 * NTLM` or `Negotiate` carrying raw NTLMSSP tokens), or with Basic when the
 * server offers only Basic. Over `https:` the AUTHENTICATE message carries the
 * connection's channel binding (MsvAvChannelBindings, RFC 5929
 * `tls-server-end-point`), which IIS requires under Extended Protection for
 * Authentication, unless `channelBinding` is false. Used by {@link NdesChallengeSource} to read the
 * NDES admin page; usable for any IIS page behind Windows authentication.
 *
 * A redirect (301, 302, 303, 307, 308) to the same origin (scheme, host and port) is followed, authenticating again
 * there, 3 times at most: IIS answers `…/certsrv/mscep_admin` (no trailing slash) with 301 to
 * `…/certsrv/mscep_admin/`. A redirect elsewhere is not (the credentials stay with the host named): it is the
 * response returned. `timeoutMs` bounds every hop together.
 *
 * @param url - An `http:` or `https:` URL without user info.
 * @param options - Credentials, mode, limits.
 * @returns The first non-401 response that is not a redirect followed, with its body.
 * @throws {@link NdesAuthError} (`ERR_PROXY_NDES_AUTH`) on 401 after a complete handshake or to Basic.
 * @throws {@link NdesAuthSchemeError} (`ERR_PROXY_NDES_AUTH_SCHEME`) when no usable scheme is offered.
 * @throws {@link NtlmMessageError} (`ERR_PROXY_NTLM_MESSAGE`) for a malformed CHALLENGE message.
 * @throws {@link NdesTimeoutError} (`ERR_PROXY_NDES_TIMEOUT`) past `timeoutMs`, or when `signal` aborts with a `TimeoutError`.
 * @throws {@link NdesTransportError} (`ERR_PROXY_NDES_TRANSPORT`) when the connection fails.
 * @throws {@link NdesUnknownPageError} (`ERR_PROXY_NDES_UNKNOWN_PAGE`) for a body over `maxBodyBytes`.
 * @throws {@link ChallengeSourceConfigError} (`ERR_PROXY_CHALLENGE_SOURCE_CONFIG`) for a URL that is not http(s) or holds user info.
 * @throws {@link ProxyConfigError} (`ERR_PROXY_CONFIG`) for a `timeoutMs` or `maxBodyBytes` that is not a positive integer, or a `channelBinding` that is not a boolean.
 * @throws the `signal`'s reason when it aborts otherwise.
 *
 * @example
 * ```ts
 * import { ntlmHttpGet } from "@scep/proxy";
 *
 * const res = await ntlmHttpGet("https://ndes.corp.example/certsrv/mscep_admin/", {
 *   credentials: { username: "CORP\\svc-ndes", password: process.env.NDES_PASSWORD ?? "" },
 *   timeoutMs: 10_000,
 * });
 * console.log(res.status, res.scheme, res.body.length);
 * ```
 * @group NTLM
 */
export async function ntlmHttpGet(url: string, options: NtlmHttpGetOptions): Promise<NtlmHttpResponse> {
  const timeoutMs = integerOption("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS, TIMER_MS);
  const started = performance.now(); // a timer's budget, not a clock reading: monotonic
  let current = url;
  for (let hop = 0; ; hop++) {
    const left = Math.max(1, Math.ceil(timeoutMs - (performance.now() - started)));
    const { location, ...res } = await getOnce(current, { ...options, timeoutMs: left }, timeoutMs);
    const next = hop < NTLM_MAX_REDIRECTS && REDIRECTS.has(res.status) && location !== null ? sameOrigin(current, location) : undefined;
    if (next === undefined) return res;
    current = next;
  }
}

/** How many same-origin redirects {@link ntlmHttpGet} follows. */
const NTLM_MAX_REDIRECTS = 3;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** `location` resolved against `from` when it names the same origin and no user info; else undefined. */
function sameOrigin(from: string, location: string): string | undefined {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    return undefined;
  }
  const origin = new URL(from);
  return to.protocol === origin.protocol && to.host === origin.host && !to.username && !to.password ? to.href : undefined;
}

/** One GET of `url` and its authentication handshake; `totalMs` is the whole budget a timeout names. */
async function getOnce(url: string, options: NtlmHttpGetOptions, totalMs: number): Promise<NtlmHttpResponse & { location: string | null }> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (e) {
    throw new ChallengeSourceConfigError("NDES admin URL is not a valid URL", { cause: e });
  }
  const secure = target.protocol === "https:";
  if (!secure && target.protocol !== "http:") throw new ChallengeSourceConfigError("NDES admin URL must be http: or https:");
  if (target.username || target.password) throw new ChallengeSourceConfigError("NDES admin URL must not hold credentials; pass them as username/password");
  if (options.signal?.aborted) throw callerAbort(options.signal, callerDeadline);

  const timeoutMs = integerOption("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS, TIMER_MS);
  const maxBody = integerOption("maxBodyBytes", options.maxBodyBytes, DEFAULT_MAX_BODY, BODY_BYTES);
  const channelBinding = booleanOption("channelBinding", options.channelBinding, true);
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: 1, ca: options.tls?.ca, rejectUnauthorized: options.tls?.rejectUnauthorized ?? true })
    : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = (): void => controller.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const send = (authorization: string | undefined): Promise<RawResponse> =>
    new Promise<RawResponse>((resolve, reject) => {
      const headers: Record<string, string> = { accept: "text/html, */*", connection: "keep-alive" };
      if (authorization) headers.authorization = authorization;
      const req = (secure ? https : http).request(
        {
          protocol: target.protocol,
          hostname: target.hostname.replace(/^\[|\]$/g, ""),
          port: target.port || undefined,
          path: target.pathname + target.search,
          method: "GET",
          headers,
          agent,
          signal: controller.signal,
        },
        (res) => {
          // The connection's server certificate, read now (the socket may be gone by `end`).
          const raw = secure ? (res.socket as TLSSocket).getPeerCertificate?.()?.raw : undefined;
          const peerCertificate = raw && raw.length > 0 ? new Uint8Array(raw) : undefined;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > maxBody) {
              req.destroy(new NdesUnknownPageError(`NDES admin page is larger than ${maxBody} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on("error", reject);
          res.on("end", () => {
            const ct = res.headers["content-type"];
            resolve({
              status: res.statusCode ?? 0,
              contentType: typeof ct === "string" ? ct : null,
              location: res.headers.location ?? null,
              challenges: authChallenges(res),
              body: new Uint8Array(Buffer.concat(chunks)),
              reusedSocket: req.reusedSocket,
              peerCertificate,
            });
          });
        },
      );
      req.on("error", reject);
      req.end();
    });

  const { user, domain } = splitUser(options.credentials);
  const negotiate = b64(encodeNegotiateMessage());

  try {
    const mode = options.mode ?? "proactive";
    let res: RawResponse;
    if (mode === "proactive") {
      res = await send(`NTLM ${negotiate}`);
    } else {
      try {
        res = await send(undefined);
      } catch (e) {
        // A WAF or access gateway that drops unauthenticated requests: retry once, proactively.
        if (controller.signal.aborted || transportFailure(e) !== "connection reset") throw e;
        res = await send(`NTLM ${negotiate}`);
      }
    }
    if (res.status !== 401) return final(res, "none");

    const scheme = res.challenges.has("ntlm") ? "NTLM" : res.challenges.has("negotiate") ? "Negotiate" : undefined;
    if (scheme) {
      let token = res.challenges.get(scheme.toLowerCase()) ?? "";
      if (!token) {
        res = await send(`${scheme} ${negotiate}`);
        if (res.status !== 401) return final(res, scheme);
        token = res.challenges.get(scheme.toLowerCase()) ?? "";
        if (!token) throw new NdesAuthError(`NDES admin page answered the NTLM NEGOTIATE message with 401 and no CHALLENGE`);
      }
      const challenge = decodeChallengeMessage(new Uint8Array(Buffer.from(token, "base64")));
      const responseKey = await ntowfv2(options.credentials.password, user, domain);
      const clientChallenge = crypto.getRandomValues(new Uint8Array(8));
      const timestamp = challenge.timestamp ?? fileTime((options.now ?? (() => new Date()))().getTime());
      // Over TLS, the channel binding (Extended Protection for Authentication, MS-NLMP §2.2.2.1): IIS sites with EPA
      // "Required" (AD CS's by default on Windows Server 2025) refuse an AUTHENTICATE without it. Off (`channelBinding`
      // false) when a TLS-inspecting proxy or re-encrypting load balancer shows us another certificate than IIS's.
      const targetInfo = channelBinding && res.peerCertificate ? withAvPair(challenge.targetInfo, AvId.MsvAvChannelBindings, channelBindingsHash(res.peerCertificate)) : challenge.targetInfo;
      const v2 = await computeNtlmv2Response({
        responseKey,
        serverChallenge: challenge.serverChallenge,
        clientChallenge,
        timestamp,
        targetInfo,
        omitLmResponse: challenge.timestamp !== undefined,
      });
      let flags = (challenge.flags & (NEGOTIATE_FLAGS | NtlmFlags.NEGOTIATE_TARGET_INFO)) >>> 0;
      if (flags & NtlmFlags.NEGOTIATE_UNICODE) flags = (flags & ~NtlmFlags.NEGOTIATE_OEM) >>> 0;
      const authenticate = encodeAuthenticateMessage({
        flags,
        lmChallengeResponse: v2.lmChallengeResponse,
        ntChallengeResponse: v2.ntChallengeResponse,
        domain,
        user,
        workstation: options.credentials.workstation ?? "",
      });
      res = await send(`${scheme} ${b64(authenticate)}`);
      if (res.status === 401) {
        throw new NdesAuthError(
          res.reusedSocket
            ? "NDES admin page refused the credentials (HTTP 401 after the NTLM handshake)"
            : "NDES admin page refused the NTLM handshake: the connection was not kept open between its messages (IIS binds NTLM to the connection)",
        );
      }
      return final(res, scheme);
    }
    if (res.challenges.has("basic")) {
      if (options.allowBasic === false) throw new NdesAuthSchemeError("NDES admin page offers only Basic authentication and allowBasic is false");
      if (!secure && !options.allowBasicOverHttp) {
        throw new NdesAuthSchemeError("NDES admin page offers only Basic authentication over plain HTTP; use https: or set allowBasicOverHttp");
      }
      const name = domain && !options.credentials.username.includes("\\") ? `${domain}\\${user}` : options.credentials.username;
      res = await send(`Basic ${utf8b64(`${name}:${options.credentials.password}`)}`);
      if (res.status === 401) throw new NdesAuthError("NDES admin page refused the credentials (HTTP 401 to Basic authentication)");
      return final(res, "Basic");
    }
    throw new NdesAuthSchemeError("NDES admin page answered 401 without an NTLM, Negotiate or Basic challenge");
  } catch (e) {
    if (timedOut) throw new NdesTimeoutError(`NDES admin page did not answer within ${totalMs} ms`, { cause: e });
    if (options.signal?.aborted) throw callerAbort(options.signal, callerDeadline);
    if (e instanceof ChallengeSourceError) throw e; // already typed
    const reason = transportFailure(e);
    throw new NdesTransportError(`NDES admin page: ${TRANSPORT_FAILURE_TEXT[reason]}`, reason, { cause: e });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    agent.destroy();
  }
}

/**
 * MsvAvChannelBindings for a TLS connection (MS-NLMP §2.2.2.1): the MD5 of the gss_channel_bindings_struct (RFC 2744
 * §3.11, serialised as SSPI does: initiator and acceptor address types and lengths all zero, then the application
 * data's length, little-endian, and its bytes) whose application data is `tls-server-end-point:` followed by the hash
 * of the server's certificate (RFC 5929 §4.1: the hash of its signature algorithm, SHA-256 for MD5 or SHA-1, and for
 * a signature algorithm without one of those this reads).
 */
function channelBindingsHash(certificate: Uint8Array): Uint8Array {
  let digest = "sha256";
  try {
    const d = new Certificate(certificate).signatureAlgorithm.digest;
    if (d === "sha384" || d === "sha512" || d === "sha224") digest = d;
  } catch {
    // A signature algorithm @scep/core does not read (Ed25519…): SHA-256.
  }
  const data = Buffer.concat([Buffer.from("tls-server-end-point:", "latin1"), createHash(digest).update(certificate).digest()]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(data.length, 0);
  return new Uint8Array(createHash("md5").update(Buffer.concat([Buffer.alloc(16), length, data])).digest());
}

/** The caller's deadline passed: a timeout like `timeoutMs`. */
const callerDeadline = (cause: unknown): Error => new NdesTimeoutError("NDES admin page did not answer before the caller's deadline", { cause });

function final(res: RawResponse, scheme: NtlmHttpResponse["scheme"]): NtlmHttpResponse & { location: string | null } {
  return { status: res.status, contentType: res.contentType, body: res.body, scheme, location: res.location };
}
