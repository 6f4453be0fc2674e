// revoke() and crl(): a v2 CRL (RFC 5280 §5) checked with `openssl crl` and
// `openssl verify -crl_check` as the reference, on an injected clock.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { isEmbeddedCaError, openFileCa, type FileCa, type IssuedCertificate } from "../src/index.js";
import { openssl, opensslCsr, tempDir, writePem } from "./helpers.js";

let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
const clock = { now: () => new Date(nowMs), advance: (ms: number) => void (nowMs += ms) };
let dir: string;
let ca: FileCa;
let revoked: IssuedCertificate;
let good: IssuedCertificate;

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({
    dataDir: join(dir, "data"),
    clock: clock.now,
    crlValiditySeconds: 3600,
    crlDistributionPoint: "http://pki.example.test/scep/ca.crl",
  });
  revoked = await ca.issue({ csrDer: opensslCsr(dir, "lost", { subject: "/CN=lost-laptop" }) });
  good = await ca.issue({ csrDer: opensslCsr(dir, "kept", { subject: "/CN=kept-laptop" }) });
  writePem(dir, "lost.pem", revoked.certificatePem);
  writePem(dir, "kept.pem", good.certificatePem);
});

describe("RFC 5280 §5: the embedded CA's CRL", () => {
  it("an empty CRL is v2 with thisUpdate/nextUpdate from the clock, CRL number 1, the CA's key identifier, and openssl verifies its signature", async () => {
    const crl = await ca.crl();
    expect(crl.crlNumber).toBe(1n);
    expect(crl.revokedCount).toBe(0);
    expect(crl.thisUpdate.toISOString()).toBe("2026-03-01T10:00:00.000Z");
    expect(crl.nextUpdate.toISOString()).toBe("2026-03-01T11:00:00.000Z");
    writePem(dir, "empty.crl", crl.pem);
    const text = openssl(["crl", "-in", "empty.crl", "-noout", "-text", "-CAfile", "data/ca.pem", "-verify"], dir);
    expect(text).toContain("Version 2 (0x1)");
    expect(text).toContain("Issuer: CN = SCEP Example CA, O = scep-sdk");
    expect(text).toContain("Last Update: Mar  1 10:00:00 2026 GMT");
    expect(text).toContain("Next Update: Mar  1 11:00:00 2026 GMT");
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s+1\n/);
    expect(text).toContain("No Revoked Certificates.");
    const caSki = /Subject Key Identifier:\s+(\S+)/.exec(openssl(["x509", "-in", "data/ca.pem", "-noout", "-text"], dir))?.[1];
    expect(/Authority Key Identifier:\s+(?:keyid:)?(\S+)/.exec(text)?.[1]).toBe(caSki);
  });

  it("asking again within half the validity, with nothing revoked since, answers the same CRL (no new number)", async () => {
    const first = await ca.crl();
    clock.advance(29 * 60_000);
    const again = await ca.crl();
    expect(again.crlNumber).toBe(first.crlNumber);
    expect(again.der).toBe(first.der);
  });

  it("RFC 5280 §5.3.1: a revoked serial is listed with its reason code and revocation date, in a CRL with the next number; openssl verify -crl_check refuses it and accepts the other", async () => {
    clock.advance(60_000);
    const result = await ca.revoke(revoked.serialNumber.toUpperCase().replace(/(..)(?!$)/g, "$1:"), "keyCompromise");
    expect(result).toEqual({
      created: true,
      updated: false,
      subject: "CN=lost-laptop",
      entry: { serialNumber: revoked.serialNumber, reason: "keyCompromise", revokedAt: new Date("2026-03-01T10:30:00.000Z") },
      alsoRevoked: [], // the other certificate is of another key
    });
    const crl = await ca.crl();
    expect(crl.crlNumber).toBe(2n);
    expect(crl.revokedCount).toBe(1);
    writePem(dir, "one.crl", crl.pem);
    const text = openssl(["crl", "-in", "one.crl", "-noout", "-text", "-CAfile", "data/ca.pem", "-verify"], dir);
    expect(text).toContain(`Serial Number: ${revoked.serialNumber.toUpperCase()}`);
    expect(text).toContain("Revocation Date: Mar  1 10:30:00 2026 GMT");
    expect(text).toMatch(/X509v3 CRL Reason Code:\s*\n\s+Key Compromise\n/);
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s+2\n/);

    // verify at the CRL's own time (-attime), so the test does not depend on today's date
    const at = String(Math.floor(clock.now().getTime() / 1000));
    const refuse = () => openssl(["verify", "-attime", at, "-crl_check", "-CAfile", "data/ca.pem", "-CRLfile", "one.crl", "lost.pem"], dir);
    expect(refuse).toThrow(/certificate revoked/);
    expect(openssl(["verify", "-attime", at, "-crl_check", "-CAfile", "data/ca.pem", "-CRLfile", "one.crl", "kept.pem"], dir).trim()).toBe("kept.pem: OK");
  });

  it("revoking again keeps the first revocation and does not change the CRL", async () => {
    const before = await ca.crl();
    const again = await ca.revoke(revoked.serialNumber, "superseded");
    expect(again.created).toBe(false);
    expect(again.entry.reason).toBe("keyCompromise");
    expect((await ca.crl()).crlNumber).toBe(before.crlNumber);
  });

  it("past half its validity the CRL is signed again with the next number and a fresh nextUpdate", async () => {
    const before = await ca.crl();
    clock.advance(31 * 60_000);
    const after = await ca.crl();
    expect(after.crlNumber).toBe(before.crlNumber + 1n);
    expect(after.nextUpdate.getTime() - after.thisUpdate.getTime()).toBe(3_600_000);
    expect(after.thisUpdate.getTime()).toBe(Math.floor(clock.now().getTime() / 1000) * 1000);
  });

  it("concurrent callers after a change share one signing (one CRL number)", async () => {
    const before = await ca.crl();
    await ca.revoke(good.serialNumber, "unspecified");
    const all = await Promise.all(Array.from({ length: 10 }, () => ca.crl()));
    expect(new Set(all.map((c) => c.crlNumber))).toEqual(new Set([before.crlNumber + 1n]));
    // reason unspecified: RFC 5280 §5.3.1 says leave the reasonCode extension out
    writePem(dir, "two.crl", all[0]!.pem);
    const text = openssl(["crl", "-in", "two.crl", "-noout", "-text"], dir);
    expect(text.match(/CRL Reason Code/g)).toHaveLength(1);
  });

  it("a serial this CA never issued is UNKNOWN_SERIAL; a malformed one or a bad reason is INVALID_OPTIONS", async () => {
    const unknown = await ca.revoke("4000000000000000000000000000000001", "keyCompromise").catch((e: unknown) => e);
    expect(isEmbeddedCaError(unknown, "UNKNOWN_SERIAL")).toBe(true);
    expect((unknown as Error).message).toBe("this CA issued no certificate with serial 4000000000000000000000000000000001");
    expect(isEmbeddedCaError(await ca.revoke("not-hex", "keyCompromise").catch((e: unknown) => e), "INVALID_OPTIONS")).toBe(true);
    expect(isEmbeddedCaError(await ca.revoke(good.serialNumber, "removeFromCRL" as never).catch((e: unknown) => e), "INVALID_OPTIONS")).toBe(true);
  });

  it("RFC 5280 §4.2.1.13: issued certificates name the configured CRL distribution point", () => {
    const text = openssl(["x509", "-in", "kept.pem", "-noout", "-ext", "crlDistributionPoints"], dir);
    expect(text).toMatch(/Full Name:\s*\n\s+URI:http:\/\/pki\.example\.test\/scep\/ca\.crl/);
  });

  it("a CA given a revocation store records there, and a bad crlDistributionPoint or crlValiditySeconds is INVALID_OPTIONS", async () => {
    const revocations = new MemoryRevocationStore();
    const other = await openFileCa({ dataDir: join(dir, "other"), revocations });
    const issued = await other.issue({ csrDer: opensslCsr(dir, "x", { subject: "/CN=x" }) });
    await other.revoke(issued.serialNumber, "superseded");
    expect((await revocations.list()).map((r) => r.serialNumber)).toEqual([issued.serialNumber]);
    for (const bad of [{ crlDistributionPoint: "ldap://x" }, { crlValiditySeconds: 10 }]) {
      expect(isEmbeddedCaError(await openFileCa({ dataDir: join(dir, "bad"), ...bad }).catch((e: unknown) => e), "INVALID_OPTIONS")).toBe(true);
    }
  });
});
