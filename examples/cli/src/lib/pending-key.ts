/**
 * A generated key whose request the CA may hold: `scep enroll` without --key and `scep renew --new-key` make a key in
 * memory and write it only once it is needed. Once the PKCSReq is sent, the CA may hold a transaction for that key
 * (PENDING, or issued with the reply lost), and only a request for the same key polls it or collects its certificate
 * (RFC 8894 §3.3.3: the same transactionID). So the key is saved, and stderr says how to poll with it:
 *
 * - at the CA's first PENDING, before polling (whatever then ends the polling leaves it);
 * - when polling ends still PENDING (exit 3), or ends otherwise after a PENDING (an HTTP error, a FAILURE);
 * - when the request was sent and no answer came (the connection closed, a timeout, a 5xx other than 503: exit 4);
 * - on SIGINT or SIGTERM once the request was sent (before any answer too), through {@link Context.setInterruptNote}.
 *
 * Never over an existing file (see {@link GeneratedKey.save}). A failure before the request was sent, or a FAILURE
 * to it, leaves nothing behind.
 *
 * @module
 */
import type { Certificate } from "@scep/core";
import type { Context } from "./context.js";
import { UnansweredError, enrollWithCa, type EnrollmentOptions } from "./enrollment.js";
import { CliError, ExitCode, describeError, pollInstead, urlOption } from "./exit.js";
import type { GeneratedKey } from "./keys.js";

/**
 * How a command words the lines about its saved key; each says how to poll with it. The functions take the key's path
 * as saved, relative as the user gave it ({@link GeneratedKey.path}: another name when a file appeared meanwhile).
 */
export interface PendingKeyWords {
  /** What the key is called: `key` (enroll), `new key` (renew --new-key). */
  noun: string;
  /** How to poll with the saved key, as a clause: `poll again with: scep enroll … --key cert.key`. */
  how(keyPath: string): string;
  /** The same after "to ", saying why not the same command again (which would make another key, another request). */
  instead(keyPath: string): string;
  /** Said after the saved path when polling ran out still PENDING (exit 3), before `; ` and {@link how}; default none. */
  stillPending?: string;
  /** How to collect a certificate the CA may have issued after a request with no answer, as a clause after the path. */
  resend(keyPath: string): string;
}

/**
 * Runs {@link enrollWithCa} for a request made with `key`, saving the key and saying how to poll with it whenever the
 * CA may hold a transaction for it (see the module comment). Returns what {@link enrollWithCa} returns; the key is
 * not saved on SUCCESS (the command saves it with the certificate). Throws what {@link enrollWithCa} throws, the
 * PENDING {@link CliError} (exit 3), an {@link UnansweredError} (exit 4) and any error after a PENDING with the saved
 * path and {@link PendingKeyWords.how} added.
 */
export async function enrollSavingKey(ctx: Context, argv: readonly string[], options: EnrollmentOptions, key: GeneratedKey, words: PendingKeyWords): Promise<Certificate[]> {
  const saved = (path: string): string => `${words.noun} saved to ${path}`;
  let pending: { transactionId: string; path: string } | undefined;
  const pollAgain = (): string => `${saved(pending!.path)}: transaction ${pending!.transactionId} is pending for it; to ${words.instead(key.path)}`;
  // Sent, not yet answered: a signal saves the key then (the CA may already hold a transaction for it).
  const onSent = (): void => {
    if (pending) return; // a CertPoll: the key is saved, and the note says so
    ctx.setInterruptNote?.(
      () => `${saved(key.save())}: the request was sent and the CA had not answered: it may hold a pending request, or have issued a certificate, for this key; to ${words.instead(key.path)}`,
    );
  };
  const onFirstPending = (transactionId: string): void => {
    pending = { transactionId, path: key.save() };
    ctx.setInterruptNote?.(pollAgain()); // before the line: a Ctrl-C right after it is told too
    ctx.err(`PENDING: transaction ${transactionId}: ${saved(pending.path)}; if polling stops before the certificate comes, ${words.how(key.path)}`);
  };
  try {
    return await enrollWithCa(ctx, { ...options, onSent, onFirstPending });
  } catch (error) {
    // PENDING: the transaction is for this key, so keep it and say how to poll with it.
    if (error instanceof CliError && error.exitCode === ExitCode.PENDING) {
      const path = key.save();
      const status = error.message.replace(/; run the command again with the same key to poll$/, "");
      throw new CliError(`${status}\n${saved(path)}${words.stillPending ?? ""}; ${words.how(key.path)}`, ExitCode.PENDING);
    }
    // Polling ended otherwise (an HTTP error, the network, a FAILURE): the key stays; say how to poll again.
    if (pending) {
      const { message, exitCode } = describeError(error, urlOption(argv));
      throw new CliError(`${pollInstead(message)}\n${exitCode === ExitCode.FAILURE ? `${saved(pending.path)}; the CA refused its pending transaction ${pending.transactionId}` : pollAgain()}`, exitCode);
    }
    // Sent, no answer: the CA may have issued for this key. Only a re-send with it (same transactionID, RFC 8894
    // §3.3.3) collects that certificate; a new key would get a second one. So keep it and say how.
    if (error instanceof UnansweredError) throw new UnansweredError(`${error.message}; ${saved(key.save())}: ${words.resend(key.path)}`);
    throw error;
  } finally {
    ctx.setInterruptNote?.(undefined);
  }
}
