/**
 * GetCert and GetCRL (RFC 8894 §3.3.4, §3.3.5) against the Hono example (see
 * examples/server-kit/test/support/get-cert-suite.ts).
 */
import { fileURLToPath } from "node:url";
import { describeGetCert } from "../../server-kit/test/support/get-cert-suite.js";

describeGetCert("hono", fileURLToPath(new URL("..", import.meta.url)));
