// RFC 5280 Appendix A through the CLI and a real @scep/core server: `scep enroll --cn` with a CN above
// ub-common-name (64 characters) ends with exit 2 and one FAILURE line that shows the server's whole reason (the
// attribute and the bound), within the 120 characters of failInfoText the CLI quotes, and what to shorten; nothing is written. A CN of
// 64 characters is issued.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScepServer } from "@scep/core";
import { createTestCa, issuingHook, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { runInProcess as scep, serveFetch, type Loopback } from "./support/in-process.js";

let dir: string;
let ca: TestCa;
let http: Loopback;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-appendix-a-"));
  ca = await createTestCa("Appendix A CLI CA");
  const server = createScepServer({
    profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca) }],
  });
  http = await serveFetch((request) => server.fetch(request));
  url = `${http.base}/scep`;
});
afterAll(async () => {
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("RFC 5280 Appendix A ub-common-name: the server's reason reaches the CLI user whole", () => {
  it("--cn of 65 characters: exit 2, one FAILURE badRequest line naming CN and ub-common-name (64), nothing written", async () => {
    const cwd = mkdtempSync(join(dir, "cn65-"));
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "d".repeat(65), "--out", "device.pem"], cwd);
    expect([r.code, r.out]).toEqual([2, []]);
    expect(r.err).toEqual([
      `FAILURE: badRequest: the CA does not permit or support this request (the CA said "the subject cannot be certified: CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)"); shorten --cn to the RFC 5280 Appendix A bound the CA names (CN, O and OU: at most 64 characters each)`,
    ]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("--cn of 64 characters: issued", async () => {
    const cwd = mkdtempSync(join(dir, "cn64-"));
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "d".repeat(64), "--out", "device.pem"], cwd);
    expect([r.code, r.err]).toEqual([0, []]);
    expect(readdirSync(cwd).sort()).toEqual(["device.key", "device.pem"]);
  });
});
