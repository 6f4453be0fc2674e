// What makes an upstream's 2xx answer one no SCEP client can use, checked before the proxy passes it on: the proxy
// forwards a CA's bytes unchanged, but an answer with nothing in it is the CA's (or a gateway's) failure, not a reply
// the device should try to parse (RFC 8894 §3.3.2, §4.2).
import { signedDataHoldsNoCertificate } from "@scep/core/internal";

/**
 * Why a 2xx answer of the upstream to `operation` is unusable, or undefined when it may be passed on: an empty body
 * to a PKIOperation (no CertRep) or a GetCACert (no certificate), or a GetCACert that is a PKCS#7 SignedData holding
 * no certificate (RFC 8894 §4.2.1.2), read by @scep/core's own parser, BER included
 * (`signedDataHoldsNoCertificate`: what `parseGetCaCertResponse` refuses as "GetCACert PKCS#7 holds no
 * certificate"). Anything that parser cannot read is passed on unchanged. GetCACaps may be empty (a CA without
 * capabilities, RFC 8894 §3.5.2).
 */
export function unusableAnswer(operation: string | undefined, body: Uint8Array): string | undefined {
  if (operation !== "PKIOperation" && operation !== "GetCACert") return undefined;
  if (body.byteLength === 0) return `upstream answered ${operation} with an empty body`;
  if (operation === "GetCACert" && signedDataHoldsNoCertificate(body)) return "upstream answered GetCACert with a PKCS#7 that holds no certificate";
  return undefined;
}
