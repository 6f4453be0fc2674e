// The freshness gate of what a process read from a file other processes write (revocations.jsonl, ca.crl.json): it
// answers from memory while the file was last looked at less than maxStalenessMs ago, measured with a monotonic clock
// (a wall clock set back would keep an old read forever); once that has passed, or when the clock went back, the
// caller looks at the file again. The time a look counts from is taken BEFORE it starts: what it reads is at least as
// new as that time.
import { InvalidArgumentError } from "@scep/core";

/** Default of every `maxStalenessMs` of the embedded CA: one second. */
export const DEFAULT_MAX_STALENESS_MS = 1_000;

/** How stale a read may be, and the monotonic clock that is measured with. */
export interface StalenessOptions {
  /** Milliseconds ≥ 0 (finite) a read is answered from memory (default 1000; 0: look on every call). */
  maxStalenessMs?: number;
  /** Monotonic milliseconds (default `performance.now`); tests inject one. */
  monotonicNow?: () => number;
}

/** A staleness bound with its defaults applied, checked by {@link checkStaleness}: what a {@link StalenessGate} takes. */
export interface Staleness {
  maxStalenessMs: number;
  monotonicNow: () => number;
}

/**
 * `options` with their defaults applied, checked once at the boundary that takes them from a user (openFileCa,
 * the FileRevocationStore constructor); the gates built from the result trust it.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) with one line saying why `options` are not a staleness bound
 */
export function checkStaleness(options: StalenessOptions): Staleness {
  const problem = stalenessProblem(options);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return { maxStalenessMs: options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS, monotonicNow: options.monotonicNow ?? (() => performance.now()) };
}

/** One line saying why `options` are not a staleness bound, or undefined when they are. */
function stalenessProblem(options: StalenessOptions): string | undefined {
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  if (typeof maxStalenessMs !== "number" || !Number.isFinite(maxStalenessMs) || maxStalenessMs < 0) {
    return `maxStalenessMs must be a number of milliseconds >= 0, got ${String(options.maxStalenessMs)}`;
  }
  if (options.monotonicNow !== undefined && typeof options.monotonicNow !== "function") return "monotonicNow must be a function returning milliseconds";
  return undefined;
}

/** When a file was last looked at, and whether that is recent enough to answer from memory (see the module comment). */
export class StalenessGate {
  readonly #maxStalenessMs: number;
  readonly #monotonicNow: () => number;
  /** When (monotonicNow) the last look that counts started; undefined: never, or it failed. */
  #checkedAt: number | undefined;

  /** @param staleness - a bound {@link checkStaleness} gave (not checked again) */
  constructor(staleness: Staleness) {
    this.#maxStalenessMs = staleness.maxStalenessMs;
    this.#monotonicNow = staleness.monotonicNow;
  }

  /** The monotonic time now: take it before a look, and pass it to {@link looked} once the look succeeded. */
  now(): number {
    return this.#monotonicNow();
  }

  /** Whether the last look started less than maxStalenessMs ago (false when there was none, or the clock went back). */
  fresh(): boolean {
    return this.#checkedAt !== undefined && this.recent(this.#checkedAt);
  }

  /** Whether a look that started at `startedAt` (a {@link now}) started less than maxStalenessMs ago (false when the clock went back). */
  recent(startedAt: number): boolean {
    const age = this.#monotonicNow() - startedAt;
    return age >= 0 && age < this.#maxStalenessMs;
  }

  /** Records a look that started at `startedAt` (a {@link now}) and succeeded. */
  looked(startedAt: number): void {
    this.#checkedAt = startedAt;
  }

  /** Forgets the last look: the next {@link fresh} is false (a look that fails leaves nothing to trust). */
  forget(): void {
    this.#checkedAt = undefined;
  }
}
