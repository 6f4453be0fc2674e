/**
 * GET /scep/ca.crl once the CA's CRL numbers are used up (RFC 5280 §5.2.3: at most 2^159 - 1): the client gets a
 * short 500 (not a 503 to retry: no retry helps, a new CA is needed), the operator one `crl-failed` line with the code,
 * and the scheduled refresh logs the code too instead of rejecting. A real embedded CA whose memory store's counter
 * was raised to the limit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_CRL_NUMBER, MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "@scep-examples/embedded-ca";
import { CRL_PATH, createCrlEndpoint, scheduleCrl } from "../src/crl-endpoint.js";

const dir = mkdtempSync(join(tmpdir(), "scep-crl-exhausted-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the CRL endpoint when the CRL numbers are used up (ERR_CRL_NUMBER_EXHAUSTED)", () => {
  it("the CRL numbered 2^159 - 1 is served; the next one is a 500 with a one-line reason and a crl-failed line; scheduleCrl logs it and does not reject", async () => {
    const revocations = new MemoryRevocationStore();
    await revocations.nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 1n });
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations });
    const lines: Record<string, unknown>[] = [];
    const endpoint = createCrlEndpoint(ca, (l) => lines.push(l));
    const get = () => endpoint.fetch(new Request(`http://127.0.0.1${CRL_PATH}`));
    const ok = await get();
    expect([ok.status, ok.headers.get("content-type")]).toEqual([200, "application/pkix-crl"]);
    expect((await ca.crl()).crlNumber).toBe(MAX_CRL_NUMBER);

    await revocations.revoke({ serialNumber: "0a1b2c", reason: "keyCompromise" }); // a new CRL is due; its number would be 2^159
    const res = await get();
    expect([res.status, res.headers.get("retry-after"), await res.text()]).toEqual([500, null, "the CA can sign no further CRL: its CRL numbers are used up (RFC 5280 §5.2.3)\n"]);
    expect(lines).toEqual([{ type: "crl-failed", path: CRL_PATH, status: 500, code: "ERR_CRL_NUMBER_EXHAUSTED", error: expect.stringContaining("2^159 - 1") }]);

    const scheduled: Record<string, unknown>[] = [];
    const schedule = scheduleCrl(ca, 3_600_000, (e) => scheduled.push(e));
    expect(await schedule.refresh()).toBeUndefined();
    await schedule.stop();
    expect(scheduled.length).toBeGreaterThanOrEqual(1);
    for (const line of scheduled) expect(line).toEqual({ type: "crl-failed", code: "ERR_CRL_NUMBER_EXHAUSTED", error: expect.stringContaining("a new CA is needed") });
  }, 60_000);
});
