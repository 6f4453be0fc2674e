/**
 * Child process of start-server.challenge-file-whole.test.ts: makes an example server's kit (createKit, as a start
 * does: CA, then the challenge) for the data directory given as the first argument, with no challenge given, and
 * prints one JSON line: `{ "created": true }` or `{ "error": "<message>" }`. The test runs it under `ulimit -f 0`,
 * where every write of a byte to a file fails (EFBIG): a full disk between creating a file and writing it.
 */
import { parseConfig } from "../../src/config.js";
import { createKit } from "../../src/start-server.js";

const config = parseConfig(["--data-dir", process.argv[2]!, "--key-workers", "0"], {});
if ("help" in config) throw new Error("no configuration");
try {
  const kit = await createKit(config);
  await kit.close();
  await kit.stores.close();
  console.log(JSON.stringify({ created: true }));
} catch (e) {
  console.log(JSON.stringify({ error: (e as Error).message }));
}
