/**
 * Runs commands and Lua scripts on the user's ioredis client under a
 * deadline, turning every failure into a StoreUnavailableError.
 */
import { createHash } from "node:crypto";
import { InvalidArgumentError, StoreUnavailableError } from "@scep/core";
import type { RedisClient } from "../options.js";
import { CORRUPT_REPLY } from "./corrupt.js";

/** A Lua script with its SHA-1, for EVALSHA. */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** Defines a script (SHA-1 computed once). */
export function script(name: string, source: string): Script {
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

/** How a store talks to Redis. */
export class Runner {
  readonly #client: RedisClient;
  readonly #timeoutMs: number;
  readonly #retryAfterSeconds: number;

  /** @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a client without `callBuffer` (not an ioredis client). */
  constructor(client: RedisClient, timeoutMs: number, retryAfterSeconds: number) {
    if (typeof (client as Partial<RedisClient> | null | undefined)?.callBuffer !== "function") throw new InvalidArgumentError("client must be an ioredis Redis or Cluster (an object with callBuffer)");
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#retryAfterSeconds = retryAfterSeconds;
  }

  /** One command, binary replies (Buffers). */
  command(what: string, command: string, args: Array<string | Buffer | number>): Promise<unknown> {
    return this.#deadline(what, () => this.#send(command, args));
  }

  /**
   * Sends through the client's named Buffer method (`evalshaBuffer`, `setBuffer`, …) when it has one, else
   * `callBuffer`: ioredis' auto-pipelining (`enableAutoPipelining: true`) loses the command name of
   * `callBuffer` (it re-adds it for `call` only) and every command fails with a TypeError.
   */
  #send(command: string, args: Array<string | Buffer | number>): Promise<unknown> {
    const named = (this.#client as unknown as Record<string, unknown>)[`${command.toLowerCase()}Buffer`];
    return typeof named === "function" ? (named as (...a: Array<string | Buffer | number>) => Promise<unknown>).apply(this.#client, args) : this.#client.callBuffer(command, args);
  }

  /**
   * EVALSHA, and EVAL once when the server does not know the script yet
   * (NOSCRIPT: a fresh, restarted or failed-over server, or another cluster
   * node), all under one deadline.
   */
  eval(what: string, s: Script, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    // Past the deadline nothing more is sent: the caller was told "unavailable" and may have sent an undo
    // (see `undo`), which a late EVAL would overtake.
    return this.#deadline(what, (late) => this.#script(s, keys, args, late));
  }

  /**
   * Sends a command or script (keys first; a script as EVAL) that undoes a write whose command failed or was late (it may still run on Redis), without a
   * deadline and without waiting; its own failure is dropped (best effort). Sound because it is sent after the write
   * on the same client: ioredis writes both to the one connection of the key (in a Cluster: same key, same slot, same
   * node), in order, also while Redis is paused or the commands wait in the offline queue, and Redis runs one
   * connection's commands in order. So the undo runs after the write whenever both run. It is lost when the client
   * cannot send it (disconnected with the offline queue off) while the write had already reached Redis.
   */
  undo(s: Script | string, keys: string[], args: Array<string | Buffer | number>): void {
    // Async, so that a client that throws synchronously is dropped too. A script goes as EVAL with its source, not
    // EVALSHA: an EVALSHA answered NOSCRIPT (a server that has not run this undo yet) would be retried as EVAL only
    // after that reply, behind whatever the caller sent meanwhile (the operator's retry of an approve, the device's
    // resend), which would then run before the undo. Undos are rare; the script's bytes cost nothing that matters.
    const run = async (): Promise<unknown> => (typeof s === "string" ? this.#send(s, [...keys, ...args]) : this.#send("EVAL", [s.source, keys.length, ...keys, ...args]));
    run().catch(() => undefined);
  }

  /**
   * EVALSHA, and EVAL once when it is answered NOSCRIPT (a fresh, restarted or failed-over server, or another
   * cluster node) unless `late()` says the caller has given up by then; any other error is thrown as is.
   */
  async #script(s: Script, keys: string[], args: Array<string | Buffer | number>, late: () => boolean): Promise<unknown> {
    try {
      return await this.#send("EVALSHA", [s.sha, keys.length, ...keys, ...args]);
    } catch (error) {
      if (!isNoScript(error) || late()) throw error;
      return await this.#send("EVAL", [s.source, keys.length, ...keys, ...args]);
    }
  }

  /** Runs `run` under the deadline; `run` is told, through `late()`, whether the deadline has passed. */
  #deadline<T>(what: string, run: (late: () => boolean) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(
          new StoreUnavailableError(`Redis did not answer ${what} within ${this.#timeoutMs} ms`, {
            retryAfterSeconds: this.#retryAfterSeconds,
          }),
        );
      }, this.#timeoutMs);
      let pending: Promise<T>;
      try {
        pending = run(() => settled);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(
            new StoreUnavailableError(failure(what, error), {
              cause: error,
              retryAfterSeconds: this.#retryAfterSeconds,
            }),
          );
        },
      );
    });
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

/** ioredis' messages for "not connected, so not sent": no offline queue, cluster not ready, no node reachable. */
const NOT_SENT = /Stream isn't writeable|isn't ready and enableOfflineQueue|None of startup nodes is available/i;

/**
 * ioredis' messages for "the connection closed before the answer": a command in flight (it may have run), or one
 * whose retries were spent on reconnects.
 */
const NO_ANSWER = /^Connection is closed|max retries per request/i;

/** Socket errors (their `code`) that mean the connection dropped or could not be made. */
const SOCKET_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * The message of a StoreUnavailableError for an operation that failed, in the SDK's words, one line, bounded:
 * - `Redis connection is down (not connected): <op> was not sent` for ioredis' refusals while disconnected
 *   ("Stream isn't writeable and enableOfflineQueue options is false", "… isn't ready and enableOfflineQueue …");
 * - `Redis connection is down (connection closed): <op> got no answer` for a command in flight when the connection
 *   closed ("Connection is closed.", "Reached the max retries per request limit …": it may have run);
 * - `Redis connection is down (<code>): <op> got no answer` for a socket error (ECONNRESET, …);
 * - `Redis did not answer <op> in time (the client's commandTimeout)` for ioredis' "Command timed out";
 * - `Redis holds a corrupt <what>: <op> refused and changed nothing (fix or delete the key)` for a script's
 *   `CORRUPT <what>` reply (data this package did not write, found before the script's first write: see corrupt.ts);
 * - `Redis refused <op>: <Redis's reply>` for an error reply (OOM, READONLY, NOPERM, …: Redis's own words);
 * - `Redis failed <op>: <message>` for anything else.
 * `what` is the store method the caller ran (`get`, `consume`, `checkAndInsert`, …).
 */
function failure(what: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (NOT_SENT.test(message)) return `Redis connection is down (not connected): ${what} was not sent`;
  if (NO_ANSWER.test(message)) return `Redis connection is down (connection closed): ${what} got no answer`;
  if (typeof code === "string" && SOCKET_CODES.has(code)) return `Redis connection is down (${code}): ${what} got no answer`;
  if (/^Command timed out/i.test(message)) return `Redis did not answer ${what} in time (the client's commandTimeout)`;
  const line = message.split("\n", 1)[0] ?? "";
  const isReply = (error as { name?: unknown } | null)?.name === "ReplyError";
  if (isReply && line.startsWith(CORRUPT_REPLY)) return `Redis holds a corrupt ${line.slice(CORRUPT_REPLY.length).replace(/ script: .*$/, "")}: ${what} refused and changed nothing (fix or delete the key)`;
  const short = line.length > 160 ? `${line.slice(0, 157)}...` : line;
  return isReply ? `Redis refused ${what}: ${short}` : `Redis failed ${what}: ${short}`;
}
