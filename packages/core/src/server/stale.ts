/**
 * Whether a stored certificate may still be handed out (RFC 8894 §3.3.3;
 * issue 6 §3): not when it has expired by the injected clock, nor when the
 * profile's `isRevoked` hook says it was revoked. Every call of that hook
 * goes through {@link revocationOf}: it reads a store, so it is bounded by
 * `storeTimeoutMs` like one (`store-call.ts`).
 *
 * @module
 */
import { Certificate } from "../x509/certificate.js";
import type { ServerContext } from "./context.js";
import type { ResolvedProfile } from "./profile.js";
import type { RevocationVerdict } from "./revocation-store.js";
import type { Transaction } from "./transaction-store.js";

/**
 * The profile's `isRevoked` answer for `certificate` (undefined without the hook), as a store call: a hook that has
 * not answered within `storeTimeoutMs` rejects with StoreUnavailableError (the request gets 503 + Retry-After, as for
 * a store that hangs); what the hook throws is rethrown as it is.
 */
export function revocationOf(ctx: ServerContext, p: ResolvedProfile, certificate: Certificate): Promise<RevocationVerdict> | undefined {
  return p.isRevoked ? ctx.store("isRevoked hook", () => p.isRevoked!(certificate)) : undefined;
}

/** True when the ISSUED transaction's certificate is expired or revoked. */
export async function isStale(ctx: ServerContext, p: ResolvedProfile, tx: Transaction): Promise<boolean> {
  if (!tx.certificate) return false;
  const cert = new Certificate(tx.certificate);
  if (cert.notAfter.getTime() < ctx.now().getTime()) return true;
  return p.isRevoked ? Boolean(await revocationOf(ctx, p, cert)) : false;
}
