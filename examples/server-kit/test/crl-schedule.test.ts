/**
 * scheduleCrl (RFC 5280 §5 CRL kept in the data directory): stop() resolves only once the CRL being signed and
 * written is on disk, so a caller can then close the revocation store or remove the directory; no temporary file
 * is left behind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openFileCa } from "@scep-examples/embedded-ca";
import { CRL_FILE, scheduleCrl } from "../src/crl-endpoint.js";

const dir = mkdtempSync(join(tmpdir(), "scep-crl-schedule-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scheduleCrl", () => {
  it("stop() waits for the first CRL to be written: the file is the CA's CRL, no temporary file stays", async () => {
    const ca = await openFileCa({ dataDir: join(dir, "data") });
    const lines: Record<string, unknown>[] = [];
    const schedule = scheduleCrl(ca, 3_600_000, (e) => lines.push(e));
    await schedule.stop();
    expect(existsSync(join(ca.dataDir, CRL_FILE))).toBe(true);
    expect(new Uint8Array(readFileSync(join(ca.dataDir, CRL_FILE)))).toEqual((await ca.crl()).der);
    expect(readdirSync(ca.dataDir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(lines).toEqual([]); // the first CRL is part of starting: no line, and no crl-failed
  }, 60_000);
});
