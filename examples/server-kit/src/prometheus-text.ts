// `/metrics` in the Prometheus text format, written with its Content-Length. The exporter's own request handler
// (PrometheusExporter.getMetricsRequestHandler) ends the response without one, so a HEAD got none (RFC 9110 §9.3.2:
// a HEAD carries the header fields the GET would).
import type { ServerResponse } from "node:http";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { sendPlain } from "./probes.js";

/** The exporter's default serialisation: no prefix, no timestamps, with `target_info` and the scope labels. */
const serializer = new PrometheusSerializer("", false, undefined, false, false);

/**
 * The text exposition format's media type with its version (Prometheus, "Exposition formats": `text/plain;
 * version=0.0.4`, as the Go client library sends it). Prometheus 3 picks its parser from the Content-Type and fails a
 * scrape whose type it cannot place unless the job sets `fallback_scrape_protocol` ("Prometheus 3.0 migration guide",
 * scrape protocols); a bare `text/plain`, which the exporter writes, leaves the version to guess.
 */
export const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Answers a scrape (GET or HEAD) 200 with `metrics` as Prometheus text ({@link PROMETHEUS_TEXT_CONTENT_TYPE}), with its Content-Length. */
export function sendMetrics(res: ServerResponse, metrics: ResourceMetrics): void {
  sendPlain(res, 200, serializer.serialize(metrics), PROMETHEUS_TEXT_CONTENT_TYPE);
}
