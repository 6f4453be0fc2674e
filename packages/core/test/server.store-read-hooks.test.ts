/**
 * The profile hooks that are store reads by their docs (`isRevoked`: "the store's entry", `getCert`, `getCrl`) and
 * the `release` a custom challenge verdict hands back (it undoes a store write) are bounded as store calls are
 * (`store-call.ts`, issue 8): a hook whose store hangs (a Redis that stopped answering) makes the request fail closed
 * with HTTP 503 + Retry-After within `storeTimeoutMs`, never a hang that holds the request's in-flight slot
 * (`enrollment/in-flight.ts`) or a one-time challenge; a hook that rejects with StoreUnavailableError is the same 503;
 * any other error it throws is a 500 `internal error`, as a store's or the issue hook's is. Once the hook answers
 * again, the device's resend is answered normally.
 *
 * Real short timeouts (`storeTimeoutMs` 50 ms), no fake timers; a hang is caught by the test's own timeout.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  LocalKey,
  MemoryChallengeStore,
  StoreUnavailableError,
  buildCertPoll,
  buildGetCert,
  buildGetCrl,
  toPem,
  buildPkcsReq,
  createScepServer,
  type BuiltRequest,
  type Certificate,
  type ChallengePolicy,
  type IssueContext,
  type ScepEvent,
  type ScepProfile,
  type ScepServer,
} from "../src/index.js";
import { DAY, NOW, baseProfile, createDevice, createTestCa, csrFor, eventLog, hex, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";
import { unhandledRejectionsDuring } from "./support/unhandled.js";

const STORE_TIMEOUT_MS = 50;
/** Each test's own bound: a request that hangs fails here (the tests assert only that it answered). */
const HANG = 20_000;
const CHALLENGE = "store-read-hooks";

let ca: TestCa;
let device: Device;
/** A certificate of `ca` for the device's key, valid now: it signs renewals. */
let old: LocalKey;
let oldCert: Certificate;
let crl: Uint8Array;

beforeAll(async () => {
  ca = await createTestCa("Store Read Hooks CA");
  device = await createDevice({ cn: "store-hook-device", challengePassword: CHALLENGE });
  oldCert = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 10 * DAY), notAfter: new Date(NOW.getTime() + 20 * DAY) });
  old = LocalKey.from(oldCert, device.keys.privateKey);
  crl = await ca.crl(["0badc0de"]);
});

type Mode = "up" | "hang" | "down" | "broken";

/**
 * A hook's backing store: answers `answer()` at once ("up"), never until {@link Backend.recover} ("hang": the waiting
 * calls then answer late), rejects with StoreUnavailableError, Retry-After 7 ("down", as `@scep/redis` does while
 * Redis is down), or with a plain Error ("broken").
 */
interface Backend<T> {
  mode: Mode;
  calls: number;
  hook: () => Promise<T>;
  /** Back up: the hung calls answer now, later ones at once. */
  recover(): void;
}

function backend<T>(answer: () => T): Backend<T> {
  const waiting: (() => void)[] = [];
  const b: Backend<T> = {
    mode: "up",
    calls: 0,
    hook: async () => {
      b.calls++;
      if (b.mode === "hang") return new Promise<T>((resolve) => waiting.push(() => resolve(answer())));
      if (b.mode === "down") throw new StoreUnavailableError("revocations: Redis connection is down (not connected)", { retryAfterSeconds: 7 });
      if (b.mode === "broken") throw new Error("revocations: index is corrupt");
      return answer();
    },
    recover() {
      b.mode = "up";
      for (const w of waiting.splice(0)) w();
    },
  };
  return b;
}

function setup(profile: Partial<ScepProfile> & { challenge?: string | ChallengePolicy }) {
  const log = eventLog();
  const errors: [unknown, ScepEvent][] = [];
  const { challenge = CHALLENGE, ...fields } = profile;
  const server = createScepServer({
    profiles: [{ ...baseProfile(ca, challenge), issue: issuingHook(ca), ...fields }],
    onEvent: log.onEvent,
    onError: (e, event) => void errors.push([e, event]),
    now: () => NOW,
    storeTimeoutMs: STORE_TIMEOUT_MS,
  });
  return { server, log, errors };
}

type Setup = ReturnType<typeof setup>;

/** The 503 a store that is down gets: Retry-After, plain text, no CertRep, event `store_unavailable` naming the request, onError told why. */
async function expectStoreUnavailable(s: Setup, res: Response, expected: { retryAfter: string; operation: string; transactionId: string; message: string }): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe(expected.retryAfter);
  expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  expect(await res.text()).toBe("store unavailable, retry later\n");
  expect(s.log.events.at(-1)).toMatchObject({ operation: expected.operation, outcome: "error", reason: "store_unavailable", status: 503, transactionId: expected.transactionId });
  expect(s.errors.at(-1)?.[0]).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: expected.message });
}

function renewalReq(signer: LocalKey, csr: Uint8Array, renewal = true): Promise<BuiltRequest> {
  return buildPkcsReq({ csr, signer, recipient: ca.cert, renewal, now: NOW });
}

async function read(res: Response, built: BuiltRequest, decrypter: LocalKey) {
  return readReply(res, built, { decrypter, caCertificates: [ca.cert] });
}

describe("isRevoked reads the revocation store: bounded by storeTimeoutMs as a store call", () => {
  it(
    "a RenewalReq whose isRevoked hangs: 503 + Retry-After 30 within storeTimeoutMs, event store_unavailable, nothing issued; once the store answers, the same message renews",
    async () => {
      const revocations = backend(() => false);
      const issued: IssueContext[] = [];
      const s = setup({ isRevoked: revocations.hook, issue: issuingHook(ca, issued) });
      const newKey = await createDevice({ cn: "store-hook-device" });
      const built = await renewalReq(old, await csrFor(newKey.keys, "store-hook-device"));
      revocations.mode = "hang";
      await expectStoreUnavailable(s, await postPki(s.server, "/scep", built.der), {
        retryAfter: "30",
        operation: "RenewalReq",
        transactionId: built.transactionId,
        message: `isRevoked hook: no answer within ${STORE_TIMEOUT_MS} ms`,
      });
      expect(issued).toEqual([]);
      revocations.recover(); // the hung call answers late: ignored
      const rep = await read(await postPki(s.server, "/scep", built.der), built, old);
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.certificates[0]!.spki)).toBe(hex(newKey.signer.certificate.spki));
      expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "success", reason: "issued", renewal: true });
      expect(revocations.calls).toBe(2);
    },
    HANG,
  );

  it(
    "a PKCSReq signed by a certificate of this CA, with a one-time challenge: 503 while isRevoked hangs, the challenge not spent; the resend, once the store says revoked, enrolls with that challenge",
    async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      const revocations = backend(() => "superseded" as const);
      const s = setup({ challenge: { type: "store", store: challenges }, isRevoked: revocations.hook });
      const built = await renewalReq(old, await csrFor(device.keys, "store-hook-device", challenge), false);
      revocations.mode = "hang";
      await expectStoreUnavailable(s, await postPki(s.server, "/scep", built.der), {
        retryAfter: "30",
        operation: "PKCSReq",
        transactionId: built.transactionId,
        message: `isRevoked hook: no answer within ${STORE_TIMEOUT_MS} ms`,
      });
      revocations.recover();
      // Revoked: no renewal, a first enrollment its challenge authenticates; the challenge is still there to be spent.
      const rep = await read(await postPki(s.server, "/scep", built.der), built, old);
      expect(rep.status).toBe("SUCCESS");
      expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", renewal: false });
      expect(await challenges.consume(challenge, { profile: "p" })).toBe(false); // spent once, by the resend
    },
    HANG,
  );

  it(
    "a PKCSReq re-sent for its ISSUED record while isRevoked hangs: 503, the transactionID's in-flight slot let go; once the store answers, the re-send gets the same certificate",
    async () => {
      const revocations = backend(() => undefined);
      const s = setup({ isRevoked: revocations.hook });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      const first = await read(await postPki(s.server, "/scep", built.der), built, device.signer);
      expect(first.status).toBe("SUCCESS");
      expect(revocations.calls).toBe(0); // a self-signed first enrollment asks no one
      revocations.mode = "hang";
      await expectStoreUnavailable(s, await postPki(s.server, "/scep", built.der), {
        retryAfter: "30",
        operation: "PKCSReq",
        transactionId: built.transactionId,
        message: `isRevoked hook: no answer within ${STORE_TIMEOUT_MS} ms`,
      });
      revocations.recover();
      const again = await read(await postPki(s.server, "/scep", built.der), built, device.signer);
      expect(again.status).toBe("SUCCESS");
      expect(hex(again.certificates[0]!.der)).toBe(hex(first.certificates[0]!.der));
      expect(s.log.events.at(-1)).toMatchObject({ outcome: "success", reason: "issued_resent" });
    },
    HANG,
  );

  it(
    "a CertPoll of an approved transaction while isRevoked hangs: 503; once the store answers, SUCCESS with the certificate",
    async () => {
      const revocations = backend(() => false);
      const s = setup({ isRevoked: revocations.hook, issue: issuingHook(ca, [], (ctx) => (ctx.approved ? undefined : { status: "PENDING" })) });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      expect((await read(await postPki(s.server, "/scep", built.der), built, device.signer)).status).toBe("PENDING");
      const tx = await s.server.approve("p", built.transactionId);
      const poll = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId: built.transactionId, now: NOW });
      revocations.mode = "hang";
      await expectStoreUnavailable(s, await postPki(s.server, "/scep", poll.der), {
        retryAfter: "30",
        operation: "CertPoll",
        transactionId: built.transactionId,
        message: `isRevoked hook: no answer within ${STORE_TIMEOUT_MS} ms`,
      });
      revocations.recover();
      const rep = await read(await postPki(s.server, "/scep", poll.der), poll, device.signer);
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.certificates[0]!.der)).toBe(hex(tx.certificate));
    },
    HANG,
  );

  it("isRevoked rejects with StoreUnavailableError (Redis down): 503 with the error's Retry-After; then the renewal works", async () => {
    const revocations = backend(() => false);
    const s = setup({ isRevoked: revocations.hook });
    const built = await renewalReq(old, await csrFor(device.keys, "store-hook-device"));
    revocations.mode = "down";
    await expectStoreUnavailable(s, await postPki(s.server, "/scep", built.der), {
      retryAfter: "7",
      operation: "RenewalReq",
      transactionId: built.transactionId,
      message: "revocations: Redis connection is down (not connected)",
    });
    revocations.recover();
    expect((await read(await postPki(s.server, "/scep", built.der), built, old)).status).toBe("SUCCESS");
  });

  it("isRevoked throws a plain Error: 500 internal error (a fault of the hook, as a store's or the issue hook's throw), onError told, no unhandled rejection; then the renewal works", async () => {
    const revocations = backend(() => false);
    const s = setup({ isRevoked: revocations.hook });
    const built = await renewalReq(old, await csrFor(device.keys, "store-hook-device"));
    revocations.mode = "broken";
    const unhandled = await unhandledRejectionsDuring(async () => {
      const res = await postPki(s.server, "/scep", built.der);
      expect([res.status, res.headers.get("retry-after"), await res.text()]).toEqual([500, null, "internal error\n"]);
    });
    expect(unhandled).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "error", reason: "internal_error", status: 500, transactionId: built.transactionId });
    expect(s.errors.at(-1)?.[0]).toMatchObject({ message: "revocations: index is corrupt" });
    revocations.recover();
    expect((await read(await postPki(s.server, "/scep", built.der), built, old)).status).toBe("SUCCESS");
  });

  it(
    "an isRevoked that hangs, then rejects after the 503 was sent: the late rejection is not unhandled",
    async () => {
      let fail: (e: Error) => void = () => undefined;
      const s = setup({ isRevoked: () => new Promise<boolean>((_, reject) => (fail = reject)) });
      const built = await renewalReq(old, await csrFor(device.keys, "store-hook-device"));
      const unhandled = await unhandledRejectionsDuring(async () => {
        expect((await postPki(s.server, "/scep", built.der)).status).toBe(503);
        fail(new Error("ECONNRESET, at last"));
      });
      expect(unhandled).toEqual([]);
    },
    HANG,
  );
});

describe("getCert and getCrl read the CA's stores: bounded by storeTimeoutMs as store calls (RFC 8894 §3.3.4, §3.3.5)", () => {
  async function getCert(s: Setup) {
    const built = await buildGetCert({ signer: device.signer, recipient: ca.cert, issuer: ca.cert.subjectDer, serialNumber: oldCert.serialNumber, now: NOW });
    return { built, res: await postPki(s.server, "/scep", built.der) };
  }
  async function getCrl(s: Setup) {
    const built = await buildGetCrl({ signer: device.signer, recipient: ca.cert, issuer: ca.cert.subjectDer, serialNumber: oldCert.serialNumber, now: NOW });
    return { built, res: await postPki(s.server, "/scep", built.der) };
  }

  it(
    "GetCert whose hook hangs: 503 + Retry-After 30, event store_unavailable; once the store answers, SUCCESS with the certificate",
    async () => {
      const index = backend<Certificate | undefined>(() => oldCert);
      const s = setup({ getCert: index.hook });
      index.mode = "hang";
      const first = await getCert(s);
      await expectStoreUnavailable(s, first.res, { retryAfter: "30", operation: "GetCert", transactionId: first.built.transactionId, message: `getCert hook: no answer within ${STORE_TIMEOUT_MS} ms` });
      index.recover();
      const { built, res } = await getCert(s);
      const rep = await read(res, built, device.signer);
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.certificates[0]!.der)).toBe(hex(oldCert.der));
    },
    HANG,
  );

  it(
    "GetCRL whose hook hangs: 503 + Retry-After 30, event store_unavailable; once the store answers, SUCCESS with the CRL",
    async () => {
      const crls = backend<Uint8Array | undefined>(() => crl);
      const s = setup({ getCrl: crls.hook });
      crls.mode = "hang";
      const first = await getCrl(s);
      await expectStoreUnavailable(s, first.res, { retryAfter: "30", operation: "GetCRL", transactionId: first.built.transactionId, message: `getCrl hook: no answer within ${STORE_TIMEOUT_MS} ms` });
      crls.recover();
      const { built, res } = await getCrl(s);
      const rep = await read(res, built, device.signer);
      expect(rep.status).toBe("SUCCESS");
      expect(rep.crls.map(hex)).toEqual([hex(crl)]);
    },
    HANG,
  );

  it("GetCert and GetCRL whose hooks reject with StoreUnavailableError: 503 with its Retry-After; a plain Error: 500 internal error; never an unhandled rejection", async () => {
    const index = backend<Certificate | undefined>(() => oldCert);
    const crls = backend<Uint8Array | undefined>(() => crl);
    const s = setup({ getCert: index.hook, getCrl: crls.hook });
    const unhandled = await unhandledRejectionsDuring(async () => {
      index.mode = crls.mode = "down";
      const cert = await getCert(s);
      await expectStoreUnavailable(s, cert.res, { retryAfter: "7", operation: "GetCert", transactionId: cert.built.transactionId, message: "revocations: Redis connection is down (not connected)" });
      const list = await getCrl(s);
      await expectStoreUnavailable(s, list.res, { retryAfter: "7", operation: "GetCRL", transactionId: list.built.transactionId, message: "revocations: Redis connection is down (not connected)" });
      index.mode = crls.mode = "broken";
      for (const [operation, send] of [
        ["GetCert", getCert],
        ["GetCRL", getCrl],
      ] as const) {
        const { res } = await send(s);
        expect([res.status, await res.text()]).toEqual([500, "internal error\n"]);
        expect(s.log.events.at(-1)).toMatchObject({ operation, outcome: "error", reason: "internal_error", status: 500 });
        expect(s.errors.at(-1)?.[0]).toMatchObject({ message: "revocations: index is corrupt" });
      }
    });
    expect(unhandled).toEqual([]);
  });

  // The hook's answer went into the SUCCESS CertRep's crls as given: PEM text (a CRL read from a .pem file) or any
  // other bytes made a 200 no client could read (ERR_CERTREP "certificates do not parse" on the device).
  it("GetCRL whose hook answers PEM: SUCCESS with the DER; bytes that are no CertificateList (or no bytes): 500, onError told", async () => {
    let answer: unknown = new TextEncoder().encode(toPem("X509 CRL", crl));
    const s = setup({ getCrl: async () => answer as Uint8Array });
    const { built, res } = await getCrl(s);
    const rep = await read(res, built, device.signer);
    expect([rep.status, rep.crls.map(hex)]).toEqual(["SUCCESS", [hex(crl)]]);
    for (const bad of [new TextEncoder().encode("not a CRL"), crl.subarray(0, crl.length - 1), oldCert.der.subarray(0, 10), "a string"]) {
      answer = bad;
      const { res: refused } = await getCrl(s);
      expect([refused.status, await refused.text()]).toEqual([500, "internal error\n"]);
      expect(s.errors.at(-1)?.[0]).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    }
  });
});

describe("a custom challenge verdict's release undoes a store write: bounded by storeTimeoutMs", () => {
  it(
    "the issue hook throws and the validator's release hangs: the 500 is sent after storeTimeoutMs, not held; the release lands later and the resend enrolls with the challenge",
    async () => {
      // A replay cache of one-time challenges, in the shape of a custom validator's: spent on validate, put back by release.
      const unspent = new Set([CHALLENGE]);
      const releases: (() => void)[] = [];
      const challenge: ChallengePolicy = {
        type: "custom",
        validate: ({ challenge: c }) => {
          if (c === undefined || !unspent.delete(c)) return { ok: false, reason: "replayed" };
          return { ok: true, release: () => new Promise<boolean>((resolve) => releases.push(() => resolve(unspent.add(c).has(c)))) };
        },
      };
      let throwOnce = true;
      const hook = issuingHook(ca);
      const s = setup({
        challenge,
        issue: async (ctx) => {
          if (throwOnce) {
            throwOnce = false;
            throw new Error("CA backend restarting");
          }
          return hook(ctx);
        },
      });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      const res = await postPki(s.server, "/scep", built.der);
      expect([res.status, await res.text()]).toEqual([500, "internal error\n"]);
      expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", reason: "internal_error", status: 500 });
      expect(releases).toHaveLength(1);
      releases[0]!(); // the release's store answers late: the challenge is back
      const rep = await read(await postPki(s.server, "/scep", built.der), built, device.signer);
      expect(rep.status).toBe("SUCCESS");
    },
    HANG,
  );
});
