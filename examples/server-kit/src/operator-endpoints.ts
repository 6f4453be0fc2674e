// Probes and metrics for operators, answered before the framework sees the request (framework-independent, and
// cheap: no crypto, no I/O but the metrics collection):
//   GET /healthz  200 while the process serves requests (liveness)
//   GET /readyz   200 when the CA is loaded and Redis (if configured) answered its last PING, else 503 (readiness)
//   GET /metrics  Prometheus text format, from the OpenTelemetry SDK through its Prometheus exporter
//                 (Authorization: Bearer $SCEP_METRICS_TOKEN when that is set); with --workers N, the whole
//                 server's numbers, merged by the cluster primary (cluster-metrics.ts)
import { bearerToken, sameSecret } from "./bearer-token.js";
import { serveClusterMetrics } from "./cluster-metrics.js";
import { PROBE_PATHS, answerProbe, sendPlain, type ProbeChecks } from "./probes.js";
import { sendMetrics } from "./prometheus-text.js";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationTemporality, InstrumentType, MeterProvider } from "@opentelemetry/sdk-metrics";
import { createScepMetrics, type ScepMetrics } from "@scep/core";

/** The paths answered here. */
export const OPERATOR_PATHS = [...PROBE_PATHS, "/metrics"] as const;

/** What the readiness probe checks; each function reads cached state only. */
export interface ReadinessChecks {
  /** The CA (certificate and key) is loaded. */
  ca(): boolean;
  /** Redis answered (undefined: no Redis configured). */
  redis?: () => boolean;
}

/** Options of {@link createOperatorEndpoints}. */
export interface OperatorEndpointsOptions {
  readiness: ReadinessChecks;
  /** Bearer token `/metrics` requires (unset: open, like most scrape targets on a private network). */
  metricsToken?: string | undefined;
  /**
   * This process is a worker of `--workers N`: `/metrics` answers with the whole server's metrics, which the cluster
   * primary merges from every worker (see cluster-metrics.ts), not with this process's alone.
   */
  clusterMetrics?: boolean;
}

/** The OpenTelemetry SDK of an example server: a MeterProvider whose only reader is the Prometheus exporter (pull). */
export interface MetricsSdk {
  meterProvider: MeterProvider;
  exporter: PrometheusExporter;
  /** The resource the provider reports (`target_info`), for serialising metrics merged from several workers. */
  resource: Resource;
  /** The SCEP server's instruments in that provider (one set per process: a reload observes its new server here). */
  scep: ScepMetrics;
}

/**
 * The Prometheus exporter, except that observable gauges are collected with delta temporality: a gauge then shows
 * only what its callback observed in this collection. With the exporter's cumulative default the JavaScript SDK
 * keeps reporting every attribute set it ever saw, so after a reload (SIGHUP) the replaced CA certificate or
 * trust anchor would still show its days to expiry, and alert, forever. Counters and histograms stay cumulative.
 */
class CurrentGaugesPrometheusExporter extends PrometheusExporter {
  override selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return instrumentType === InstrumentType.OBSERVABLE_GAUGE ? AggregationTemporality.DELTA : super.selectAggregationTemporality(instrumentType);
  }
}

/**
 * The application side of OpenTelemetry, which a library must not choose for its users: the SDK's MeterProvider
 * with the Prometheus exporter as a pull reader (no HTTP server of its own: `/metrics` is served on the SCEP port).
 */
export function createMetricsSdk(): MetricsSdk {
  const exporter = new CurrentGaugesPrometheusExporter({ preventServerStart: true });
  // service.name (OpenTelemetry resource semantic conventions): Prometheus shows it on target_info.
  const resource = resourceFromAttributes({ "service.name": "scep-example-server" });
  const meterProvider = new MeterProvider({ resource, readers: [exporter] });
  return { exporter, meterProvider, resource, scep: createScepMetrics({ meterProvider }) };
}

/** Compares a presented bearer token with the expected one in constant time; undefined when none was presented. */
function tokenMatches(header: string | undefined, expected: string): boolean | undefined {
  const given = bearerToken(header);
  return given === undefined ? undefined : sameSecret(given, expected);
}


/**
 * Wraps an example's request listener: `/healthz`, `/readyz` and `/metrics` (GET or HEAD) are answered here, every
 * other request goes to `next`.
 */
export function withOperatorEndpoints(next: RequestListener, options: OperatorEndpointsOptions, metrics: MetricsSdk): RequestListener {
  const token = options.metricsToken;
  const { ca, redis } = options.readiness;
  const checks: ProbeChecks = redis ? { ca, redis } : { ca };
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    if (!(OPERATOR_PATHS as readonly string[]).includes(path)) return next(req, res);
    if (answerProbe(req, res, path, checks)) return;
    if (req.method !== "GET" && req.method !== "HEAD") return sendPlain(res, 405, "method not allowed\n", undefined, { allow: "GET, HEAD" });
    if (token !== undefined) {
      const ok = tokenMatches(req.headers.authorization, token);
      if (ok === undefined) return sendPlain(res, 401, "metrics need Authorization: Bearer <SCEP_METRICS_TOKEN>\n", undefined, { "www-authenticate": 'Bearer realm="metrics"' });
      if (!ok) return sendPlain(res, 403, "wrong metrics token: it does not match SCEP_METRICS_TOKEN, the metrics token the server was started with\n");
    }
    if (options.clusterMetrics) serveClusterMetrics(res, metrics);
    // Not the exporter's own request handler: it writes no Content-Length, so a HEAD got none (RFC 9110 §9.3.2).
    else
      metrics.exporter.collect().then(
        ({ resourceMetrics }) => sendMetrics(res, resourceMetrics),
        () => sendPlain(res, 500, "metrics collection failed\n"),
      );
  };
}
