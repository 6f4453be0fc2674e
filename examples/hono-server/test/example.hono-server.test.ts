/**
 * The Hono example server as a child process on loopback (see
 * examples/server-kit/test/support/example-suite.ts for what it is held to).
 * Runs against the built packages: `pnpm build` first (the root `pnpm test` does).
 */
import { fileURLToPath } from "node:url";
import { describeExampleServer } from "../../server-kit/test/support/example-suite.js";

describeExampleServer("hono", fileURLToPath(new URL("..", import.meta.url)), ["core", "hono"]);
