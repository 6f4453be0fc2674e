/**
 * The Express example server as a child process on loopback (see
 * examples/server-kit/test/support/example-suite.ts for what it is held to).
 * Runs from the packages' sources, like `pnpm start` (no build needed).
 */
import { fileURLToPath } from "node:url";
import { describeExampleServer } from "../../server-kit/test/support/example-suite.js";

describeExampleServer("express", fileURLToPath(new URL("..", import.meta.url)), "start");
