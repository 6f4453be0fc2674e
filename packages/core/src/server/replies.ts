/**
 * Building replies: the {@link Reply} every handler returns (response plus
 * what the event reports), plain-text HTTP errors, the 503 for an unavailable
 * store, and CertReps (RFC 8894 §3.3.2) signed by the profile's signer.
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
import type { ResolvedProfile } from "./profile.js";

/** A response and what its event reports. @group Server */
export class Reply {
  constructor(
    readonly response: Response,
    readonly outcome: ScepOutcome,
    readonly reason: string,
    readonly extra: Partial<ScepEvent> = {},
  ) {}
}

/** A plain-text response. @group Server */
export const text = (status: number, body: string, headers: Record<string, string> = {}): Response =>
  new Response(body + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });

/** HTTP 503 with `Retry-After`: a store is down; nothing was issued (issue 8). @group Server */
export function storeUnavailable(retryAfterSeconds: number | undefined): Reply {
  const retry = Math.max(1, Math.round(retryAfterSeconds ?? 30));
  return new Reply(text(503, "store unavailable, retry later", { "retry-after": String(retry) }), "error", "store_unavailable");
}

/** HTTP 503 with `Retry-After`: the CA/RA private key could not be used (KeyUnavailableError); nothing was issued. @group Server */
export function keyUnavailable(retryAfterSeconds: number | undefined): Reply {
  const retry = Math.max(1, Math.round(retryAfterSeconds ?? 1));
  return new Reply(text(503, "key unavailable, retry later", { "retry-after": String(retry) }), "error", "key_unavailable");
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
export async function certRep(ctx: ServerContext, p: ResolvedProfile, request: CertRepRequest, status: PkiStatus, content: CertRepContent, req?: PkiRequest): Promise<Response> {
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
  return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: { "content-type": PKI_MESSAGE_CONTENT_TYPE } });
}

/** A FAILURE CertRep (RFC 8894 §3.3.2.2) with its event reason. @group Server */
export async function failure(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest, failInfo: FailInfo, reason: string, failInfoText: string): Promise<Reply> {
  return new Reply(await certRep(ctx, p, req, "FAILURE", { failInfo, failInfoText }, req), "failure", reason, { failInfo });
}
