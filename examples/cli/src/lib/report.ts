/**
 * What `enroll` and `renew` print once a certificate is issued.
 *
 * @module
 */
import type { Certificate } from "@scep/core";
import type { Context } from "./context.js";

/** Prints the issued certificate's subject, issuer, serial, validity and where files went. */
export function reportIssued(ctx: Context, cert: Certificate, files: { certificate?: string | undefined; key?: string | undefined }): void {
  ctx.out(`subject:     ${cert.subject}`);
  ctx.out(`issuer:      ${cert.issuer}`);
  ctx.out(`serial:      ${cert.serialNumberHex}`);
  ctx.out(`not after:   ${cert.notAfter.toISOString()}`);
  if (files.certificate) ctx.out(`certificate: ${files.certificate}`);
  if (files.key) ctx.out(`key:         ${files.key}`);
}
