import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Certificate, MemoryRevocationStore } from "@scep/core";
import { IntuneRevocationClient, revocationStoreRevoker, syncIntuneRevocations } from "@scep/intune";

// The store your profile's isRevoked and getCrl read (@scep/core README, "Revocations"); RedisRevocationStore for replicas.
export const revocations = new MemoryRevocationStore();
// Whether this CA issued a serial: your index, filled by your issue hook with normalizeSerialNumber(certificate.serialNumberHex).
declare function issuedByThisCa(serialNumber: string): Promise<boolean>;
// Your CRL, signed again from revocations.list() and revocations.nextCrlNumber().
declare function resignCrl(): Promise<void>;

const client = new IntuneRevocationClient({
  tenant: process.env.INTUNE_TENANT_ID!,
  clientId: process.env.INTUNE_CLIENT_ID!,
  credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! },
});
// What confirmHook() sent as issuingCertificateAuthority: the issued certificate's issuer, i.e. the CA's subject.
const issuerName = Certificate.from(readFileSync("ca.pem")).subject;
const revoke = revocationStoreRevoker(revocations, { isIssued: issuedByThisCa }); // CRL reason "unspecified"

/** One round at a time: the next starts 15 minutes after the last one ended, until `signal` aborts. */
export async function syncRevocations(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      // alreadyRevoked "succeeded": after an upload that failed Intune sends the same requests again; report them done, not 4005.
      // signal: an abort cuts the round too (its calls to Intune, a revoke); nothing is uploaded, Intune sends them again.
      const s = await syncIntuneRevocations({ client, issuerName, revoke, alreadyRevoked: "succeeded", signal });
      if (s.succeeded > 0) await resignCrl();
      if (s.issuerMismatches > 0) console.error(`${s.issuerMismatches} requests name another issuer than ${issuerName}`);
      if (s.uploadError) console.error(s.uploadError.code, s.uploadError.message); // Intune offers them again
    } catch (e) {
      if (signal.aborted) break; // cut by the shutdown below: no failure
      console.error((e as Error & { code?: string }).code, (e as Error).message); // the download failed: nothing revoked
    }
    await sleep(15 * 60_000, undefined, { signal }).catch(() => undefined);
  }
}

// Your shutdown (SIGTERM) awaits stopSync(): the wait between rounds ends at once, and so does a round in progress.
const shutdown = new AbortController();
const syncing = syncRevocations(shutdown.signal);
export async function stopSync(): Promise<void> {
  shutdown.abort();
  await syncing;
}
