/**
 * `it` with an `owned` fixture: the servers a test starts belong to that test and are closed when it ends (passed,
 * failed or timed out), by vitest's fixture teardown, never by another test. A module-level `let server` closed in
 * `afterEach` or inside a test breaks that: a test that times out keeps running, and its body then reads (and closes)
 * the server the next test put in the same variable.
 */
import { test } from "vitest";

/** Anything a test starts that must be stopped: a loopback server, a fake SCEP server. */
export interface Closable {
  close(): Promise<void>;
}

/** Takes what `started` resolves to into this test's keeping: closed when the test ends; returned as is. */
export type Own = <T extends Closable>(started: Promise<T>) => Promise<T>;

/**
 * vitest's `it` with `owned`. A test whose body goes on after its end (it timed out) and starts yet another server
 * gets it closed at once and an error: nothing outlives the test that started it.
 */
export const it = test.extend<{ owned: Own }>({
  // `{}`: vitest reads a fixture's dependencies from this destructuring; `owned` has none
  owned: async ({}, use) => {
    const open: Closable[] = [];
    let ended = false;
    await use(async (started) => {
      const s = await started;
      if (ended) {
        await s.close();
        throw new Error("a server was started after its test ended (the test timed out?); closed at once");
      }
      open.push(s);
      return s;
    });
    ended = true;
    await Promise.all(open.splice(0).map((s) => s.close()));
  },
});
