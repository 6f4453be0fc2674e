/**
 * CA pinning in ScepClient (RFC 8894 §2.2: the client authenticates the CA
 * certificate out of band, e.g. by its fingerprint). A pinned client checks
 * GetCACert before any PKIOperation: some CA certificate of the set (root or
 * issuing CA) must have a pinned SHA-256 fingerprint or be (issued by) a
 * trusted CA certificate, the certificate requests are encrypted to must
 * chain to it, and every CertRep must be signed by a certificate that does.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { CaPinMismatchError, ScepClient, caFingerprint, isScepError, normalizeFingerprint, type Certificate } from "../src/index.js";
import { createDevice } from "./support/server-pki.js";
import { createTwoLevelPki, strictScepFetch, type TwoLevelPki } from "./support/strict-ca.js";

let pki: TwoLevelPki;
let other: TwoLevelPki; // someone else's PKI: what a man in the middle would serve
const sha256 = (c: Certificate): string => createHash("sha256").update(c.der).digest("hex");

beforeAll(async () => {
  [pki, other] = await Promise.all([createTwoLevelPki(), createTwoLevelPki()]);
});

describe("fingerprint syntax", () => {
  it("accepts sha256:<hex>, plain hex, colons, either case, and the spellings tools print; normalises to sha256:<lower hex>", () => {
    const hex = sha256(pki.root.certificate);
    const colons = hex.toUpperCase().match(/../g)!.join(":");
    // `SHA-256 AB:…`: the example servers' banner and `scep getcacert`; `sha256 Fingerprint=AB:…`: `openssl x509 -fingerprint -sha256`
    for (const form of [`sha256:${hex}`, hex, colons, `SHA256:${colons}`, `sha-256:${hex.toUpperCase()}`, ` ${hex} `, `SHA-256 ${colons}`, `sha256 Fingerprint=${colons}`]) {
      expect(normalizeFingerprint(form)).toBe(`sha256:${hex}`);
    }
    expect(caFingerprint(pki.root.certificate)).toBe(`sha256:${hex}`);
  });

  it.each(["", "sha256:", "sha1:0123", "ab".repeat(31), "zz".repeat(32), `md5:${"ab".repeat(16)}`])("%j is ERR_INVALID_ARGUMENT, at construction", (bad) => {
    expect(() => new ScepClient({ url: "http://x.test/scep", caFingerprints: [bad] })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  });
});

/** A client pinned with `pin` against a strict CA serving `set`; returns what happened. */
async function enrollPinned(pin: { caFingerprints?: string[]; trustedCaCertificates?: Certificate[] }, serve: { set: Certificate[]; signer?: TwoLevelPki["raSign"] }) {
  const { fetch, log } = strictScepFetch({
    pki,
    caCertificates: serve.set,
    decrypters: [pki.raEncrypt, pki.issuing, other.raEncrypt],
    signer: serve.signer ?? pki.raSign,
    includeSignerCertificate: true,
  });
  const ops: string[] = [];
  const recording = (async (input: RequestInfo | URL, init?: RequestInit) => {
    ops.push(new URL(new Request(input, init).url).searchParams.get("operation")!);
    return fetch(input, init);
  }) as typeof fetch;
  const device = await createDevice({ cn: "pinned", challengePassword: "x" });
  const client = new ScepClient({ url: "http://strict.test/scep", fetch: recording, ...pin });
  const result = await client.enroll({ csr: device.csr, signer: device.signer }).then(
    (rep) => ({ rep, error: undefined }),
    (error: unknown) => ({ rep: undefined, error }),
  );
  return { ...result, ops, log };
}

describe("a matching pin: the enrollment goes ahead", () => {
  it("the root's fingerprint, root in the set (NDES layout)", async () => {
    const r = await enrollPinned({ caFingerprints: [`sha256:${sha256(pki.root.certificate)}`] }, { set: [pki.raSign.certificate, pki.raEncrypt.certificate, pki.issuing.certificate, pki.root.certificate] });
    expect(r.error).toBeUndefined();
    expect(r.rep?.status).toBe("PENDING");
    expect(r.ops).toEqual(["GetCACaps", "GetCACert", "PKIOperation"]);
  });

  it("the issuing CA's fingerprint (colon form), root not served", async () => {
    const colons = sha256(pki.issuing.certificate).toUpperCase().match(/../g)!.join(":");
    const r = await enrollPinned({ caFingerprints: [colons] }, { set: [pki.raSign.certificate, pki.raEncrypt.certificate, pki.issuing.certificate] });
    expect(r.error).toBeUndefined();
    expect(r.rep?.status).toBe("PENDING");
  });

  it("the root as a trusted certificate although the CA does not serve it", async () => {
    const r = await enrollPinned({ trustedCaCertificates: [pki.root.certificate] }, { set: [pki.issuing.certificate, pki.raEncrypt.certificate, pki.raSign.certificate] });
    expect(r.error).toBeUndefined();
    expect(r.rep?.status).toBe("PENDING");
  });
});

describe("a mismatch: CaPinMismatchError before any PKIOperation", () => {
  it("another CA entirely: both fingerprints in the message", async () => {
    const pinned = `sha256:${sha256(pki.root.certificate)}`;
    const set = [other.raSign.certificate, other.raEncrypt.certificate, other.issuing.certificate];
    const r = await enrollPinned({ caFingerprints: [pinned] }, { set });
    expect(r.error).toBeInstanceOf(CaPinMismatchError);
    expect(isScepError(r.error) && r.error.code).toBe("ERR_CA_PIN_MISMATCH");
    const e = r.error as CaPinMismatchError;
    expect(e.expected).toEqual([pinned]);
    expect(e.actual).toEqual(set.map((c) => `sha256:${sha256(c)}`));
    expect(e.message).toBe(
      `GetCACert: no CA certificate matches the pinned CA ${pinned}; the CA sent ` +
        `sha256:${sha256(set[0]!)} (CN=Strict RA signing, O=scep-sdk tests, RA), ` +
        `sha256:${sha256(set[1]!)} (CN=Strict RA encryption, O=scep-sdk tests, RA), ` +
        `sha256:${sha256(set[2]!)} (CN=Strict Issuing CA, O=scep-sdk tests, CA)`,
    );
    expect(r.ops).toEqual(["GetCACaps", "GetCACert"]);
    expect(r.log.requests).toEqual([]);
  });

  it("the genuine root served beside a foreign RA: the RA does not chain to the pin", async () => {
    const r = await enrollPinned({ caFingerprints: [sha256(pki.root.certificate)] }, { set: [pki.root.certificate, pki.issuing.certificate, other.raEncrypt.certificate] });
    expect(r.error).toBeInstanceOf(CaPinMismatchError);
    expect((r.error as Error).message).toBe(
      `GetCACert: the certificate requests would be encrypted to, sha256:${sha256(other.raEncrypt.certificate)} (CN=Strict RA encryption, O=scep-sdk tests, RA), does not chain to the pinned CA sha256:${sha256(pki.root.certificate)}`,
    );
    expect(r.ops).toEqual(["GetCACaps", "GetCACert"]);
  });

  it("a pinned RA certificate is refused with a hint to pin a CA", async () => {
    const r = await enrollPinned({ caFingerprints: [sha256(pki.raEncrypt.certificate)] }, { set: [pki.raSign.certificate, pki.raEncrypt.certificate, pki.issuing.certificate] });
    expect((r.error as Error).message).toMatch(/; CN=Strict RA encryption, O=scep-sdk tests is an RA certificate: pin a CA certificate \(the root or the issuing CA\)$/);
    expect(r.ops).toEqual(["GetCACaps", "GetCACert"]);
  });

  it("a CertRep signed by a certificate outside the pinned chain is refused (ERR_CERTREP)", async () => {
    const r = await enrollPinned({ caFingerprints: [sha256(pki.root.certificate)] }, { set: [pki.raSign.certificate, pki.raEncrypt.certificate, pki.issuing.certificate, pki.root.certificate], signer: other.raSign });
    expect(r.error).toMatchObject({ code: "ERR_CERTREP", message: "the CertRep is signed by CN=Strict RA signing, O=scep-sdk tests, which does not chain to the pinned CA" });
  });

  it("getCaCert itself checks the pin", async () => {
    const { fetch } = strictScepFetch({ pki: other, caCertificates: [other.issuing.certificate], decrypters: [other.issuing], signer: other.issuing, includeSignerCertificate: true });
    const client = new ScepClient({ url: "http://strict.test/scep", fetch, caFingerprints: [sha256(pki.issuing.certificate)] });
    await expect(client.getCaCert()).rejects.toMatchObject({ code: "ERR_CA_PIN_MISMATCH", name: "CaPinMismatchError" });
  });
});
