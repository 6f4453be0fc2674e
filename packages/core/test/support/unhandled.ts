/**
 * The unhandled rejections while `body` runs, and for two turns of the event loop after it (Node reports one once the
 * microtasks of its turn have run): a test expects `[]` where a callback's or a late store call's rejection must be
 * caught.
 */
export async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  try {
    await body();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  return unhandled;
}
