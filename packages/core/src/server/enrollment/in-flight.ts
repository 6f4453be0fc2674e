/**
 * One enrollment at a time per transactionID, in this process: a PKCSReq
 * waits until every earlier one of its profile and transactionID has
 * finished, its ISSUED record settled included (`record.ts`; bounded by
 * `storeTimeoutMs`). Two identical requests that arrive together (a device
 * that re-sends before its first answer, RFC 8894 §3.3.3, or a relay that
 * retries) then share one issuance: the second's policy phase finds the
 * first's record and answers with the same certificate (`issued_resent`),
 * or its PENDING transaction (`still_pending`), instead of running the issue
 * hook a second time.
 *
 * Every PKCSReq, before the policy phase has told a first enrollment (whose
 * re-send is answered from a record, whatever signed it) from a renewal (a
 * new certificate each time): a renewal PKCSReq that waits for an earlier one
 * of its transactionID is still issued anew, only later. A RenewalReq never
 * waits: it is never answered from a record. Any PKCSReq with the
 * transactionID waits, not only the same key's: the policy phase decides, once
 * the earlier one is done, whether it is a re-send. A request waits at most
 * {@link IN_FLIGHT_WAIT_MS} (10 s) for the ones before it, then goes on by
 * itself to the claim phase: an issue hook that hangs holds its claim, renewed,
 * until `approvalLeaseMs` (`claim-renewal.ts`); meanwhile a later request waits
 * a lease more there and is answered PENDING (the same request) or
 * `transaction_id_in_use`, and after that it may be issued a second certificate.
 *
 * Across replicas (or once the wait ran out) the claim phase does it
 * (`claim.ts`: an ISSUING record in the shared TransactionStore, taken before
 * the challenge phase): the later request waits for the claim by reading the
 * store again, and is answered PENDING if the earlier one still issues after
 * a lease. This wait stays because it saves those reads in the common case of
 * a re-send to the same process.
 *
 * @module
 */
import { within } from "../../lib/within.js";
import type { PkiRequest } from "../../message/pki-message.js";
import type { ResolvedProfile } from "../profile.js";
import type { Reply } from "../replies.js";
import { MessageType } from "../../message/types.js";

/** Longest a request waits for the earlier ones of its transactionID, in milliseconds. */
export const IN_FLIGHT_WAIT_MS = 10_000;

/** Per profile: transactionID → when the last enrollment started with it is done (never rejects). */
const running = new WeakMap<ResolvedProfile, Map<string, Promise<void>>>();

/**
 * Runs `work` for `req` once every earlier enrollment of its transactionID in `p` is done (a PKCSReq), or at once (a
 * RenewalReq). Resolves or rejects as `work` does.
 */
export function oneAtATime(p: ResolvedProfile, req: PkiRequest, work: () => Promise<Reply>): Promise<Reply> {
  if (req.messageType !== MessageType.PKCSReq) return work();
  let m = running.get(p);
  if (!m) running.set(p, (m = new Map()));
  const key = req.transactionId;
  const before = m.get(key);
  // `before` never rejects: wait for it, or IN_FLIGHT_WAIT_MS, whichever comes first.
  const result = before ? within(before, IN_FLIGHT_WAIT_MS).then(work) : work();
  // Done once the reply is built and its record settled (Reply.lateReason), whatever the outcome: never rejects.
  const done: Promise<void> = result.then(
    (r) => r.lateReason?.then(
      () => undefined,
      () => undefined,
    ),
    () => undefined,
  );
  m.set(key, done);
  void done.then(() => {
    if (m.get(key) === done) m.delete(key);
  });
  return result;
}
