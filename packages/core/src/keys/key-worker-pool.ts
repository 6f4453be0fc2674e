/**
 * A small pool of worker threads for private-key operations (RSA
 * decryptions and signatures), so the event loop stays free to parse while
 * OpenSSL works.
 *
 * Why threads: `crypto.privateDecrypt` is synchronous and has no asynchronous
 * form, and the raw RSA operation RSAES-PKCS1-v1_5 needs on Node 20
 * (`RSA_NO_PADDING`, see `lib/node-crypto.ts`) is refused by the one
 * asynchronous private-key API (`crypto.sign` with a callback: "invalid padding
 * mode"). Signatures could run on libuv's pool ({@link LocalKeyOptions.threadPool}),
 * but a hop there cost the event loop about 0.36 ms per signature on a 2-core VM,
 * against about 0.1 ms for a message to a worker thread; so the pool signs too.
 *
 * Why an inline (`eval`) worker: the worker runs two calls of `node:crypto`,
 * nothing of this package, so its source is a string here. A worker file
 * would have to resolve as `.ts` under tsx and vitest, as `.js` next to the ESM
 * bundle and as `.cjs` next to the CJS one, and survive users' bundlers; the
 * string works in all of them unchanged. The worker starts with no
 * `execArgv` (no loader hooks such as tsx's), so it starts fast.
 *
 * What runs where: the worker does the RSA operation only. The implicit-rejection
 * unpadding of RSAES-PKCS1-v1_5 (constant time, no early exit) stays on the
 * calling thread in `lib/node-crypto.ts`, the same code as the in-thread path,
 * so a bad padding and a wrong key still take the same path and give the same
 * kind of answer.
 *
 * @module
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { InvalidArgumentError, KeyError, KeyUnavailableError } from "../errors.js";
import type { DigestAlgorithm, SignatureAlgorithm } from "../algorithms.js";
import * as nc from "../lib/node-crypto.js";
import type { KeyObject } from "../lib/node-crypto.js";
import { numberOption } from "../number-option.js";

/** `crypto.sign` options of a signature besides the key (padding, salt length, DER ECDSA). */
type SignParams = ReturnType<typeof nc.signParams>;

/**
 * The worker (CommonJS, evaluated): one message per operation, `{ id, k, key?, op, data, hash?, options? }`
 * (op 0: raw RSA decryption, 1: RSAES-OAEP, 2: a signature with `crypto.sign` options)
 * → `{ id, out }`, `out` null when OpenSSL refused (the caller decides what that means: a
 * synthetic key for PKCS#1 v1.5, a DecryptError for OAEP, a KeyError for a signature; no OpenSSL text crosses over).
 * Keys are sent once per worker and held by id until `{ forget }`.
 */
const WORKER_SOURCE = `"use strict";
const { parentPort } = require("node:worker_threads");
const { privateDecrypt, sign, constants } = require("node:crypto");
const keys = new Map();
parentPort.on("message", (m) => {
  if (m.forget !== undefined) { keys.delete(m.forget); return; }
  if (m.key !== undefined) keys.set(m.k, m.key);
  const key = keys.get(m.k);
  // Never decrypt without the key (an answer of null would read as a bad padding): crash, the pool fails the job.
  if (key === undefined) throw new Error("unknown key");
  let out = null;
  try {
    const r = m.op === 0
      ? privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, m.data)
      : m.op === 1
        ? privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: m.hash }, m.data)
        : sign(m.hash, m.data, { ...m.options, key });
    out = new Uint8Array(r);
  } catch {}
  if (out) parentPort.postMessage({ id: m.id, out }, [out.buffer]);
  else parentPort.postMessage({ id: m.id, out: null });
});
// A message that cannot be deserialized would leave its job unanswered: exit, the pool fails the thread's jobs.
parentPort.on("messageerror", () => process.exit(1));
`;

/**
 * The worker's V8 heap limits. Its live data is a few keys and one message in flight, but V8 sizes each isolate's
 * young generation for a JS program: the pages it cycles through stay resident, ~8 MB a worker. 2 MB holds a
 * message's garbage many times over (measured: 2 workers × 12 000 RSA-2048 signatures, process RSS 88.8–95.4 MB
 * without the limit, 77.7–80.5 MB with it, the same CPU time).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2 } as const;

/** Most threads a pool takes. */
const MAX_SIZE = 64;

/** Options of {@link KeyWorkerPool}. @group Keys */
export interface KeyWorkerPoolOptions {
  /**
   * Worker threads, a count (an integer from 1 to 64). Default `min(2, availableParallelism())`: the pool runs every private-key operation of
   * its keys, so one thread would cap them at one core (an RSA-4096 CA on 2 cores: 54 against 78 enrollments/s).
   */
  size?: number;
  /**
   * Most operations queued or running at once over the pool, a count (an integer from 1 to 1 000 000, default
   * 1024); one more rejects at once with {@link KeyUnavailableError}, so memory
   * stays bounded when requests arrive faster than the threads decrypt and sign.
   */
  maxQueue?: number;
}

interface Job {
  resolve(out: Uint8Array | undefined): void;
  reject(error: unknown): void;
}

/** One worker thread and what it holds. */
interface Slot {
  readonly worker: Worker;
  /** Operations sent to it and not answered yet, by id. */
  readonly jobs: Map<number, Job>;
  /** Ids of the keys it has been sent. */
  readonly keys: Set<number>;
}

let sharedPool: KeyWorkerPool | undefined;
/** Each pool's threads, for {@link crashKeyWorkerForTest} only. */
const slotsOf = new WeakMap<KeyWorkerPool, (Slot | undefined)[]>();

/**
 * A pool of worker threads that run the private-key operations of
 * {@link LocalKey}s created with {@link LocalKeyOptions.workerPool}: RSA
 * decryptions (the key transport of RFC 8894 §3.2.2 / RFC 5652 §6.2.1:
 * RSAES-PKCS1-v1_5 and RSAES-OAEP) and signatures (CertReps, certificates, CRLs). A server under concurrent load then keeps
 * its event loop for parsing and spreads the RSA work over the other cores;
 * each operation pays a thread hop (tens of µs on bare metal, about 0.1 ms on a
 * small VM), so a sequential caller gains nothing, and neither does a server
 * that already runs one process per core.
 *
 * Threads start on first use. An idle pool keeps no process alive (its threads
 * are unref'd between operations), so `close()` is optional; it stops the
 * threads and rejects operations still queued. A thread that exits or crashes
 * fails its pending operations with {@link KeyUnavailableError}
 * (`ERR_KEY_UNAVAILABLE`); the next operation starts a new thread.
 * Several keys may share one pool; each is sent to a thread once.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` from the constructor when `size` or `maxQueue` is out of range.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { KeyWorkerPool, LocalKey, createScepServer } from "@scep/core";
 *
 * const pool = new KeyWorkerPool({ size: 2 });
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"), { workerPool: pool });
 * // … serve requests with `ca` as the profile's signer; on shutdown:
 * await pool.close();
 * ```
 * @group Keys
 */
export class KeyWorkerPool {
  /** Worker threads the pool runs at most. */
  readonly size: number;
  /** Most operations queued or running at once. */
  readonly maxQueue: number;
  readonly #slots: (Slot | undefined)[];
  #pending = 0;
  #nextJob = 1;
  #nextKey = 1;
  #closed = false;
  readonly #keyIds = new WeakMap<KeyObject, number>();
  // A key that is garbage-collected is dropped from the threads too.
  readonly #forget = new FinalizationRegistry<number>((id) => {
    for (const slot of this.#slots) {
      if (slot?.keys.delete(id)) slot.worker.postMessage({ forget: id });
    }
  });

  constructor(options: KeyWorkerPoolOptions = {}) {
    const size = numberOption("KeyWorkerPool size", options.size, Math.min(2, availableParallelism()), { min: 1, max: MAX_SIZE });
    const maxQueue = numberOption("KeyWorkerPool maxQueue", options.maxQueue, 1024, { min: 1, max: 1_000_000 });
    this.size = size;
    this.maxQueue = maxQueue;
    this.#slots = new Array<Slot | undefined>(size).fill(undefined);
    slotsOf.set(this, this.#slots);
  }

  /**
   * The process-wide pool with the default options, created on first call
   * ({@link LocalKeyOptions.workerPool} `true` uses it). Never closed: idle,
   * it keeps no process alive.
   */
  static shared(): KeyWorkerPool {
    sharedPool ??= new KeyWorkerPool();
    return sharedPool;
  }

  /** Operations queued or running now. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * The raw RSA private operation (`RSA_NO_PADDING`) on a thread; `undefined`
   * when OpenSSL refuses the ciphertext (≥ modulus). Used by {@link LocalKey}.
   * @internal
   */
  rsaRawDecrypt(key: KeyObject, ciphertext: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#run(key, 0, ciphertext, undefined);
  }

  /**
   * RSAES-OAEP decryption on a thread; `undefined` when it fails (any reason).
   * Used by {@link LocalKey}.
   * @internal
   */
  rsaOaepDecrypt(key: KeyObject, ciphertext: Uint8Array, hash: DigestAlgorithm): Promise<Uint8Array | undefined> {
    return this.#run(key, 1, ciphertext, hash);
  }

  /**
   * Signs `data` on a thread (the digest is computed there): the same
   * signature as {@link LocalKey.sign} in the calling thread. Used by
   * {@link LocalKey} created with {@link LocalKeyOptions.workerPool}.
   *
   * @throws UnsupportedAlgorithmError `ERR_UNSUPPORTED_ALGORITHM` (the key cannot make `algorithm` signatures);
   *   rejects with KeyError `ERR_KEY` when OpenSSL refuses, KeyUnavailableError `ERR_KEY_UNAVAILABLE`.
   * @internal
   */
  async sign(key: KeyObject, algorithm: SignatureAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    nc.checkKeyFits(key, algorithm);
    const out = await this.#run(key, 2, data, algorithm.digest, nc.signParams(algorithm));
    if (!out) throw new KeyError(`the ${nc.keyType(key)} key could not make a ${algorithm.scheme} signature`);
    return out;
  }

  /**
   * Stops the threads. Operations queued or running reject with
   * {@link KeyUnavailableError}; later ones too. Resolves when every thread has exited.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const exits: Promise<number>[] = [];
    for (const [i, slot] of this.#slots.entries()) {
      if (!slot) continue;
      this.#slots[i] = undefined;
      this.#fail(slot, "the key worker pool is closed");
      exits.push(slot.worker.terminate());
    }
    await Promise.all(exits);
  }

  #run(key: KeyObject, op: 0 | 1 | 2, data: Uint8Array, hash: DigestAlgorithm | undefined, options?: SignParams): Promise<Uint8Array | undefined> {
    if (this.#closed) return Promise.reject(new KeyUnavailableError("the key worker pool is closed"));
    if (this.#pending >= this.maxQueue) return Promise.reject(new KeyUnavailableError(`the key worker queue is full (${this.maxQueue} operations)`));
    let slot: Slot;
    try {
      slot = this.#pick();
    } catch (cause) {
      return Promise.reject(new KeyUnavailableError("could not start a key worker thread", { cause }));
    }
    let k = this.#keyIds.get(key);
    if (k === undefined) {
      k = this.#nextKey++;
      this.#keyIds.set(key, k);
      this.#forget.register(key, k);
    }
    const id = this.#nextJob++;
    const message: { id: number; k: number; op: 0 | 1 | 2; data: Uint8Array; key?: KeyObject; hash?: DigestAlgorithm; options?: SignParams } = { id, k, op, data };
    const sendsKey = !slot.keys.has(k);
    if (sendsKey) message.key = key;
    if (hash !== undefined) message.hash = hash;
    if (options !== undefined) message.options = options;
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      // First: a message that cannot be sent (it throws, the promise rejects) leaves no job and no key marked sent.
      slot.worker.postMessage(message);
      if (sendsKey) slot.keys.add(k);
      if (slot.jobs.size === 0) slot.worker.ref(); // busy: keep the process alive until it answers
      slot.jobs.set(id, { resolve, reject });
      this.#pending++;
    });
  }

  /** The thread with the fewest operations in flight; an empty place gets a new thread. */
  #pick(): Slot {
    let best: Slot | undefined;
    for (let i = 0; i < this.#slots.length; i++) {
      const slot = this.#slots[i];
      if (!slot) {
        // Start threads one by one as load needs them: an idle one first.
        if (best && best.jobs.size === 0) return best;
        return (this.#slots[i] = this.#start(i));
      }
      if (!best || slot.jobs.size < best.jobs.size) best = slot;
    }
    return best!;
  }

  #start(index: number): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], name: "scep-key-worker", resourceLimits: WORKER_LIMITS });
    worker.unref();
    const slot: Slot = { worker, jobs: new Map(), keys: new Set() };
    worker.on("message", (m: { id: number; out: Uint8Array | null }) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      slot.jobs.delete(m.id);
      this.#pending--;
      if (slot.jobs.size === 0) worker.unref();
      job.resolve(m.out ?? undefined);
    });
    // An answer that cannot be read would leave its operation waiting forever: end the thread instead.
    worker.on("messageerror", () => void worker.terminate());
    // Uncaught in the thread: 'exit' follows; without a listener 'error' would be thrown in this thread.
    worker.on("error", () => {});
    worker.on("exit", (code) => {
      if (this.#slots[index] === slot) this.#slots[index] = undefined;
      this.#fail(slot, `the key worker thread exited (code ${code})`);
    });
    return slot;
  }

  #fail(slot: Slot, why: string): void {
    if (slot.jobs.size === 0) return;
    const jobs = [...slot.jobs.values()];
    this.#pending -= jobs.length;
    slot.jobs.clear();
    slot.worker.unref();
    for (const job of jobs) job.reject(new KeyUnavailableError(why));
  }
}

/**
 * Makes one running thread of `pool` drop every key it holds while the pool
 * still counts them as sent, as a lost message would (tests only: not
 * exported from the package). Its next operation must fail, not decrypt without a key.
 * @internal
 */
export function dropKeysInKeyWorkerForTest(pool: KeyWorkerPool, index = 0): void {
  const slot = slotsOf.get(pool)?.[index];
  if (!slot) throw new Error(`no running key worker thread at ${index}`);
  for (const k of slot.keys) slot.worker.postMessage({ forget: k });
}

/**
 * Crashes one running thread of `pool` with an uncaught exception inside it,
 * as a fault would (tests only: not exported from the package). Operations
 * submitted before this resolves go to that thread and are rejected with
 * {@link KeyUnavailableError}. Resolves with the thread's exit code.
 * @internal
 */
export function crashKeyWorkerForTest(pool: KeyWorkerPool, index = 0): Promise<number> {
  const slot = slotsOf.get(pool)?.[index];
  if (!slot) throw new Error(`no running key worker thread at ${index}`);
  const exited = new Promise<number>((resolve) => slot.worker.once("exit", resolve));
  slot.worker.postMessage(null); // the worker reads `m.forget` of it: a TypeError nobody catches
  return exited;
}
