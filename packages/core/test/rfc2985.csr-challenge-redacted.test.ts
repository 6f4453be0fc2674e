/**
 * RFC 2985 §5.4.1 challengePassword: the device's one-time secret. A hook that logs its context (`ctx.csr`,
 * `ctx.request`) with `console.log`, `util.inspect` or `JSON.stringify` must not print it: CertificationRequest shows
 * a summary with the password redacted and without the DER (whose attributes hold it in the clear).
 */
import { format, inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CertificationRequest, generateCsr, generateRsaKeyPair } from "../src/index.js";

const SECRET = "one-time-S3cret-4711";

describe("RFC 2985 §5.4.1: a CertificationRequest never prints its challengePassword", async () => {
  const keys = await generateRsaKeyPair(2048);
  const csr = new CertificationRequest(await generateCsr({ keys, subject: "CN=device-42,O=Example", challengePassword: SECRET, san: { dns: ["device-42.example"] } }));

  it("the password is there to read, as before", () => {
    expect(csr.challengePassword).toBe(SECRET);
  });

  it("JSON.stringify: the summary, the password as [redacted], no DER", () => {
    const json = JSON.stringify({ csr });
    expect(json).not.toContain(SECRET);
    expect(JSON.parse(json).csr).toEqual({
      subject: "CN=device-42, O=Example",
      subjectAltNames: { dns: ["device-42.example"], email: [], uri: [], ip: [], upn: [], other: [] },
      publicKey: { type: "rsa", bits: 2048 },
      signatureAlgorithm: csr.signatureAlgorithm,
      extensions: ["2.5.29.17"],
      challengePassword: "[redacted]",
    });
  });

  it("util.inspect and console.log's format, nested in a hook's context at any depth", () => {
    for (const text of [inspect(csr), inspect({ ctx: { request: { csr } } }, { depth: 10 }), format("%o", { csr }), format("%j", { csr })]) {
      expect(text).not.toContain(SECRET);
      expect(text).toContain("[redacted]");
    }
    expect(inspect(csr)).toMatch(/^CertificationRequest \{/);
    expect(inspect(csr)).toContain("CN=device-42, O=Example");
  });

  it("not an own property: a spread copy, Object.assign, structuredClone or inspect without customInspect does not carry it", () => {
    expect(Object.keys(csr)).not.toContain("challengePassword");
    for (const copy of [{ ...csr }, Object.assign({}, csr), structuredClone({ ...csr })]) {
      expect((copy as { challengePassword?: string }).challengePassword).toBeUndefined();
      expect(inspect(copy, { depth: 5 })).not.toContain(SECRET);
    }
    expect(inspect(csr, { customInspect: false, depth: 5 })).not.toContain(SECRET);
  });

  it("a request without a challengePassword has no such field in its summary", async () => {
    const plain = new CertificationRequest(await generateCsr({ keys, subject: "CN=device-43" }));
    expect(plain.toJSON()).not.toHaveProperty("challengePassword");
    expect(inspect(plain)).not.toContain("challengePassword");
  });
});
