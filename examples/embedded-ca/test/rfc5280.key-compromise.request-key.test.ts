// RFC 5280 §5.3.1: while a compromised key is known, issue() compares the request's key with the compromised ones by
// the RFC 7638 thumbprint of the key object the request's signature check already read (@scep/core's
// CertificationRequest.publicKeyThumbprint), not by parsing the SubjectPublicKeyInfo again (~0.12 ms a request).
// Counted here: node:crypto createPublicKey calls on the request's SPKI DER, over many issues.
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";

const counts = vi.hoisted(() => ({ spkiParses: new Map<string, number>() }));

vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  const createPublicKey = ((key: Parameters<typeof actual.createPublicKey>[0]) => {
    const k = key as { key?: unknown; type?: string };
    if (k && typeof k === "object" && k.type === "spki" && k.key instanceof Uint8Array) {
      const hex = Buffer.from(k.key).toString("hex");
      counts.spkiParses.set(hex, (counts.spkiParses.get(hex) ?? 0) + 1);
    }
    return actual.createPublicKey(key);
  }) as typeof actual.createPublicKey;
  return { ...actual, createPublicKey, default: { ...actual, createPublicKey } };
});

const { CertificationRequest, MemoryRevocationStore, publicKeyThumbprint } = await import("@scep/core");
const { isEmbeddedCaError, openFileCa } = await import("../src/index.js");
const { spkiHash } = await import("../src/compromised-keys.js");
const { opensslCsr, tempDir } = await import("./helpers.js");

beforeEach(() => counts.spkiParses.clear());

describe("issue(): the request's key is not parsed again for the compromised-key check", () => {
  it("with a compromised key known, 20 issues of a decoded request and 20 of its DER parse its SPKI 0 times; the compromised key is still refused", async () => {
    const dir = tempDir();
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: new MemoryRevocationStore(), certificateFiles: false });
    const lostDer = opensslCsr(dir, "lost", { subject: "/CN=lost" });
    const lost = await ca.issue({ csrDer: lostDer });
    await ca.revoke(lost.serialNumber, "keyCompromise");

    for (const key of ["rsa", "ec"] as const) {
      const csrDer = opensslCsr(dir, `device-${key}`, { subject: `/CN=device-${key}`, key });
      const csr = CertificationRequest.from(csrDer);
      expect(csr.verify()).toBe(true); // as decodePkiMessage does
      const spkiHex = Buffer.from(csr.spki).toString("hex");
      counts.spkiParses.clear();
      for (let i = 0; i < 20; i++) await ca.issue({ csr });
      for (let i = 0; i < 20; i++) await ca.issue({ csrDer });
      expect(counts.spkiParses.get(spkiHex) ?? 0).toBe(0);
      // One notion of a key: the request's thumbprint is the SPKI's hash.
      expect(csr.publicKeyThumbprint).toBe(spkiHash(csr.spki));
      expect(csr.publicKeyThumbprint).toBe(publicKeyThumbprint(csr.spki));
    }
    const refused = await ca.issue({ csr: CertificationRequest.from(lostDer) }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(refused, "KEY_COMPROMISED")).toBe(true);
  });
});
