/**
 * The Hono example server under slow clients and floods (see
 * examples/server-kit/test/support/slow-clients-suite.ts).
 */
import { fileURLToPath } from "node:url";
import { describeSlowClients } from "../../server-kit/test/support/slow-clients-suite.js";

describeSlowClients("hono", fileURLToPath(new URL("..", import.meta.url)));
