import { ActivityLog, createScepMetrics, createScepServer, type ScepProfile } from "@scep/core";

declare const profile: ScepProfile; // your profile, as in the example above

// Through @opentelemetry/api: a no-op until your application installs an OpenTelemetry SDK and exporter.
const metrics = createScepMetrics();
const activity = new ActivityLog({ maxEntries: 1000 }); // the last 1000 requests, in memory
export const server = createScepServer({ profiles: [profile], onEvent: [metrics.sink, activity.sink] });
metrics.observe(server); // days-to-expiry gauges of the CA/RA certificates and trust anchors

// What an admin endpoint shows: per profile the certificates with days left, the challenge kind (never the
// secret), Intune trust anchors, counters by outcome and reason, pending requests; and recent failed renewals.
export async function adminData() {
  return { profiles: await server.snapshot(), failedRenewals: activity.list({ kind: "renewal", outcome: "failure", limit: 20 }) };
}
