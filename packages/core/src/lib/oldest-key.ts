/**
 * The oldest key of a Map in insertion order, in O(1) amortized: for a Map kept bounded by dropping its oldest entry.
 *
 * `map.keys().next()` is O(entries deleted since the table was last rebuilt) in V8: a Map keeps a deleted entry's slot
 * until it grows or rehashes, and a new iterator starts at slot 0 and steps over every such hole. A Map that drops its
 * oldest entry on each insert keeps up to half its capacity in holes at the front: at 10,000 entries that was ~7.8 µs
 * per insert on this project's 2-vCPU host, against ~0.3 µs here (measured). A live iterator keeps its place, and per
 * ECMAScript's Map iteration (ECMA-262 §24.1.5) it still skips entries deleted later and reaches entries added later, so
 * an entry moved to the end (deleted and set again) comes out in its new place. Call `forget()` after such a move:
 * see the comment inside.
 */
export function oldestKeyOf<K>(map: Map<K, unknown>): { (): K | undefined; forget(): void } {
  // Made at the first call, not before, and let go by `forget`: an iterator that is not moved keeps the table it points
  // into, and V8 links every table that replaces it (a Map rebuilds its table as it grows or fills with deleted slots)
  // with the entries each held, so one parked on a Map that is never full, or whose keys are only moved to the end,
  // held every value it ever replaced: a leak. Each call moves it onto the current table and the replaced ones are freed.
  let keys: MapIterator<K> | undefined;
  let moves = 0;
  const oldest = (): K | undefined => {
    moves = 0; // moved onto the current table: the replaced ones are freed
    let next = keys?.next();
    if (next === undefined || next.done === true) {
      // A finished iterator stays finished (ECMA-262 §24.1.5.1): begin again for what was added since.
      keys = map.keys();
      next = keys.next();
    }
    return next.done === true ? undefined : next.value;
  };
  // For a caller that deletes and sets a key again without an eviction (moves it to the end). A table is rebuilt at
  // most once per (free slots) moves, so an iterator kept across MOVES_KEPT moves holds a few tables at most; after
  // that it is let go, and the next eviction begins a new one (stepping over the holes at the front once). Letting go
  // at every move cost the O(1) eviction wherever moves and new keys mix (a rate limiter at its bound).
  return Object.assign(oldest, {
    forget: (): void => {
      if (++moves >= MOVES_KEPT) {
        keys = undefined;
        moves = 0;
      }
    },
  });
}

/** Moves to the end after which {@link oldestKeyOf} lets go of its iterator. */
const MOVES_KEPT = 1024;
