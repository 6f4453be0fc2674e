/**
 * GetCert and GetCRL (RFC 8894 §3.3.4, §3.3.5): answered from the profile's
 * `getCert`/`getCrl` hooks. Each hook reads a store (the CA's index, the
 * revocation store), so each call is a store call (`store-call.ts`): bounded
 * by `storeTimeoutMs`, a hook that hangs or throws StoreUnavailableError is
 * the 503 + Retry-After a store that is down gets.
 *
 * @module
 */
import type { PkiRequest } from "../message/pki-message.js";
import { MessageType } from "../message/types.js";
import type { ServerContext } from "./context.js";
import { Certificate } from "../x509/certificate.js";
import type { ResolvedProfile } from "./profile.js";
import { Reply, certRep, failure } from "./replies.js";
import { minimalIntegerOctets } from "../x509/serial-number.js";
import { InvalidArgumentError } from "../errors.js";
import { fromPem, pemTextOf } from "../encoding.js";
import { signedShaped } from "../x509/signed-shape.js";
import { typeOf } from "../number-option.js";

/**
 * SUCCESS with the certificate or CRL; FAILURE badCertId when unknown, badRequest when unsupported. Rejects with
 * StoreUnavailableError when the hook has not answered within `storeTimeoutMs` (or throws one), and with what the hook
 * throws otherwise (the server's 503 or 500). @group Server
 */
export async function getCertOrCrl(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  // Refused before the request's content is read: a type this profile does not serve is decoded without opening its
  // envelope (decode.ts: no CBC padding oracle through it), so it has no issuerAndSerialNumber.
  if (req.messageType === MessageType.GetCert && !p.getCert) return failure(ctx, p, req, "badRequest", "getcert_unsupported", "GetCert is not supported");
  if (req.messageType !== MessageType.GetCert && !p.getCrl) return failure(ctx, p, req, "badRequest", "getcrl_unsupported", "GetCRL is not supported");
  // The serial as the INTEGER's DER content octets (RFC 5280 §4.1.2.2), so a hook comparing with
  // Certificate.serialNumber finds it however the client wrote it: BER's redundant `00 00 80…` reaches the hook as
  // `00 80…` (0x80…), `ff 80 01` as `80 01`. The sign is kept: `80 01` is the negative INTEGER −32767 that old CAs
  // issued, never 0x8001 (`00 80 01`), so no GetCert for one serial answers another's certificate.
  const asked = req.issuerAndSerialNumber!;
  const q = { issuer: asked.issuer, serialNumber: Uint8Array.from(minimalIntegerOctets(asked.serialNumber)) };
  if (req.messageType === MessageType.GetCert) {
    const c = await ctx.store("getCert hook", () => p.getCert!(q));
    if (!c) return failure(ctx, p, req, "badCertId", "unknown_certificate", "no such certificate");
    return new Reply(await certRep(ctx, p, req, "SUCCESS", { certificates: [Certificate.derOf(c)] }, req), "success", "certificate_returned");
  }
  const crl = await ctx.store("getCrl hook", () => p.getCrl!(q));
  if (!crl) return failure(ctx, p, req, "badCertId", "unknown_crl", "no CRL for this certificate");
  return new Reply(await certRep(ctx, p, req, "SUCCESS", { crl: crlDer(crl) }, req), "success", "crl_returned");
}

/**
 * The DER CertificateList (RFC 5280 §5.1) a `getCrl` hook answered: DER as it is, or PEM text (`X509 CRL`, RFC 7468
 * §6) as its bytes, as `getCert` takes a certificate either way. Anything else would have gone into the SUCCESS
 * CertRep's `crls` as given, a reply no client can read: it throws InvalidArgumentError `ERR_INVALID_ARGUMENT` instead
 * (the server's HTTP 500, `onError` told: the hook's fault, not the device's).
 */
function crlDer(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`getCrl hook: answered ${typeOf(value)}, not the CRL's DER bytes`);
  const text = pemTextOf(value);
  const bytes = text?.includes("-----BEGIN X509 CRL-----") ? fromPem(text, "X509 CRL")[0] : value;
  if (!bytes || !signedShaped(bytes)) throw new InvalidArgumentError("getCrl hook: answered bytes that are not one DER CertificateList (RFC 5280 section 5.1)");
  return bytes;
}
