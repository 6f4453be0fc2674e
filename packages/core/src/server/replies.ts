/**
 * Building replies: the {@link Reply} every handler returns (the response as
 * plain parts, plus what the event reports), plain-text HTTP errors, the 503
 * for an unavailable store, and CertReps (RFC 8894 §3.3.2) signed by the
 * profile's signer. A reply becomes a web `Response` only in `fetch`.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import type { PkiRequest } from "../message/pki-message.js";
import { buildCertRep, type CertRepRequest } from "../message/cert-rep.js";
import { PKI_MESSAGE_CONTENT_TYPE } from "../message/ca-cert.js";
import type { PkiStatus } from "../message/types.js";
import type { ScepEvent, ScepOutcome } from "./events.js";
import type { ServerContext } from "./context.js";
import type { HttpResponseParts } from "./handler.js";
import type { ResolvedProfile } from "./profile.js";
import { retryAfterDelaySeconds } from "../lib/retry-after.js";

/**
 * A response (status, header fields, bytes) and what its event reports. `lateReason`, when set, is the event's
 * reason once known after the response left (the SUCCESS whose ISSUED record the store had not confirmed yet:
 * `enrollment/reply.ts`): the event is emitted when it resolves, with it in place of `reason`. It never rejects.
 * @group Server
 */
export class Reply {
  constructor(
    readonly response: HttpResponseParts,
    readonly outcome: ScepOutcome,
    readonly reason: string,
    readonly extra: Partial<ScepEvent> = {},
    readonly lateReason?: Promise<string>,
  ) {}

  /** This reply (response, outcome, reasons) with `fields` added to what its event reports, in place of any it sets. */
  with(fields: Partial<ScepEvent>): Reply {
    return new Reply(this.response, this.outcome, this.reason, { ...this.extra, ...fields }, this.lateReason);
  }
}

const utf8 = new TextEncoder();

/** A plain-text response: `body` and a newline, UTF-8. @group Server */
export const text = (status: number, body: string, headers: Record<string, string> = {}): HttpResponseParts => ({
  status,
  headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  body: utf8.encode(body + "\n"),
});

/** A 200 response with `body` of `contentType`. @group Server */
export const ok = (contentType: string, body: Uint8Array | string): HttpResponseParts => ({
  status: 200,
  headers: { "content-type": contentType },
  body: typeof body === "string" ? utf8.encode(body) : body,
});

/**
 * HTTP 503 with `Retry-After`: a store is down; nothing was issued (issue 8). The store's seconds rounded up and held to
 * 1 s – one day (a store of one's own may give NaN or Infinity), 30 s when it gave no number. @group Server
 */
export function storeUnavailable(retryAfterSeconds: number | undefined): Reply {
  const retry = retryAfterDelaySeconds(retryAfterSeconds) ?? 30;
  return new Reply(text(503, "store unavailable, retry later", { "retry-after": String(retry) }), "error", "store_unavailable");
}

/**
 * HTTP 503 with `Retry-After`: the CA/RA private key could not be used (KeyUnavailableError); nothing was issued. The
 * key's seconds rounded up and held to 1 s – one day, 1 s when it gave no number. @group Server
 */
export function keyUnavailable(retryAfterSeconds: number | undefined): Reply {
  const retry = retryAfterDelaySeconds(retryAfterSeconds) ?? 1;
  return new Reply(text(503, "key unavailable, retry later", { "retry-after": String(retry) }), "error", "key_unavailable");
}

/**
 * HTTP 503 with `Retry-After`: the profile's issuing CA certificate is expired or not yet valid (CaNotValidError);
 * nothing was issued, and the request may be sent again once the operator has renewed the CA. @group Server
 */
export function caNotValid(retryAfterSeconds: number): Reply {
  return new Reply(text(503, "the CA cannot issue now (its certificate is not valid), retry later", { "retry-after": String(retryAfterDelaySeconds(retryAfterSeconds) ?? 3600) }), "error", "ca_not_valid");
}

/** What a CertRep carries besides its status. @group Server */
export interface CertRepContent {
  failInfo?: FailInfo;
  failInfoText?: string;
  certificates?: Uint8Array[];
  crl?: Uint8Array;
}

/**
 * A CertRep response. With the full request (`req`), the reply uses its content cipher (through the profile's
 * `responseCipher` policy); an MD5-signed request gets a SHA-256 reply unless MD5 is allowed.
 * @group Server
 */
export async function certRep(ctx: ServerContext, p: ResolvedProfile, request: CertRepRequest, status: PkiStatus, content: CertRepContent, req?: PkiRequest): Promise<HttpResponseParts> {
  const policy = p.algorithmPolicy;
  const cipher = req ? (policy.responseCipher ? policy.responseCipher(req.contentCipher) : req.contentCipher) : undefined;
  const body = await buildCertRep({
    request,
    signer: p.signer,
    status,
    ...(content.failInfo ? { failInfo: content.failInfo } : {}),
    ...(content.failInfoText ? { failInfoText: content.failInfoText } : {}),
    ...(content.certificates ? { certificates: content.certificates } : {}),
    ...(content.crl ? { crl: content.crl } : {}),
    ...(cipher ? { contentCipher: cipher } : {}),
    ...(request.digestAlgorithm === "md5" && !policy.allowMd5 ? { digestAlgorithm: "sha256" as const } : {}),
    now: ctx.now(),
  });
  return ok(PKI_MESSAGE_CONTENT_TYPE, body);
}

/** A FAILURE CertRep (RFC 8894 §3.3.2.2) with its event reason. @group Server */
export async function failure(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest, failInfo: FailInfo, reason: string, failInfoText: string): Promise<Reply> {
  return new Reply(await certRep(ctx, p, req, "FAILURE", { failInfo, failInfoText }, req), "failure", reason, { failInfo });
}
