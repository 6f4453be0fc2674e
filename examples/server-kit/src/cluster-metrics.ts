// `/metrics` of `--workers N` (N > 1): one scrape, the whole server's numbers. Node's cluster hands each connection to
// one worker, and each worker's OpenTelemetry SDK counts only its own requests: a scrape that showed one worker's
// counters would see them jump between workers (Prometheus takes every fall for a counter reset, so rate() and
// increase() go wrong). prom-client's AggregatorRegistry does the same as this:
//   1. the worker that receives `GET /metrics` asks the primary (METRICS_REQUEST_MESSAGE);
//   2. the primary asks every listening worker to collect (METRICS_COLLECT_MESSAGE), waits at most
//      METRICS_COLLECT_TIMEOUT_MS, and merges what came back with what it keeps (below);
//   3. the asking worker serialises the merged metrics with the exporter's PrometheusSerializer and answers.
// What the primary keeps, per worker slot: the last collection each worker answered. A worker that does not answer in
// time counts with its last numbers (stale, never lower); a worker that dies leaves its last numbers to the primary,
// which adds them to every later scrape. So counters and histograms never go back while the primary runs; counts a
// worker made after its last collection and before it died are never shown. Gauges (days to CA / trust-anchor expiry,
// the same in every worker) are the minimum over the workers that answered this time: the one that alerts first.
import type { ServerResponse } from "node:http";
import type { Worker } from "node:cluster";
import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram, type MetricData, type ScopeMetrics } from "@opentelemetry/sdk-metrics";
import type { MetricsSdk } from "./operator-endpoints.js";
import { sendMetrics } from "./prometheus-text.js";
import { sendPlain } from "./probes.js";

/** Worker → primary: `{ type, id }`, a scrape reached this worker; answered with {@link METRICS_RESULT_MESSAGE} and the same id. */
export const METRICS_REQUEST_MESSAGE = "scep-kit:metrics-request";
/** Primary → worker: `{ type, id }`, collect now; answered with {@link METRICS_COLLECTED_MESSAGE} and the same id. */
export const METRICS_COLLECT_MESSAGE = "scep-kit:metrics-collect";
/** Worker → primary: `{ type, id, seq, scopeMetrics }`, `seq` rising per worker process (a later answer wins). */
export const METRICS_COLLECTED_MESSAGE = "scep-kit:metrics-collected";
/** Primary → worker: `{ type, id, scopeMetrics, reporting, workers }`, the merged metrics of the whole server. */
export const METRICS_RESULT_MESSAGE = "scep-kit:metrics-result";

/** How long the primary waits for the workers' collections (ms); a worker that has not answered by then is left out. */
export const METRICS_COLLECT_TIMEOUT_MS = 2_000;
/** How long a worker waits for the primary's merged metrics (ms) before it answers the scrape 503. */
const METRICS_RESULT_TIMEOUT_MS = METRICS_COLLECT_TIMEOUT_MS + 1_000;

/** The instrumentation scope of the kit's own metrics about the aggregation. */
const KIT_SCOPE = { name: "scep-example-server" };

/** One worker's (or the primary's kept) metrics in a merge; `counters`: only monotonic sums and histograms count. */
export interface MetricsPart {
  scopeMetrics: readonly ScopeMetrics[];
  /** `all`: a collection answered now; `counters`: numbers kept from earlier (gauges and up-down sums then are not current). */
  use: "all" | "counters";
}

const attributesKey = (a: Attributes): string => JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]]));
const earlier = (a: HrTime, b: HrTime): HrTime => (a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? a : b);
const later = (a: HrTime, b: HrTime): HrTime => (earlier(a, b) === a ? b : a);
/** IPC is JSON: NaN and ±Infinity arrive as null. */
const num = (v: unknown): number => (typeof v === "number" ? v : Number.NaN);
const isCounter = (m: MetricData): boolean => m.dataPointType === DataPointType.HISTOGRAM || (m.dataPointType === DataPointType.SUM && m.isMonotonic);

function copyPoint(m: MetricData, p: DataPoint<unknown>): DataPoint<unknown> {
  if (m.dataPointType !== DataPointType.HISTOGRAM) return { startTime: p.startTime, endTime: p.endTime, attributes: p.attributes, value: num(p.value) };
  const h = p.value as Histogram;
  const value: Histogram = { buckets: { boundaries: [...h.buckets.boundaries], counts: h.buckets.counts.map(num) }, count: num(h.count) };
  if (typeof h.sum === "number") value.sum = h.sum;
  if (typeof h.min === "number") value.min = h.min;
  if (typeof h.max === "number") value.max = h.max;
  return { startTime: p.startTime, endTime: p.endTime, attributes: p.attributes, value };
}

/** Adds `p` into `into` (a copy this merge owns): sums and histograms summed, gauges the minimum. */
function combine(m: MetricData, into: DataPoint<unknown>, p: DataPoint<unknown>): DataPoint<unknown> {
  const times = { startTime: earlier(into.startTime, p.startTime), endTime: later(into.endTime, p.endTime), attributes: into.attributes };
  if (m.dataPointType === DataPointType.SUM) return { ...times, value: (into.value as number) + num(p.value) };
  if (m.dataPointType === DataPointType.GAUGE) return { ...times, value: Math.min(into.value as number, num(p.value)) };
  if (m.dataPointType !== DataPointType.HISTOGRAM) return into; // exponential histograms (none here): the first worker's
  const a = into.value as Histogram;
  const b = p.value as Histogram;
  // The same instrument in the same code has the same boundaries; should they differ, the first worker's stands.
  if (a.buckets.boundaries.length !== b.buckets.boundaries.length || a.buckets.boundaries.some((x, i) => x !== b.buckets.boundaries[i])) return into;
  const value: Histogram = { buckets: { boundaries: a.buckets.boundaries, counts: a.buckets.counts.map((c, i) => c + num(b.buckets.counts[i])) }, count: a.count + num(b.count) };
  if (a.sum !== undefined || typeof b.sum === "number") value.sum = (a.sum ?? 0) + (typeof b.sum === "number" ? b.sum : 0);
  const pick = (x: number | undefined, y: unknown, f: (...v: number[]) => number): number | undefined => (typeof y !== "number" ? x : x === undefined ? y : f(x, y));
  const min = pick(a.min, b.min, Math.min);
  const max = pick(a.max, b.max, Math.max);
  if (min !== undefined) value.min = min;
  if (max !== undefined) value.max = max;
  return { ...times, value };
}

/**
 * Merges several processes' metrics into one set, per scope, metric (name and kind) and attribute set: monotonic
 * sums (counters) and up-down sums added, histograms added bucket by bucket (count and sum added, min the least, max
 * the greatest), gauges the minimum. Parts marked `counters` add only counters and histograms. The inputs are not
 * changed; the output shares no mutable object with them. Order: first seen first.
 */
export function mergeScopeMetrics(parts: readonly MetricsPart[]): ScopeMetrics[] {
  const scopes = new Map<string, { scope: ScopeMetrics["scope"]; metrics: Map<string, { data: MetricData; points: Map<string, DataPoint<unknown>> }> }>();
  for (const part of parts) {
    for (const sm of part.scopeMetrics) {
      const scopeKey = JSON.stringify([sm.scope.name, sm.scope.version ?? "", sm.scope.schemaUrl ?? ""]);
      let scope = scopes.get(scopeKey);
      if (!scope) scopes.set(scopeKey, (scope = { scope: sm.scope, metrics: new Map() }));
      for (const m of sm.metrics) {
        if (part.use === "counters" && !isCounter(m)) continue;
        const metricKey = JSON.stringify([m.descriptor.name, m.dataPointType]);
        let entry = scope.metrics.get(metricKey);
        if (!entry) scope.metrics.set(metricKey, (entry = { data: m, points: new Map() }));
        for (const p of m.dataPoints as DataPoint<unknown>[]) {
          const key = attributesKey(p.attributes);
          const had = entry.points.get(key);
          entry.points.set(key, had ? combine(m, had, p) : copyPoint(m, p));
        }
      }
    }
  }
  return [...scopes.values()].map(({ scope, metrics }) => ({
    scope,
    metrics: [...metrics.values()].map(({ data, points }) => ({ ...data, dataPoints: [...points.values()] }) as MetricData),
  }));
}

/** The gauges the merged metrics get: `scep_metrics_workers` and `scep_metrics_workers_reporting`. */
function workersGauges(workers: number, reporting: number, at: HrTime): ScopeMetrics {
  const gauge = (name: string, description: string, value: number): MetricData => ({
    descriptor: { name, description, unit: "{worker}", valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [{ startTime: at, endTime: at, attributes: {}, value }],
  });
  return {
    scope: KIT_SCOPE,
    metrics: [
      gauge("scep.metrics.workers", "Worker processes the server runs (--workers)", workers),
      gauge("scep.metrics.workers_reporting", "Workers whose metrics this scrape collected in time (the others count with their last numbers)", reporting),
    ],
  };
}

interface Kept {
  pid: number;
  seq: number;
  scopeMetrics: ScopeMetrics[];
}

interface Collection {
  waiting: Map<number, number>; // slot → pid
  fresh: Set<number>; // slots that answered
  timer: NodeJS.Timeout;
  done(): void;
}

/** A listening worker the primary can ask. */
export interface LiveWorker {
  slot: number;
  worker: Worker;
}

/**
 * The primary's side: keeps each worker slot's last collection and the numbers of workers that died, answers a
 * worker's {@link METRICS_REQUEST_MESSAGE}. Call {@link ClusterMetricsAggregator.onMessage} with every message of a
 * worker still in its slot and {@link ClusterMetricsAggregator.onExit} when it exits.
 */
export class ClusterMetricsAggregator {
  readonly #workers: number;
  readonly #timeoutMs: number;
  readonly #live: () => LiveWorker[];
  #retired: ScopeMetrics[] = [];
  readonly #kept = new Map<number, Kept>();
  readonly #collections = new Map<number, Collection>();
  #nextId = 1;

  /** `workers`: slots configured; `live`: the listening workers now; `timeoutMs`: the wait for collections. */
  constructor(options: { workers: number; live: () => LiveWorker[]; timeoutMs?: number }) {
    this.#workers = options.workers;
    this.#live = options.live;
    this.#timeoutMs = options.timeoutMs ?? METRICS_COLLECT_TIMEOUT_MS;
  }

  /** A message from the worker in `slot`; true when it was one of the metrics messages (handled). */
  onMessage(slot: number, worker: Worker, m: unknown): boolean {
    const msg = m as { type?: unknown; id?: unknown; seq?: unknown; scopeMetrics?: unknown } | null;
    if (msg?.type === METRICS_REQUEST_MESSAGE) {
      const id = msg.id;
      void this.collect().then((result) => {
        if (worker.isConnected()) worker.send({ type: METRICS_RESULT_MESSAGE, id, ...result }, () => undefined);
      });
      return true;
    }
    if (msg?.type !== METRICS_COLLECTED_MESSAGE) return false;
    const pid = worker.process.pid ?? 0;
    const seq = typeof msg.seq === "number" ? msg.seq : 0;
    const had = this.#kept.get(slot);
    if (Array.isArray(msg.scopeMetrics) && (!had || had.pid !== pid || had.seq < seq)) this.#kept.set(slot, { pid, seq, scopeMetrics: msg.scopeMetrics as ScopeMetrics[] });
    const c = typeof msg.id === "number" ? this.#collections.get(msg.id) : undefined;
    if (c?.waiting.get(slot) === pid) {
      c.waiting.delete(slot);
      c.fresh.add(slot);
      if (c.waiting.size === 0) c.done();
    }
    return true;
  }

  /** The worker in `slot` (process `pid`) exited: its last numbers are kept for good; no collection waits for it. */
  onExit(slot: number, pid: number | undefined): void {
    const kept = this.#kept.get(slot);
    if (kept && kept.pid === pid) {
      try {
        this.#retired = mergeScopeMetrics([{ scopeMetrics: this.#retired, use: "counters" }, { scopeMetrics: kept.scopeMetrics, use: "counters" }]);
      } catch {
        // Numbers the merge cannot read are dropped, never a crash of the primary in a worker's exit handler.
      }
      this.#kept.delete(slot);
    }
    this.#stopWaiting(slot, pid);
  }

  /** No collection waits for the worker `pid` in `slot` any more (it exited, or the request could not be sent). */
  #stopWaiting(slot: number, pid: number | undefined): void {
    for (const c of [...this.#collections.values()]) {
      if (c.waiting.get(slot) !== pid) continue;
      c.waiting.delete(slot);
      if (c.waiting.size === 0) c.done();
    }
  }

  /**
   * Asks every listening worker, waits for them (at most the timeout), and merges. Never rejects; `scopeMetrics` is
   * undefined when the collections could not be merged (the scrape is then answered 503).
   */
  collect(): Promise<{ scopeMetrics: ScopeMetrics[] | undefined; reporting: number; workers: number }> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      let finished = false;
      const c: Collection = {
        waiting: new Map(),
        fresh: new Set(),
        timer: setTimeout(() => c.done(), this.#timeoutMs),
        done: () => {
          if (finished) return; // a send that failed at once may finish it before every worker was asked
          finished = true;
          clearTimeout(c.timer);
          this.#collections.delete(id);
          const parts: MetricsPart[] = [{ scopeMetrics: this.#retired, use: "counters" }];
          for (const [slot, kept] of this.#kept) parts.push({ scopeMetrics: kept.scopeMetrics, use: c.fresh.has(slot) ? "all" : "counters" });
          const now = Date.now();
          let scopeMetrics: ScopeMetrics[];
          try {
            scopeMetrics = mergeScopeMetrics(parts);
          } catch {
            // A collection the merge cannot read (a worker of another version, a bug) must not take the primary, and
            // with it every worker, down: the scrape is answered 503 (no numbers rather than numbers that dip).
            resolve({ scopeMetrics: undefined, reporting: c.fresh.size, workers: this.#workers });
            return;
          }
          scopeMetrics.push(workersGauges(this.#workers, c.fresh.size, [Math.floor(now / 1000), (now % 1000) * 1e6]));
          resolve({ scopeMetrics, reporting: c.fresh.size, workers: this.#workers });
        },
      };
      this.#collections.set(id, c);
      const live = this.#live();
      for (const { slot, worker } of live) {
        const pid = worker.process.pid;
        if (pid === undefined || !worker.isConnected()) continue;
        c.waiting.set(slot, pid);
      }
      // Asked once every worker is in `waiting`: a failed send (its callback may run at once) then only removes one.
      for (const [slot, pid] of [...c.waiting]) {
        const worker = live.find((l) => l.slot === slot)!.worker;
        worker.send({ type: METRICS_COLLECT_MESSAGE, id }, (e: Error | null) => void (e && this.#stopWaiting(slot, pid)));
      }
      if (c.waiting.size === 0) c.done();
    });
  }
}

// ---- the worker's side ----

let collectSeq = 0;
let nextRequestId = 1;
const pendingResults = new Map<number, (r: { scopeMetrics: ScopeMetrics[] } | undefined) => void>();

/**
 * In a worker: answers the primary's {@link METRICS_COLLECT_MESSAGE} with a collection of `metrics()`'s reader, and
 * takes the primary's {@link METRICS_RESULT_MESSAGE}s. Returns the function that stops listening.
 */
export function answerMetricsCollection(metrics: () => MetricsSdk): () => void {
  const onMessage = (m: unknown): void => {
    const msg = m as { type?: unknown; id?: unknown; scopeMetrics?: unknown } | null;
    if (msg?.type === METRICS_RESULT_MESSAGE && typeof msg.id === "number") {
      const settle = pendingResults.get(msg.id);
      pendingResults.delete(msg.id);
      settle?.(Array.isArray(msg.scopeMetrics) ? { scopeMetrics: msg.scopeMetrics as ScopeMetrics[] } : undefined);
      return;
    }
    if (msg?.type !== METRICS_COLLECT_MESSAGE) return;
    const seq = ++collectSeq; // taken when asked: of two collections answered out of order, the later-asked one wins
    void metrics()
      .exporter.collect()
      .then(
        ({ resourceMetrics }) => process.send?.({ type: METRICS_COLLECTED_MESSAGE, id: msg.id, seq, scopeMetrics: resourceMetrics.scopeMetrics }, () => undefined),
        () => undefined, // no answer: the primary counts this worker with its last numbers
      );
  };
  process.on("message", onMessage);
  return () => void process.off("message", onMessage);
}

/**
 * In a worker: answers a scrape with the whole server's metrics (asked of the primary), serialised like the
 * Prometheus exporter does (with a Content-Length, for HEAD too); 503 when the primary does not answer within 3 s (no partial numbers: those would dip).
 */
export function serveClusterMetrics(res: ServerResponse, sdk: MetricsSdk): void {
  const id = nextRequestId++;
  const unavailable = (): void => {
    pendingResults.delete(id);
    clearTimeout(timer);
    if (!res.headersSent) sendPlain(res, 503, "metrics unavailable: the cluster primary did not answer\n", undefined, { "retry-after": "1" });
  };
  const timer = setTimeout(unavailable, METRICS_RESULT_TIMEOUT_MS);
  pendingResults.set(id, (r) => {
    clearTimeout(timer);
    if (!r) return unavailable();
    sendMetrics(res, { resource: sdk.resource, scopeMetrics: r.scopeMetrics });
  });
  try {
    if (!process.send || !process.connected) return unavailable();
    process.send({ type: METRICS_REQUEST_MESSAGE, id }, (e: Error | null) => void (e && unavailable()));
  } catch {
    unavailable(); // the IPC channel closed meanwhile (the primary is gone)
  }
}
