/**
 * Bytes allocated on V8's JavaScript heap while some work runs, for the
 * benchmarks (`codec.bench.ts` in-process, and the server probe
 * `examples/interop/bench/heap-probe.ts` inside a running server).
 *
 * V8 keeps no public running total of allocated bytes, but `v8.GCProfiler`
 * reports the used heap before and after every collection. So
 *
 *   allocated = (used heap at the end − used heap at the start)
 *             + Σ over the collections in between of (used before − used after)
 *
 * which counts every object the work made, whether it is still alive or was
 * already collected. Checked against known loops (10⁶ two-field objects read
 * 40 bytes each, run to run within 1 %). What it does NOT count: memory
 * outside the JS heap, above all the backing stores of ArrayBuffers, Buffers
 * and typed arrays (malloc'd; V8 frees them on a background thread, so the same
 * trick on `externalMemory` reads 4-35 % of the truth) and OpenSSL's own
 * allocations. A `Uint8Array`'s object header is counted, its bytes are not.
 *
 * @module
 */
import { GCProfiler, getHeapStatistics } from "node:v8";

/** What {@link startHeapAllocation}'s `stop()` returns. */
export interface HeapAllocation {
  /** Bytes allocated on the JS heap between start and stop (live or already collected). */
  bytes: number;
  /** Collections in between (scavenges and mark-compacts). */
  collections: number;
  /** Time V8 reports for them, in ms. */
  gcMs: number;
}

/**
 * Starts counting; `stop()` returns what was allocated since, on this thread's
 * heap (a process's main thread: the one serving requests).
 *
 * @example
 * ```ts
 * const counting = startHeapAllocation();
 * for (let i = 0; i < 1000; i++) await work();
 * const { bytes } = counting.stop(); // bytes / 1000 per call
 * ```
 */
export function startHeapAllocation(): { stop(): HeapAllocation } {
  const profiler = new GCProfiler();
  const before = getHeapStatistics().used_heap_size;
  profiler.start();
  return {
    stop(): HeapAllocation {
      const after = getHeapStatistics().used_heap_size;
      const { statistics } = profiler.stop();
      let freed = 0;
      let gcMs = 0;
      for (const s of statistics) {
        freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
        gcMs += s.cost / 1000; // µs
      }
      return { bytes: after - before + freed, collections: statistics.length, gcMs };
    },
  };
}
