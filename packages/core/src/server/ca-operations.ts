/**
 * The operations that need no store: GetCACaps (RFC 8894 §3.5.1), GetCACert
 * (§4.2) and GetNextCACert (§4.7).
 *
 * @module
 */
import { copyBytes } from "../lib/bytes.js";
import { CA_CAPS_CONTENT_TYPE } from "../message/ca-caps.js";
import { buildGetCaCertResponse, buildGetNextCaCertResponse } from "../message/ca-cert.js";
import type { ServerContext } from "./context.js";
import { type ResolvedProfile, caValidAt } from "./profile.js";
import { Reply, ok, text } from "./replies.js";

/** GetCACaps: the profile's capabilities, one per line. @group Server */
export function getCaCaps(p: ResolvedProfile): Reply {
  return new Reply(ok(CA_CAPS_CONTENT_TYPE, p.caps), "success", "caps");
}

/**
 * GetCACert: the CA certificate alone, or the profile's set as a degenerate PKCS#7. An issuing CA certificate outside
 * its validity at the server's clock is still served (a client may need it to see why), with event reason
 * `ca_cert_not_valid` instead of `ca_cert`, so the operator sees it. @group Server
 */
export async function getCaCert(ctx: ServerContext, p: ResolvedProfile): Promise<Reply> {
  const r = await buildGetCaCertResponse(p.caCerts);
  // A copy: a lone CA certificate's body is the profile's own DER, which whoever gets the reply may write into.
  return new Reply(ok(r.contentType, copyBytes(r.body)), "success", caValidAt(p.ca, ctx.now()) ? "ca_cert" : "ca_cert_not_valid");
}

/** GetNextCACert: the next CA's certificates, signed; 404 when no rollover is configured. @group Server */
export async function getNextCaCert(ctx: ServerContext, p: ResolvedProfile): Promise<Reply> {
  if (!p.nextCa) return new Reply(text(404, "no next CA certificate is configured"), "rejected", "no_next_ca");
  const r = await buildGetNextCaCertResponse({ certificates: p.nextCa, signer: p.signer, now: ctx.now() });
  return new Reply(ok(r.contentType, r.body), "success", "next_ca_cert");
}
