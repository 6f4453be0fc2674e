/**
 * `within(op, ms)`: the server's one race against a timer (store calls, the ISSUED record a SUCCESS waits for, an
 * earlier identical enrollment). It settles as `op` does or with TIMED_OUT, clears its timer either way, and never
 * keeps a Node process alive by itself (the store call's timer used to be ref'd).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { StoreUnavailableError } from "../src/index.js";
import { TIMED_OUT, within } from "../src/lib/within.js";
import { createStoreCall, lateCall } from "../src/server/store-call.js";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Every timer `setTimeout` made while `run` ran, to ask whether it holds the process. */
async function timersOf(run: () => Promise<unknown>): Promise<NodeJS.Timeout[]> {
  const made: NodeJS.Timeout[] = [];
  const real = globalThis.setTimeout;
  vi.spyOn(globalThis, "setTimeout").mockImplementation(((...args: Parameters<typeof setTimeout>) => {
    const t = real(...args);
    made.push(t);
    return t;
  }) as typeof setTimeout);
  await run();
  return made;
}

describe("within", () => {
  it("settles as op does (value, undefined, rejection) and clears its timer", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    expect(await within(Promise.resolve(7), 1000)).toBe(7);
    expect(await within(Promise.resolve(undefined), 1000)).toBeUndefined();
    await expect(within(Promise.reject(new Error("down")), 1000)).rejects.toThrow("down");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("TIMED_OUT once ms pass first; op goes on", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let finish!: (v: string) => void;
    const op = new Promise<string>((r) => (finish = r));
    let result: string | typeof TIMED_OUT | undefined;
    void within(op, 1000).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(TIMED_OUT);
    finish("late");
    expect(await op).toBe("late");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("its timer is unref'd: a bounded wait alone does not hold the process", async () => {
    const timers = await timersOf(() => within(new Promise(() => undefined), 1));
    expect(timers.map((t) => t.hasRef())).toEqual([false]);
  });
});

describe("a store call under within", () => {
  it("a store call's timer is unref'd and cleared when the store answers", async () => {
    const timers = await timersOf(() => createStoreCall(60_000)("transaction store", async () => "ok"));
    expect(timers.map((t) => t.hasRef())).toEqual([false]);
  });

  it("a store that does not answer: StoreUnavailableError naming the store and the timeout; lateCall gives the call it gave up on", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let answer!: (v: string) => void;
    const call = createStoreCall(500)("challenge store", () => new Promise<string>((r) => (answer = r)));
    const caught = call.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    const error = await caught;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe("challenge store: no answer within 500 ms");
    const late = lateCall(error);
    answer("landed");
    expect(await late).toBe("landed");
  });
});
