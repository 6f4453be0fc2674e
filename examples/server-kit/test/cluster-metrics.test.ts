/**
 * The cluster primary's metrics merge (cluster-metrics.ts), on the real OpenTelemetry SDK and Prometheus serializer
 * the example servers use: two workers' collections merged serialise exactly like one process that saw both
 * workers' requests (counters and histograms summed per attribute set, bucket by bucket), gauges are the minimum,
 * numbers kept from an earlier collection add counters only, and the aggregator answers without a worker that does
 * not answer (after its bound) or that exits (at once). The end-to-end test with real workers is
 * examples/express-server/test/example.metrics.workers.test.ts.
 */
import { EventEmitter } from "node:events";
import type { Worker } from "node:cluster";
import { describe, expect, it } from "vitest";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { ScopeMetrics } from "@opentelemetry/sdk-metrics";
import type { ScepEvent } from "@scep/core";
import { ClusterMetricsAggregator, METRICS_COLLECT_MESSAGE, METRICS_COLLECTED_MESSAGE, mergeScopeMetrics } from "../src/cluster-metrics.js";
import { createMetricsSdk, type MetricsSdk } from "../src/operator-endpoints.js";

const event = (operation: ScepEvent["operation"], outcome: ScepEvent["outcome"], latencyMs: number): ScepEvent => ({
  operation,
  outcome,
  reason: outcome === "success" ? "issued" : "bad_challenge",
  profile: "/scep",
  renewal: false,
  challengeKind: "static",
  status: 200,
  latencyMs,
  time: new Date("2026-01-15T12:00:00Z"),
});

/** A process's metrics after these events; `expiresInDays` feeds the CA expiry gauge. */
async function collected(events: ScepEvent[], expiresInDays = 100): Promise<{ sdk: MetricsSdk; scopeMetrics: ScopeMetrics[] }> {
  const sdk = createMetricsSdk();
  for (const e of events) sdk.scep.sink(e);
  const now = new Date(); // the SDK's expiry gauges count from the real clock
  const ca = { subject: "CN=Test CA", notAfter: new Date(now.getTime() + expiresInDays * 86_400_000) };
  sdk.scep.observe({ profiles: () => [{ profile: "/scep", ca, ra: [], challenge: {} } as never] });
  const { resourceMetrics } = await sdk.exporter.collect();
  // Through JSON, as over the cluster's IPC channel.
  return { sdk, scopeMetrics: JSON.parse(JSON.stringify(resourceMetrics.scopeMetrics)) as ScopeMetrics[] };
}

const serialize = (sdk: MetricsSdk, scopeMetrics: ScopeMetrics[]): string =>
  new PrometheusSerializer("", false, undefined, false, false).serialize({ resource: sdk.resource, scopeMetrics });
const withoutGauges = (text: string): string => text.split("\n").filter((l) => !l.includes("time_to_expiry")).join("\n");

// Latencies of whole milliseconds in binary-exact seconds' sums would still add in another order: powers of two.
const A = [event("PKCSReq", "success", 1000 / 256), event("PKCSReq", "success", 1000 / 64), event("GetCACaps", "success", 1000 / 512), event("PKCSReq", "failure", 2000)];
const B = [event("PKCSReq", "success", 1000 / 8), event("GetCACaps", "success", 1000 / 1024), event("GetCACaps", "success", 8000)];

describe("mergeScopeMetrics", () => {
  it("two workers merged serialise like one process that saw both workers' requests", async () => {
    const a = await collected(A);
    const b = await collected(B);
    const both = await collected([...A, ...B]);
    const merged = serialize(a.sdk, mergeScopeMetrics([{ scopeMetrics: a.scopeMetrics, use: "all" }, { scopeMetrics: b.scopeMetrics, use: "all" }]));
    const sorted = (t: string): string[] => withoutGauges(t).split("\n").sort();
    expect(sorted(merged)).toEqual(sorted(serialize(both.sdk, both.scopeMetrics)));
    expect(merged).toMatch(/^scep_server_enrollments_total\{scep_profile="\/scep",scep_outcome="success",scep_reason="issued",scep_enrollment_kind="initial",scep_challenge_kind="static",otel_scope_name="@scep\/core"\} 3$/m);
    expect(merged).toMatch(/^scep_server_request_duration_count\{scep_profile="\/scep",scep_operation="GetCACaps",scep_outcome="success",otel_scope_name="@scep\/core"\} 3$/m);
    expect(merged).toMatch(/^scep_server_request_duration_bucket\{scep_profile="\/scep",scep_operation="GetCACaps",scep_outcome="success",otel_scope_name="@scep\/core",le="0.005"\} 2$/m);
    expect(merged).toMatch(/^scep_server_request_duration_bucket\{scep_profile="\/scep",scep_operation="GetCACaps",scep_outcome="success",otel_scope_name="@scep\/core",le="7.5"\} 2$/m);
    expect(merged).toMatch(/^scep_server_request_duration_bucket\{scep_profile="\/scep",scep_operation="GetCACaps",scep_outcome="success",otel_scope_name="@scep\/core",le="10"\} 3$/m);
    expect(merged).toMatch(/^scep_server_request_duration_sum\{scep_profile="\/scep",scep_operation="GetCACaps",scep_outcome="success",otel_scope_name="@scep\/core"\} 8\.0029296875$/m);
  });

  it("histograms: min is the least, max the greatest; the inputs are not changed", async () => {
    const a = await collected(A);
    const b = await collected(B);
    const before = JSON.stringify([a.scopeMetrics, b.scopeMetrics]);
    const merged = mergeScopeMetrics([{ scopeMetrics: a.scopeMetrics, use: "all" }, { scopeMetrics: b.scopeMetrics, use: "all" }, { scopeMetrics: a.scopeMetrics, use: "all" }]);
    const caps = merged[0]!.metrics.find((m) => m.descriptor.name === "scep.server.request.duration")!.dataPoints.find((p) => p.attributes["scep.operation"] === "GetCACaps")!;
    expect(caps.value).toMatchObject({ count: 4, min: 1 / 1024, max: 8 });
    expect(JSON.stringify([a.scopeMetrics, b.scopeMetrics])).toBe(before);
  });

  it("gauges: one series, the minimum (the worker that alerts first); parts kept from earlier add counters only", async () => {
    const a = await collected(A, 100);
    const b = await collected(B, 40);
    const text = serialize(a.sdk, mergeScopeMetrics([{ scopeMetrics: a.scopeMetrics, use: "all" }, { scopeMetrics: b.scopeMetrics, use: "all" }]));
    const days = (t: string): number[] => [...t.matchAll(/^scep_certificate_time_to_expiry\{[^}]*\} (\S+)$/gm)].map((m) => Math.round(Number(m[1])));
    expect(days(text)).toEqual([40]);
    const kept = serialize(a.sdk, mergeScopeMetrics([{ scopeMetrics: a.scopeMetrics, use: "all" }, { scopeMetrics: b.scopeMetrics, use: "counters" }]));
    expect(days(kept)).toEqual([100]);
    expect(kept).toMatch(/^scep_server_request_duration_count\{scep_profile="\/scep",scep_operation="GetCACaps",scep_outcome="success",otel_scope_name="@scep\/core"\} 3$/m);
  });
});

/** A stand-in for a cluster Worker: records what the primary sends it, answers only when told to. */
class FakeWorker extends EventEmitter {
  readonly sent: { type: string; id: number }[] = [];
  constructor(readonly process: { pid: number }) {
    super();
  }
  isConnected(): boolean {
    return true;
  }
  send(m: { type: string; id: number }, cb?: (e: Error | null) => void): boolean {
    this.sent.push(m);
    cb?.(null);
    return true;
  }
}

describe("ClusterMetricsAggregator", () => {
  it("answers without a worker that does not answer (after the bound), counting it with its last numbers", async () => {
    const w1 = new FakeWorker({ pid: 101 });
    const w2 = new FakeWorker({ pid: 102 });
    const live = [{ slot: 1, worker: w1 as unknown as Worker }, { slot: 2, worker: w2 as unknown as Worker }];
    const agg = new ClusterMetricsAggregator({ workers: 2, live: () => live, timeoutMs: 200 });
    const a = await collected(A);
    const b = await collected(B);
    const answer = (w: FakeWorker, slot: number, scopeMetrics: ScopeMetrics[], seq: number): boolean =>
      agg.onMessage(slot, w as unknown as Worker, { type: METRICS_COLLECTED_MESSAGE, id: w.sent.at(-1)!.id, seq, scopeMetrics });
    const first = agg.collect();
    expect([w1.sent.at(-1)!.type, w2.sent.at(-1)!.type]).toEqual([METRICS_COLLECT_MESSAGE, METRICS_COLLECT_MESSAGE]);
    expect(answer(w1, 1, a.scopeMetrics, 1) && answer(w2, 2, b.scopeMetrics, 1)).toBe(true);
    const all = await first;
    expect(all.reporting).toBe(2);
    const t0 = performance.now();
    const second = agg.collect();
    answer(w1, 1, a.scopeMetrics, 2); // worker 2 stays silent
    const partial = await second;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(partial.reporting).toBe(1);
    const caps = (r: { scopeMetrics: ScopeMetrics[] | undefined }): string => serialize(a.sdk, r.scopeMetrics!).match(/^scep_server_request_duration_count\{[^}]*GetCACaps[^}]*\} (\d+)$/m)![1]!;
    expect([caps(all), caps(partial)]).toEqual(["3", "3"]);
  });

  it("a worker that exits: no collection waits for it, and its last numbers stay in every later total", async () => {
    const w1 = new FakeWorker({ pid: 201 });
    const w2 = new FakeWorker({ pid: 202 });
    let live = [{ slot: 1, worker: w1 as unknown as Worker }, { slot: 2, worker: w2 as unknown as Worker }];
    const agg = new ClusterMetricsAggregator({ workers: 2, live: () => live, timeoutMs: 60_000 });
    const a = await collected(A);
    const b = await collected(B);
    const first = agg.collect();
    agg.onMessage(1, w1 as unknown as Worker, { type: METRICS_COLLECTED_MESSAGE, id: w1.sent.at(-1)!.id, seq: 1, scopeMetrics: a.scopeMetrics });
    agg.onMessage(2, w2 as unknown as Worker, { type: METRICS_COLLECTED_MESSAGE, id: w2.sent.at(-1)!.id, seq: 1, scopeMetrics: b.scopeMetrics });
    await first;
    const second = agg.collect();
    agg.onMessage(1, w1 as unknown as Worker, { type: METRICS_COLLECTED_MESSAGE, id: w1.sent.at(-1)!.id, seq: 2, scopeMetrics: a.scopeMetrics });
    agg.onExit(2, 202); // resolves now, not after 60 s
    live = [live[0]!];
    const after = await second;
    expect(after.reporting).toBe(1);
    const third = agg.collect();
    agg.onMessage(1, w1 as unknown as Worker, { type: METRICS_COLLECTED_MESSAGE, id: w1.sent.at(-1)!.id, seq: 3, scopeMetrics: a.scopeMetrics });
    const later = await third;
    const enrollments = (r: { scopeMetrics: ScopeMetrics[] | undefined }): number =>
      [...serialize(a.sdk, r.scopeMetrics!).matchAll(/^scep_server_enrollments_total\{[^}]*\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    expect([enrollments(after), enrollments(later)]).toEqual([4, 4]);
  });

  it("a collection the merge cannot read: the scrape gets no numbers (503), the primary does not throw, and a worker exiting with it kept does not either", async () => {
    const w1 = new FakeWorker({ pid: 301 });
    const live = [{ slot: 1, worker: w1 as unknown as Worker }];
    const agg = new ClusterMetricsAggregator({ workers: 1, live: () => live, timeoutMs: 60_000 });
    const unreadable = [{ scope: { name: "x" }, metrics: [{ descriptor: null, dataPointType: 0, dataPoints: [] }] }] as unknown as ScopeMetrics[];
    const pending = agg.collect();
    expect(() => agg.onMessage(1, w1 as unknown as Worker, { type: METRICS_COLLECTED_MESSAGE, id: w1.sent.at(-1)!.id, seq: 1, scopeMetrics: unreadable })).not.toThrow();
    expect((await pending).scopeMetrics).toBeUndefined();
    expect(() => agg.onExit(1, 301)).not.toThrow();
  });
});
