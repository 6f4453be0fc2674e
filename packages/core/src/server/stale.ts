/**
 * Whether a stored certificate may still be handed out (RFC 8894 §3.3.3;
 * issue 6 §3): not when it has expired by the injected clock, nor when the
 * profile's `isRevoked` hook says it was revoked.
 *
 * @module
 */
import { Certificate } from "../x509/certificate.js";
import type { ServerContext } from "./context.js";
import type { ResolvedProfile } from "./profile.js";
import type { Transaction } from "./transaction-store.js";

/** True when the ISSUED transaction's certificate is expired or revoked. */
export async function isStale(ctx: ServerContext, p: ResolvedProfile, tx: Transaction): Promise<boolean> {
  if (!tx.certificate) return false;
  const cert = new Certificate(tx.certificate);
  if (cert.notAfter.getTime() < ctx.now().getTime()) return true;
  return p.isRevoked ? Boolean(await p.isRevoked(cert)) : false;
}
