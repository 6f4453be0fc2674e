/**
 * Racing an operation against a timer: the one way the server bounds a wait (a store call, the ISSUED record a
 * SUCCESS waits for, an earlier identical enrollment).
 */

/** What {@link within} resolves to when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * What `op` settles to (its value, or its rejection), or {@link TIMED_OUT} when `ms` milliseconds pass first. `op`
 * itself goes on; the caller decides what its late outcome means. The timer is cleared as soon as either comes first,
 * and unref'd, so a bounded wait never keeps a Node process alive by itself.
 */
export async function within<T>(op: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT);
    timer.unref?.();
  });
  try {
    return await Promise.race([op, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
