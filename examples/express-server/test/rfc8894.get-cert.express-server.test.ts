/**
 * GetCert and GetCRL (RFC 8894 §3.3.4, §3.3.5) against the Express example, and the CLI's getcert/getcrl against it
 * (see examples/server-kit/test/support/get-cert-suite.ts).
 */
import { fileURLToPath } from "node:url";
import { describeGetCert } from "../../server-kit/test/support/get-cert-suite.js";

describeGetCert("express", fileURLToPath(new URL("..", import.meta.url)), { cli: true });
