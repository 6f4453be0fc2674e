/**
 * HTTP/1.0 SCEP clients (old sscep without a Host header, Cisco IOS) against the Express example (see
 * examples/server-kit/test/support/http10-clients-suite.ts for the reports it rebuilds).
 */
import { fileURLToPath } from "node:url";
import { describeHttp10Clients } from "../../server-kit/test/support/http10-clients-suite.js";

describeHttp10Clients("express", fileURLToPath(new URL("..", import.meta.url)));
