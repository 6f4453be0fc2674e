/**
 * Preloaded into our example server by `soak.bench.ts` (bundled by
 * scripts/bundle-example.mjs like the server: `node --import <probe>.mjs
 * examples/express-server/dist/main.mjs`, with an IPC channel): answers `{ probe: "sample", gc }` messages with the
 * server's heap figures, so the soak can report what each enrollment
 * allocates and whether the live heap grows, without any change to the server.
 *
 * - `allocatedBytes`: JS-heap bytes allocated since the probe loaded (see
 *   packages/core/bench/heap-allocation.ts for what that counts: objects, not
 *   ArrayBuffer contents).
 * - `heapUsed`: the used JS heap as it is, garbage included.
 * - `heapAfterGc`: the used JS heap right after a full collection forced
 *   here (`gc: true`; `--expose-gc` set at run time): the live set, the
 *   figure a leak moves. Forcing it costs the server one full GC per sample.
 * - `external`, `arrayBuffers`: `process.memoryUsage()` at that moment (after
 *   the forced collection).
 *
 * Bench-only: nothing in the server imports it.
 *
 * @module
 */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startHeapAllocation } from "../../../packages/core/bench/heap-allocation.js";

/** What the probe answers. */
export interface HeapSample {
  probe: "sample";
  allocatedBytes: number;
  collections: number;
  heapUsed: number;
  heapAfterGc: number;
  external: number;
  arrayBuffers: number;
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let counting = startHeapAllocation();
let allocatedBytes = 0;
let collections = 0;

process.on("message", (message: { probe?: string; gc?: boolean }) => {
  if (message?.probe !== "sample" || !process.send) return;
  const window = counting.stop();
  allocatedBytes += window.bytes;
  collections += window.collections;
  const heapUsed = getHeapStatistics().used_heap_size;
  if (message.gc) gc();
  const heapAfterGc = getHeapStatistics().used_heap_size;
  const { external, arrayBuffers } = process.memoryUsage();
  // The forced collection falls between two counting windows: what it frees was counted when it was allocated.
  counting = startHeapAllocation();
  process.send({ probe: "sample", allocatedBytes, collections, heapUsed, heapAfterGc, external, arrayBuffers } satisfies HeapSample);
});
