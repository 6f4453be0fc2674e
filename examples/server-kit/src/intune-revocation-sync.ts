// The periodic Intune revocation sync of an `intune-api` profile with `revocationSyncSeconds`: one round
// (@scep/intune's syncIntuneRevocations: download Intune's revocation requests, revoke in the profile CA's store,
// upload the results) at start and then every interval, never two at once.
import { isIntuneError } from "@scep/intune";
import type { RevocationSync } from "./profiles.js";

/**
 * Runs `sync.round()` now and every `sync.everyMs`, one round at a time (a round still running when the timer fires
 * is not doubled). Logs `{ type: "intune-revocation-sync", profile, downloaded, succeeded, failed, retryable,
 * issuerMismatches, uploaded, revoked: [serials] }` after a round that downloaded anything, and `{ type: "intune-error", profile,
 * operation: "revocationSync" | "uploadRevocationResults", code, message }` when Intune could not be asked or told
 * (never a secret). Calls `onRevoked()` (the kit re-signs the CA's CRL) before that line when the round revoked something. The
 * timer does not keep the process alive.
 *
 * A round that ended without revoking anything new but found certificates already revoked (the state after a round
 * that revoked and was then cut, or whose CRL signing failed) has the CRL re-signed too: `onRevoked` signs a new CRL
 * only when the revocations changed.
 *
 * @returns `stop()`: no more rounds; a round in progress is aborted (its calls to Intune cut, what it revoked kept)
 *   and `stop` resolves once it has ended.
 */
export function scheduleRevocationSync(
  sync: RevocationSync,
  profile: string,
  log: (entry: Record<string, unknown>) => void,
  onRevoked: () => Promise<unknown>,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const stopping = new AbortController();
  const round = async (): Promise<void> => {
    try {
      const s = await sync.round(stopping.signal);
      if (s.downloaded > 0) {
        const revoked = s.items.filter((i) => i.outcome === "revoked").map((i) => i.request.serialNumber);
        // The CRL names them before the line says so; "already_revoked" too, as a cut round may have revoked them
        // without a CRL after.
        if (s.items.some((i) => i.outcome === "revoked" || i.outcome === "already_revoked")) await onRevoked();
        // issuerMismatches: requests of another issuer name (4004 without revoking); all of them means the profile's
        // CA subject is not the name Intune recorded.
        log({ type: "intune-revocation-sync", profile, downloaded: s.downloaded, succeeded: s.succeeded, failed: s.failed, retryable: s.retryable, issuerMismatches: s.issuerMismatches, uploaded: s.uploaded, revoked });
      }
      if (s.uploadError) log({ type: "intune-error", profile, operation: "uploadRevocationResults", code: s.uploadError.code, message: s.uploadError.message });
    } catch (e) {
      if (stopping.signal.aborted) return; // shutdown cut the round: nothing to report
      if (isIntuneError(e)) log({ type: "intune-error", profile, operation: "revocationSync", code: e.code, message: e.message });
      else log({ type: "intune-error", profile, operation: "revocationSync", code: (e as { code?: string })?.code ?? "ERR_UNEXPECTED", message: (e as Error)?.message?.split("\n", 1)[0] ?? String(e) });
    }
  };
  const tick = (): void => {
    if (stopped || running) return;
    running = round().finally(() => (running = undefined));
  };
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, Math.min(Math.max(1000, sync.everyMs), 2_147_483_647));
  first.unref();
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      stopping.abort();
      await running;
      await sync.revokesSettled?.(); // a revoke the cut round started still writes: not under an exiting process
    },
  };
}
