/**
 * OpenTelemetry metrics of a SCEP server through `@opentelemetry/api` only:
 * nothing is recorded or exported unless the application installs an
 * OpenTelemetry SDK (a MeterProvider) and an exporter of its choice.
 *
 * Names follow the OpenTelemetry metric naming guidelines: a `scep.`
 * namespace, dot-separated, units in `unit` (UCUM: `s`, `d`,
 * `{enrollment}`) rather than in the name, durations in seconds with the
 * HTTP semantic conventions' bucket boundaries, attributes namespaced
 * `scep.*` with bounded values (profile names, outcome, stable reason labels).
 *
 * @module
 */
import { numberOption } from "../number-option.js";
import { type Attributes, type BatchObservableResult, type Meter, type MeterProvider, type Observable, metrics } from "@opentelemetry/api";
import type { EventSink } from "./scep-server.js";
import type { ScepEvent } from "./events.js";
import type { ProfileInfo } from "./snapshot.js";

/** The instrumentation scope name the meter is created with. @group Server */
export const SCEP_METER_NAME = "@scep/core";

/**
 * The metric names, for dashboards and alerts. In Prometheus text (OpenTelemetry's JavaScript Prometheus exporter)
 * the dots become underscores, a counter gets `_total` and the unit is given on a `# UNIT` line, e.g.
 * `scep_server_enrollments_total`, `scep_server_request_duration_bucket`, `scep_certificate_time_to_expiry`.
 * @group Server
 */
export const SCEP_METRICS = {
  /** Counter, `{enrollment}`: PKCSReq/RenewalReq answered, by `scep.profile`, `scep.outcome`, `scep.reason`, `scep.enrollment.kind`, `scep.challenge.kind`. */
  enrollments: "scep.server.enrollments",
  /** Histogram, `s`: time to answer each request, by `scep.profile`, `scep.operation`, `scep.outcome`. */
  requestDuration: "scep.server.request.duration",
  /** Gauge, `d`: days until the profile's CA / RA / next-CA certificate expires (negative: expired), by `scep.profile`, `scep.certificate.role`, `scep.certificate.subject`. */
  certificateTimeToExpiry: "scep.certificate.time_to_expiry",
  /** Gauge, `d`: days until a challenge validator's trust anchor expires, by `scep.profile`, `scep.trust_anchor.subject`, `scep.trust_anchor.fingerprint` (first 16 hex digits of its SHA-256). */
  trustAnchorTimeToExpiry: "scep.trust_anchor.time_to_expiry",
} as const;

/** Bucket boundaries of the duration histogram, in seconds (those of OpenTelemetry's HTTP server duration). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const DAY_MS = 86_400_000;

/** Options of {@link createScepMetrics}. @group Server */
export interface ScepMetricsOptions {
  /**
   * Where instruments are created (default: the global MeterProvider of `@opentelemetry/api`, read when
   * `createScepMetrics` runs: install the SDK before, or pass it here).
   */
  meterProvider?: MeterProvider;
  /** A meter to use as it is (wins over `meterProvider`). */
  meter?: Meter;
  /** Clock the expiry gauges count from (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Most distinct `scep.reason` values recorded (default 100); later new ones are recorded as `other`. Reasons are
   * stable labels, but a custom validator or a webhook may name its own: this keeps the series count bounded.
   */
  maxReasons?: number;
}

/** What a server exposes for the expiry gauges: {@link ScepServer.profiles}. @group Server */
export interface ProfileInfoSource {
  /** The profiles' certificates and challenge status, synchronously. */
  profiles(): ProfileInfo[];
}

/** The metrics of one or more SCEP servers. @group Server */
export interface ScepMetrics {
  /** Records the counter and the histogram from each event: pass it as one of the server's `onEvent` sinks. Never throws. */
  readonly sink: EventSink;
  /**
   * Reports `source`'s certificate and trust-anchor expiry gauges at each collection. Returns a function that stops
   * reporting it (call it when the server is replaced, e.g. on a configuration reload).
   */
  observe(source: ProfileInfoSource): () => void;
}

const ENROLLMENT_OPERATIONS = new Set(["PKCSReq", "RenewalReq"]);

/**
 * Creates the SCEP server's OpenTelemetry instruments: an enrollment counter, a request-duration histogram, and
 * observable gauges of the days left on each profile's CA/RA certificates and Intune trust anchors. Through
 * `@opentelemetry/api` only: a no-op until the application installs an SDK; no exporter is chosen for it.
 *
 * @example
 * ```ts
 * import { createScepMetrics, createScepServer, type ScepProfile } from "@scep/core";
 *
 * declare const profile: ScepProfile;
 * // after the application's OpenTelemetry SDK has set the global MeterProvider:
 * const metrics = createScepMetrics();
 * const server = createScepServer({ profiles: [profile], onEvent: [metrics.sink] });
 * const stop = metrics.observe(server); // expiry gauges
 * ```
 * @group Server
 */
export function createScepMetrics(options: ScepMetricsOptions = {}): ScepMetrics {
  const meter = options.meter ?? (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCEP_METER_NAME);
  const now = options.now ?? (() => new Date());
  const enrollments = meter.createCounter(SCEP_METRICS.enrollments, { description: "SCEP enrollment requests (PKCSReq, RenewalReq) answered, by outcome and reason", unit: "{enrollment}" });
  const duration = meter.createHistogram(SCEP_METRICS.requestDuration, {
    description: "Time the SCEP server took to answer a request",
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const certExpiry = meter.createObservableGauge(SCEP_METRICS.certificateTimeToExpiry, { description: "Days until a profile's CA or RA certificate expires (negative: expired)", unit: "d" });
  const anchorExpiry = meter.createObservableGauge(SCEP_METRICS.trustAnchorTimeToExpiry, { description: "Days until a challenge validator's trust anchor expires (negative: expired)", unit: "d" });
  const sources = new Set<ProfileInfoSource>();
  const reasons = new Set<string>();
  const maxReasons = numberOption("createScepMetrics: maxReasons", options.maxReasons, 100, { min: 1, max: 10_000 });
  const reasonLabel = (r: string): string => {
    if (reasons.has(r)) return r;
    if (reasons.size >= maxReasons) return "other";
    reasons.add(r);
    return r;
  };

  const observeAll = (result: BatchObservableResult): void => {
    const t = now().getTime();
    const days = (d: Date): number => (d.getTime() - t) / DAY_MS;
    for (const source of sources) {
      let infos: ProfileInfo[];
      try {
        infos = source.profiles();
      } catch {
        continue; // one broken source must not hide the others
      }
      for (const p of infos) {
        const cert = (role: string, c: { subject: string; notAfter: Date }): void =>
          result.observe(certExpiry, days(c.notAfter), { "scep.profile": p.profile, "scep.certificate.role": role, "scep.certificate.subject": c.subject });
        cert("ca", p.ca);
        for (const ra of p.ra) cert("ra", ra);
        for (const next of p.nextCa ?? []) cert("next_ca", next);
        for (const a of p.challenge.trustAnchors ?? []) {
          const attributes: Attributes = { "scep.profile": p.profile, "scep.trust_anchor.subject": a.subject };
          if (a.fingerprintSha256) attributes["scep.trust_anchor.fingerprint"] = a.fingerprintSha256.slice(0, 16);
          result.observe(anchorExpiry, days(a.notAfter), attributes);
        }
      }
    }
  };
  meter.addBatchObservableCallback(observeAll, [certExpiry, anchorExpiry] as Observable[]);

  return {
    sink(e: ScepEvent): void {
      try {
        const profile: Attributes = e.profile === undefined ? {} : { "scep.profile": e.profile }; // absent: no profile owns the path
        duration.record(e.latencyMs / 1000, { ...profile, "scep.operation": e.operation, "scep.outcome": e.outcome });
        if (ENROLLMENT_OPERATIONS.has(e.operation)) {
          const attributes: Attributes = { ...profile, "scep.outcome": e.outcome, "scep.reason": reasonLabel(e.reason) };
          if (e.renewal !== undefined) attributes["scep.enrollment.kind"] = e.renewal ? "renewal" : "initial";
          if (e.challengeKind !== undefined) attributes["scep.challenge.kind"] = e.challengeKind;
          enrollments.add(1, attributes);
        }
      } catch {
        /* metrics must never break a request */
      }
    },
    observe(source) {
      sources.add(source);
      return () => void sources.delete(source);
    },
  };
}
