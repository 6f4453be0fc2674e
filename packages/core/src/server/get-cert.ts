/**
 * GetCert and GetCRL (RFC 8894 §3.3.4, §3.3.5): answered from the profile's
 * `getCert`/`getCrl` hooks.
 *
 * @module
 */
import type { PkiRequest } from "../message/pki-message.js";
import { MessageType } from "../message/types.js";
import type { ServerContext } from "./context.js";
import { Certificate } from "../x509/certificate.js";
import type { ResolvedProfile } from "./profile.js";
import { Reply, certRep, failure } from "./replies.js";
import { canonicalSerialHex } from "./revocation-store.js";
import { fromHex, toHex } from "../lib/bytes.js";

/** SUCCESS with the certificate or CRL; FAILURE badCertId when unknown, badRequest when unsupported. @group Server */
export async function getCertOrCrl(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  // The serial in its canonical spelling (normalizeSerialNumber's octets: the DER content of the positive INTEGER), so
  // a hook comparing with Certificate.serialNumber finds it however the client wrote it: `80…` (the magnitude, as
  // Certificate.serialNumberHex prints it) and BER's redundant `00 00 80…` both reach the hook as `00 80…`.
  const asked = req.issuerAndSerialNumber!;
  const q = { issuer: asked.issuer, serialNumber: fromHex(canonicalSerialHex(toHex(asked.serialNumber))) };
  if (req.messageType === MessageType.GetCert) {
    if (!p.getCert) return failure(ctx, p, req, "badRequest", "getcert_unsupported", "GetCert is not supported");
    const c = await p.getCert(q);
    if (!c) return failure(ctx, p, req, "badCertId", "unknown_certificate", "no such certificate");
    return new Reply(await certRep(ctx, p, req, "SUCCESS", { certificates: [Certificate.derOf(c)] }, req), "success", "certificate_returned");
  }
  if (!p.getCrl) return failure(ctx, p, req, "badRequest", "getcrl_unsupported", "GetCRL is not supported");
  const crl = await p.getCrl(q);
  if (!crl) return failure(ctx, p, req, "badCertId", "unknown_crl", "no CRL for this certificate");
  return new Reply(await certRep(ctx, p, req, "SUCCESS", { crl }, req), "success", "crl_returned");
}
