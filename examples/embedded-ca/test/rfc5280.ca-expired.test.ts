// RFC 5280 §6.1.3: nothing issued under an expired CA certificate validates (the whole path is checked at one time).
// `issue` on a CA whose notAfter has passed says so with its own code, `CA_EXPIRED`, naming the CA and the date: the
// operator's problem. Before, it said `INVALID_OPTIONS` ("notBefore … is not before the CA's notAfter"), as if the
// caller had asked for a bad notBefore, and the example server's issue hook answered that with HTTP 500.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isEmbeddedCaError, openFileCa } from "../src/index.js";
import { opensslCsr, tempDir } from "./helpers.js";

const dir = tempDir("embedded-ca-expired-");
let csrDer: Uint8Array;

beforeAll(() => {
  csrDer = opensslCsr(dir, "device", { subject: "/CN=expired-ca-device" });
});

describe("issue under an expired CA certificate", () => {
  const T = Date.parse("2030-06-01T12:00:00.000Z");

  it("after the CA's notAfter: CA_EXPIRED, one line naming the CA and its notAfter; nothing recorded", async () => {
    let now = T;
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock: () => new Date(now) });
    expect((await ca.issue({ csrDer, validityDays: 1 })).serialNumber).toMatch(/^[0-9a-f]+$/);
    now = ca.notAfter.getTime() + 1000;
    const error = await ca.issue({ csrDer, validityDays: 1 }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(error, "CA_EXPIRED")).toBe(true);
    expect((error as Error).message).toBe(`the CA certificate (${ca.subject}) expired at ${ca.notAfter.toISOString()}; nothing can be issued under it: renew the CA`);
    expect(await ca.list()).toHaveLength(1);
  });

  it("at the CA's notAfter itself: still issued, ending then (the bound is inclusive, RFC 5280 §4.1.2.5)", async () => {
    let now = T;
    const ca = await openFileCa({ dataDir: join(dir, "data-edge"), clock: () => new Date(now), backdateSeconds: 60 });
    now = ca.notAfter.getTime();
    const issued = await ca.issue({ csrDer, validityDays: 1 });
    const record = (await ca.list()).find((r) => r.serialNumber === issued.serialNumber)!;
    expect(record.notAfter.getTime()).toBe(ca.notAfter.getTime());
  });
});
