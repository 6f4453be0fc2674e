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
 * The text exposition format's media type with its version, as Prometheus's content negotiation names the format
 * (`text/plain; version=0.0.4`) and its Go client sends it. The exporter writes a bare `text/plain`, which Prometheus
 * 2 and 3 also parse as this format; the version spares any other scraper the guess.
 */
const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Answers a scrape (GET or HEAD) 200 with `metrics` as Prometheus text ({@link PROMETHEUS_TEXT_CONTENT_TYPE}), with
 * its Content-Length.
 */
export function sendMetrics(res: ServerResponse, metrics: ResourceMetrics): void {
  sendPlain(res, 200, serializer.serialize(metrics), PROMETHEUS_TEXT_CONTENT_TYPE);
}
