/**
 * The recent-activity log: the last N requests a server (or a proxy) answered,
 * fed by the event hook, filterable by kind (initial enrollment, renewal,
 * poll…), challenge mechanism (static, intune…), profile, outcome and reason.
 * Bounded in entries and in the length of every string it keeps.
 *
 * @module
 */
import { type FailInfo, InvalidArgumentError } from "../errors.js";
import { clip } from "../lib/clip.js";
import type { ScepEvent, ScepOutcome } from "./events.js";
import { clientAddressOf } from "./handler.js";
import { numberOption, typeOf } from "../number-option.js";

/**
 * What a request was, for an operator:
 * `initial` (first enrollment), `renewal` (RFC 8894 §3.3.1.2), `poll` (CertPoll), `query` (GetCert, GetCRL),
 * `ca` (GetCACaps, GetCACert, GetNextCACert), `proxy` (recorded by a SCEP proxy), `other` (unknown operation).
 * @group Server
 */
export type ActivityKind = "initial" | "renewal" | "poll" | "query" | "ca" | "proxy" | "other";

/** One request in the log. Strings are cut to a bounded length (a cut string ends with `…`). @group Server */
export interface ActivityEntry {
  /** Sequence number, increasing by one per recorded entry (page with {@link ActivityFilter.before}). */
  id: number;
  /** The event's `time` (a server's event: when the request arrived), else when it was recorded (the log's clock). */
  time: Date;
  /** What it was. */
  kind: ActivityKind;
  /** The profile's challenge mechanism for enrollments (`static`, `store`, `intune`, …). */
  challenge?: string;
  /** Profile name. */
  profile?: string;
  /** The SCEP operation or messageType (`PKCSReq`, `CertPoll`, …). */
  operation: string;
  /** How it ended. */
  outcome: ScepOutcome;
  /** Stable reason label (`issued`, `bad_challenge`, `replay`, …). */
  reason: string;
  /** failInfo of a FAILURE CertRep. */
  failInfo?: FailInfo;
  /** Subject of the CSR or of the issued certificate. */
  subject?: string;
  /** Serial of the issued certificate, hex. */
  serial?: string;
  /** transactionID. */
  transactionId?: string;
  /**
   * The client's IP address as text (`127.0.0.1`, `::1`), copied from the event's `clientAddress`: what the adapter
   * passed as `info.remoteAddress`, by default the TCP peer, so behind a reverse proxy the proxy's address unless
   * the adapter is told to read a forwarding header (Express's `trust proxy`, @scep/hono's `remoteAddress` option).
   * At most 64 characters (a longer one is cut, ending in `…`); absent when the event had none.
   */
  clientAddress?: string;
  /** HTTP status returned (0 when the source did not say). */
  status: number;
  /** Milliseconds spent (0 when the source did not say). */
  latencyMs: number;
}

/**
 * What {@link ActivityLog.record} takes: a server's {@link ScepEvent}, or any event of that shape (a proxy's), with
 * an optional explicit `kind` (e.g. `proxy`) and `time`.
 * @group Server
 */
export type ActivityInput = Omit<ScepEvent, "operation" | "status" | "latencyMs" | "time"> & { operation?: string; status?: number; latencyMs?: number; kind?: ActivityKind; time?: Date };

/** Narrows {@link ActivityLog.list}; every given field must match. @group Server */
export interface ActivityFilter {
  /** One kind or any of several (e.g. `["initial", "renewal"]`). */
  kind?: ActivityKind | readonly ActivityKind[];
  /** One challenge mechanism or any of several (e.g. `intune`, `static`). */
  challenge?: string | readonly string[];
  /** Profile name. */
  profile?: string;
  /** One outcome or any of several. */
  outcome?: ScepOutcome | readonly ScepOutcome[];
  /** Reason label, exact. */
  reason?: string;
  /** transactionID, exact. */
  transactionId?: string;
  /** Case-insensitive substring of the subject. */
  subject?: string;
  /** Only entries recorded at or after this time. */
  since?: Date;
  /** Only entries with an id below this one (the next page: the last id of the previous page); an integer from 0 to 2^53 − 1. */
  before?: number;
  /** Most entries returned (default 100), an integer from 0 to 1 000 000 (the largest `maxEntries`). */
  limit?: number;
}

/** Options of {@link ActivityLog}. @group Server */
export interface ActivityLogOptions {
  /** Most entries kept, a count; the oldest is dropped first (default 1000). An integer from 1 to 1 000 000, else `ERR_INVALID_ARGUMENT`. */
  maxEntries?: number;
  /** Clock stamping entries (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Which events are kept (default: all but successful `ca` requests, GetCACaps/GetCACert, which every client sends
   * before each enrollment and which would push the enrollments out of the log).
   */
  include?: (entry: ActivityEntry) => boolean;
}

const MAX = { subject: 256, reason: 64, profile: 128, transactionId: 128, serial: 80, challenge: 32, operation: 32 } as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a leading U+FEFF is the value's, not a byte order mark

/**
 * `s` as a string of its own: a slice of a long string keeps the whole original alive in V8 (a 100 KB subject would
 * cost 100 KB an entry), so what is kept is copied out.
 */
function own(s: string): string {
  return decoder.decode(encoder.encode(s));
}

/** The entry's strings that come from the event (copied out once the entry is kept). */
const COPIED = ["operation", "reason", "challenge", "profile", "subject", "serial", "transactionId", "clientAddress"] as const;

const KIND_OF_OPERATION: Record<string, ActivityKind> = {
  PKCSReq: "initial",
  RenewalReq: "renewal",
  CertPoll: "poll",
  GetCert: "query",
  GetCRL: "query",
  GetCACaps: "ca",
  GetCACert: "ca",
  GetNextCACert: "ca",
};

/** The kind of an event: its explicit kind, else from the operation and whether the server took it as a renewal. */
function kindOf(e: ActivityInput): ActivityKind {
  if (e.kind) return e.kind;
  const k = (e.operation !== undefined && Object.hasOwn(KIND_OF_OPERATION, e.operation) ? KIND_OF_OPERATION[e.operation] : undefined) ?? "other";
  return k === "initial" && e.renewal ? "renewal" : k;
}

const defaultInclude = (e: ActivityEntry): boolean => !(e.kind === "ca" && e.outcome === "success");

const anyOf = <T>(want: T | readonly T[] | undefined, have: T | undefined): boolean =>
  want === undefined || (Array.isArray(want) ? (want as readonly T[]).includes(have as T) : want === have);

/**
 * A bounded log of recent requests, fed by the event hook: pass {@link ActivityLog.sink} as (one of) the server's
 * `onEvent` sinks. In memory, per process: each replica logs what it answered. At most `maxEntries` entries, each
 * string cut to a fixed length and copied out of the event, so the bound holds whatever clients send: at most
 * about 2 KiB an entry (measured 1.7 KiB with every field at its limit), 2 MiB for the default 1000 entries.
 *
 * @example
 * ```ts
 * import { ActivityLog, createScepServer, type ScepProfile } from "@scep/core";
 *
 * declare const profile: ScepProfile;
 * const activity = new ActivityLog({ maxEntries: 500 });
 * const server = createScepServer({ profiles: [profile], onEvent: [activity.sink] });
 * // later, in an admin endpoint: the last 20 failed Intune renewals
 * const rows = activity.list({ kind: "renewal", challenge: "intune", outcome: "failure", limit: 20 });
 * ```
 * @group Server
 */
export class ActivityLog {
  readonly #ring: (ActivityEntry | undefined)[];
  readonly #now: () => Date;
  readonly #include: (entry: ActivityEntry) => boolean;
  #next = 1;
  #size = 0;

  /** @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a `maxEntries` that is not an integer from 1 to 1 000 000 (NaN made `new Array` throw a RangeError; 0 was taken as 1). */
  constructor(options: ActivityLogOptions = {}) {
    const max = numberOption("maxEntries", options.maxEntries, 1000, { min: 1, max: 1_000_000 });
    if (options.include !== undefined && typeof options.include !== "function") throw new InvalidArgumentError(`include must be a function (got ${typeOf(options.include)})`);
    this.#ring = new Array<ActivityEntry | undefined>(max);
    this.#now = options.now ?? (() => new Date());
    this.#include = options.include ?? defaultInclude;
  }

  /** An event sink recording every event (bound: pass it as it is to `onEvent`). Never throws. */
  readonly sink = (event: ScepEvent): void => {
    this.record(event);
  };

  /** Records one event (unless `include` refuses it); the oldest entry goes when the log is full. Returns the entry, or undefined when not kept. */
  record(event: ActivityInput): ActivityEntry | undefined {
    const kind = kindOf(event);
    const entry: ActivityEntry = {
      id: this.#next,
      time: event.time ?? this.#now(),
      kind,
      operation: clip(event.operation, MAX.operation) ?? (kind === "proxy" ? "proxy" : "unknown"),
      outcome: event.outcome,
      reason: clip(event.reason, MAX.reason),
      status: event.status ?? 0,
      latencyMs: event.latencyMs ?? 0,
    };
    if (event.challengeKind !== undefined) entry.challenge = clip(event.challengeKind, MAX.challenge);
    if (event.profile !== undefined) entry.profile = clip(event.profile, MAX.profile);
    if (event.failInfo !== undefined) entry.failInfo = event.failInfo;
    if (event.subject !== undefined) entry.subject = clip(event.subject, MAX.subject);
    if (event.serial !== undefined) entry.serial = clip(event.serial, MAX.serial);
    if (event.transactionId !== undefined) entry.transactionId = clip(event.transactionId, MAX.transactionId);
    // The event's own clip (64 characters); anything but a non-empty string (an event of a caller's own shape) is none.
    const clientAddress = clientAddressOf({ remoteAddress: event.clientAddress });
    if (clientAddress !== undefined) entry.clientAddress = clientAddress;
    if (!this.#include(entry)) return undefined;
    // Copied only now: the events `include` refuses (by default every successful GetCACaps/GetCACert) cost no copy.
    for (const k of COPIED) {
      const v = entry[k];
      if (v !== undefined) (entry as unknown as Record<string, string>)[k] = own(v);
    }
    this.#ring[(this.#next - 1) % this.#ring.length] = entry;
    this.#next++;
    this.#size = Math.min(this.#size + 1, this.#ring.length);
    return entry;
  }

  /**
   * Entries matching `filter`, newest first, at most `filter.limit` (default 100).
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `limit` or `before` that is not an integer in its range
   *   (NaN returned nothing, or with `before` every entry: `numberOption`'s message, e.g.
   *   `limit must be an integer from 0 to 1000000 (got NaN)`).
   */
  list(filter: ActivityFilter = {}): ActivityEntry[] {
    const limit = numberOption("limit", filter.limit, 100, { min: 0, max: 1_000_000 });
    if (filter.before !== undefined) numberOption("before", filter.before, 0, { min: 0, max: Number.MAX_SAFE_INTEGER });
    const subject = filter.subject?.toLowerCase();
    const since = filter.since?.getTime();
    const out: ActivityEntry[] = [];
    for (let i = 1; i <= this.#size && out.length < limit; i++) {
      const e = this.#ring[(this.#next - 1 - i) % this.#ring.length]!;
      if (filter.before !== undefined && e.id >= filter.before) continue;
      if (since !== undefined && e.time.getTime() < since) continue;
      if (!anyOf(filter.kind, e.kind) || !anyOf(filter.challenge, e.challenge) || !anyOf(filter.outcome, e.outcome)) continue;
      if (filter.profile !== undefined && e.profile !== filter.profile) continue;
      if (filter.reason !== undefined && e.reason !== filter.reason) continue;
      if (filter.transactionId !== undefined && e.transactionId !== filter.transactionId) continue;
      if (subject !== undefined && !(e.subject ?? "").toLowerCase().includes(subject)) continue;
      out.push({ ...e });
    }
    return out;
  }

  /** Number of entries held (at most `maxEntries`). */
  get size(): number {
    return this.#size;
  }

  /** The most entries held. */
  get capacity(): number {
    return this.#ring.length;
  }
}
