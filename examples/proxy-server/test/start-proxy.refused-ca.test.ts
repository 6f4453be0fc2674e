/**
 * startProxy with a CA that @scep/proxy's registry refuses (a configuration built in code, not read by parseConfig,
 * which refuses such a name itself): it rejects with ProxyConfigError before it listens, so no port stays bound and
 * nothing keeps the process alive. Before, it listened first and then threw while building the registry, leaving the
 * listener open behind the rejected promise (the port in use until the process exited).
 */
import { createServer } from "node:net";
import { expect, it } from "vitest";
import { parseConfig, type ProxyConfig } from "../src/config.js";
import { startProxy } from "../src/start-proxy.js";
import { freeStablePort } from "../../../test-support/peers";

it("a CA name the registry refuses: ProxyConfigError, and the port stays free", async () => {
  const port = await freeStablePort();
  const config = parseConfig(["--port", String(port)], { PROXY_ADMIN_TOKEN: "refused-ca-token-0123456789" }, { readFile: () => JSON.stringify({ cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }] }) }) as ProxyConfig;
  const refused: ProxyConfig = { ...config, cas: config.cas.map((ca) => ({ ...ca, name: "corp\u0007" })), defaultCa: undefined };
  await expect(startProxy(refused, { log: () => undefined })).rejects.toMatchObject({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG" });
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(port, config.host, () => resolve());
  });
  await new Promise((resolve) => probe.close(resolve));
});
