// RFC 5280 §5.2.3: a cRLNumber is a non-negative INTEGER of up to 20 octets (at most 2^159 - 1, MAX_CRL_NUMBER), and
// only grows. Every RevocationStore hands out numbers up to that limit (a shared Redis counter starts at the clock's
// ms × 1000, ~2^51 today, and takes any replica's floor), so the CA signs every one of them exactly: above 2^53 (where
// a double loses digits) and at the limit, checked with `openssl crl -text` and @peculiar/x509 as the references. At
// the limit, the next CRL is ERR_CRL_NUMBER_EXHAUSTED (never a wrapped or longer number), and the CRL published last
// stays published.
import "reflect-metadata";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { X509Crl } from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import { MAX_CRL_NUMBER, MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir, writePem } from "./helpers.js";

let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
const clock = (): Date => new Date(nowMs);

/** The cRLNumber extension's value as @peculiar/x509 reads it: the INTEGER's content octets as a bigint. */
function x509CrlNumber(der: Uint8Array<ArrayBuffer>): bigint {
  const extension = new X509Crl(der).getExtension("2.5.29.20");
  if (!extension) throw new Error("no cRLNumber extension");
  const value = new Uint8Array(extension.value);
  expect(value[0]).toBe(0x02); // INTEGER
  expect(value[1]).toBe(value.length - 2); // short-form length, nothing after the INTEGER
  const content = value.subarray(2);
  expect(content[0]! & 0x80).toBe(0); // positive
  if (content.length > 1) expect(content[0] === 0 && (content[1]! & 0x80) === 0).toBe(false); // minimal (DER)
  return BigInt(`0x${Buffer.from(content).toString("hex")}`);
}

/** What `openssl crl -text` prints as the CRL Number (decimal below 2^128, `0x` and upper-case hex from there). */
function opensslCrlNumber(dir: string, name: string, pem: string): string {
  writePem(dir, name, pem);
  const text = openssl(["crl", "-in", name, "-noout", "-text", "-CAfile", "data/ca.pem", "-verify"], dir);
  const m = /X509v3 CRL Number:\s*\n\s+(\S+)\n/.exec(text);
  if (!m) throw new Error(`no CRL Number in:\n${text}`);
  return m[1]!;
}

describe("RFC 5280 §5.2.3: the embedded CA signs every CRL number a store hands out, up to 2^159 - 1", () => {
  it("a number above 2^53 (a shared counter past a double's precision) is signed exactly; openssl verifies the CRL and reads the same number", async () => {
    const dir = tempDir();
    const revocations = new MemoryRevocationStore({ now: clock });
    await revocations.nextCrlNumber({ atLeast: 2n ** 53n }); // the next one is 2^53 + 1: not a double
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock, crlValiditySeconds: 3600, revocations });
    const crl = await ca.crl();
    expect(crl.crlNumber).toBe(2n ** 53n + 1n);
    expect(x509CrlNumber(crl.der)).toBe(9_007_199_254_740_993n);
    expect(opensslCrlNumber(dir, "above-2-53.crl", crl.pem)).toBe("9007199254740993");
    // 2^64 + 1: beyond an int64 too.
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
    await ca.revoke(issued.serialNumber, "superseded");
    await revocations.nextCrlNumber({ atLeast: 2n ** 64n });
    const next = await ca.crl();
    expect(next.crlNumber).toBe(2n ** 64n + 1n);
    expect(x509CrlNumber(next.der)).toBe(18_446_744_073_709_551_617n);
    expect(opensslCrlNumber(dir, "above-2-64.crl", next.pem)).toBe("18446744073709551617");
  });

  it("MAX_CRL_NUMBER (2^159 - 1, 20 octets 7f ff … ff) is signed and read back exactly; the next CRL is ERR_CRL_NUMBER_EXHAUSTED and ca.crl keeps the last one", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const revocations = new MemoryRevocationStore({ now: clock });
    await revocations.nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 1n });
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations });
    const last = await ca.crl();
    expect(last.crlNumber).toBe(MAX_CRL_NUMBER);
    expect(x509CrlNumber(last.der)).toBe(730_750_818_665_451_459_101_842_416_358_141_509_827_966_271_487n);
    // The extension's value, byte for byte: INTEGER, 20 octets, 7f then nineteen ff.
    expect(Buffer.from(last.der).includes(Buffer.from(`0214${"7f"}${"ff".repeat(19)}`, "hex"))).toBe(true);
    expect(opensslCrlNumber(dir, "max.crl", last.pem)).toBe(`0x${MAX_CRL_NUMBER.toString(16).toUpperCase()}`);

    // A revocation calls for a new CRL, whose number would be past the limit.
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
    await ca.revoke(issued.serialNumber, "keyCompromise");
    await expect(ca.crl()).rejects.toMatchObject({ name: "CrlNumberExhaustedError", code: "ERR_CRL_NUMBER_EXHAUSTED", message: expect.stringContaining("2^159 - 1") });
    await expect(ca.crl()).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED" }); // and stays so: nothing moved
    expect(new Uint8Array(readFileSync(join(dataDir, "ca.crl")))).toEqual(last.der);
  });

  it("a CA whose published CRL (ca.crl.json, 48 digits) is numbered 2^159 - 1, with a store that was reset: ERR_CRL_NUMBER_EXHAUSTED, not a CRL numbered from the store's 1 again", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const first = new MemoryRevocationStore({ now: clock });
    await first.nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 1n });
    expect((await (await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: first })).crl()).crlNumber).toBe(MAX_CRL_NUMBER);
    expect(JSON.parse(readFileSync(join(dataDir, "ca.crl.json"), "utf8")).crlNumber).toBe(String(MAX_CRL_NUMBER));

    nowMs += 3600_000; // the published CRL is due for renewal
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    await expect(ca.crl()).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED" });
  });
});
