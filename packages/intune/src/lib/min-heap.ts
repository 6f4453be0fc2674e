/** A binary min-heap of `(priority, value)` pairs; the replay cache's eviction order. */
export class MinHeap<T> {
  readonly #p: number[] = [];
  readonly #v: T[] = [];

  get size(): number {
    return this.#p.length;
  }

  push(priority: number, value: T): void {
    const p = this.#p;
    const v = this.#v;
    let i = p.length;
    p.push(priority);
    v.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (p[parent]! <= priority) break;
      p[i] = p[parent]!;
      v[i] = v[parent]!;
      i = parent;
    }
    p[i] = priority;
    v[i] = value;
  }

  /** The smallest priority, or undefined when empty. */
  peekPriority(): number | undefined {
    return this.#p[0];
  }

  pop(): [number, T] | undefined {
    const p = this.#p;
    const v = this.#v;
    if (p.length === 0) return undefined;
    const top: [number, T] = [p[0]!, v[0]!];
    const lastP = p.pop()!;
    const lastV = v.pop()!;
    const n = p.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && p[r]! < p[l]! ? r : l;
        if (p[c]! >= lastP) break;
        p[i] = p[c]!;
        v[i] = v[c]!;
        i = c;
      }
      p[i] = lastP;
      v[i] = lastV;
    }
    return top;
  }

  clear(): void {
    this.#p.length = 0;
    this.#v.length = 0;
  }
}
