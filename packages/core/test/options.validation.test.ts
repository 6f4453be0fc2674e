/**
 * Every numeric option of every constructor and factory of @scep/core (sizes in bytes, durations in ms, counts) and
 * every required hook is checked when the object is built: NaN (an unset environment variable through `Number`), a
 * negative, a fraction, a numeric string, Infinity or a value past the range throws InvalidArgumentError
 * `ERR_INVALID_ARGUMENT` with one line naming the option, its unit and range, and the value given. Before, a NaN
 * `maxBodyBytes` lifted the body limit, a NaN `pendingTtlMs` stored a PENDING record that never expired and that
 * `pending` never listed, and a profile without `issue` was an HTTP 500 at the first enrollment. The numbers public
 * functions take per call are held to the same rules (last section).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ActivityLog,
  CertificationRequest,
  KeyWorkerPool,
  MemoryChallengeStore,
  MemoryCounterStore,
  MemoryRevocationStore,
  MemoryTransactionStore,
  ScepClient,
  buildCertificate,
  checkTransactionListLimit,
  createScepMetrics,
  createScepServer,
  decodePkiMessage,
  numberOption,
  readBody,
  resolvePolicy,
  webhookChallenge,
  type ScepProfile,
  type ScepServerOptions,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, issuingHook, postPki, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let csr: CertificationRequest;
beforeAll(async () => {
  ca = await createTestCa("Options Test CA");
  csr = CertificationRequest.from((await createDevice({ cn: "per-call" })).csr);
});

const profile = (over: Record<string, unknown> = {}): ScepProfile =>
  ({ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca), ...over }) as ScepProfile;
const server = (over: Partial<Record<keyof ScepServerOptions, unknown>> = {}, profileOver: Record<string, unknown> = {}) =>
  createScepServer({ profiles: [profile(profileOver)], now: () => NOW, ...over } as ScepServerOptions);

/** How the value shows in the message. */
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));

interface Row {
  /** Whose option it is. */
  owner: string;
  /** The option's name as the message starts with it. */
  name: string;
  unit: "milliseconds" | "bytes" | "";
  min: number;
  max: number;
  build(value: unknown): unknown;
}

const ms = "milliseconds" as const;
const rows: Row[] = [
  { owner: "createScepServer", name: "maxBodyBytes", unit: "bytes", min: 1, max: 1_073_741_824, build: (v) => server({ maxBodyBytes: v }) },
  { owner: "createScepServer", name: "storeTimeoutMs", unit: ms, min: 1, max: 2_147_483_647, build: (v) => server({ storeTimeoutMs: v }) },
  { owner: "a profile", name: "profile p: pendingTtlMs", unit: ms, min: 1000, max: 31_536_000_000, build: (v) => server({}, { pendingTtlMs: v }) },
  { owner: "a profile", name: "profile p: transactionRetentionMs", unit: ms, min: 1000, max: 31_536_000_000, build: (v) => server({}, { transactionRetentionMs: v }) },
  { owner: "a profile", name: "profile p: approvalLeaseMs", unit: ms, min: 300, max: 2_147_483_647, build: (v) => server({}, { approvalLeaseMs: v }) },
  { owner: "a profile", name: "profile p: claimLeaseMs", unit: ms, min: 300, max: 2_147_483_647, build: (v) => server({}, { claimLeaseMs: v }) },
  { owner: "MemoryTransactionStore", name: "maxEntries", unit: "", min: 1, max: 100_000_000, build: (v) => new MemoryTransactionStore({ maxEntries: v as number }) },
  { owner: "MemoryChallengeStore", name: "maxEntries", unit: "", min: 1, max: 100_000_000, build: (v) => new MemoryChallengeStore({ maxEntries: v as number }) },
  { owner: "MemoryChallengeStore", name: "defaultTtlMs", unit: ms, min: 1, max: 31_536_000_000, build: (v) => new MemoryChallengeStore({ defaultTtlMs: v as number }) },
  { owner: "MemoryRevocationStore", name: "maxEntries", unit: "", min: 1, max: 100_000_000, build: (v) => new MemoryRevocationStore({ maxEntries: v as number }) },
  { owner: "MemoryCounterStore", name: "maxLabels", unit: "", min: 1, max: 1_000_000, build: (v) => new MemoryCounterStore({ maxLabels: v as number }) },
  { owner: "ActivityLog", name: "maxEntries", unit: "", min: 1, max: 1_000_000, build: (v) => new ActivityLog({ maxEntries: v as number }) },
  { owner: "KeyWorkerPool", name: "KeyWorkerPool size", unit: "", min: 1, max: 64, build: (v) => new KeyWorkerPool({ size: v as number }) },
  { owner: "KeyWorkerPool", name: "KeyWorkerPool maxQueue", unit: "", min: 1, max: 1_000_000, build: (v) => new KeyWorkerPool({ maxQueue: v as number }) },
  // A NaN minimum let every RSA size pass (bits < NaN is false), RSA-512 included.
  { owner: "a profile", name: "profile p: csrPolicy.minRsaBits", unit: "", min: 512, max: 16_384, build: (v) => server({}, { csrPolicy: { minRsaBits: v } }) },
  { owner: "a profile", name: "profile p: algorithmPolicy.minRsaBits", unit: "", min: 512, max: 16_384, build: (v) => server({}, { algorithmPolicy: { minRsaBits: v } }) },
  { owner: "resolvePolicy", name: "algorithmPolicy.minRsaBits", unit: "", min: 512, max: 16_384, build: (v) => resolvePolicy({ minRsaBits: v as number }) },
  // A timeout past 2^31 - 1 ms made Node fire at once: every webhook call aborted, every enrollment FAILURE.
  { owner: "webhookChallenge", name: "webhookChallenge: timeoutMs", unit: ms, min: 1, max: 2_147_483_647, build: (v) => webhookChallenge({ url: "https://mdm.test/x", timeoutMs: v as number }) },
  { owner: "webhookChallenge", name: "webhookChallenge: maxResponseBytes", unit: "bytes", min: 1, max: 1_073_741_824, build: (v) => webhookChallenge({ url: "https://mdm.test/x", maxResponseBytes: v as number }) },
  // A NaN bound never capped the reason labels: unbounded metric cardinality.
  { owner: "createScepMetrics", name: "createScepMetrics: maxReasons", unit: "", min: 1, max: 10_000, build: (v) => createScepMetrics({ maxReasons: v as number }) },
];


/** The values each option must refuse: NaN, below the range, a fraction, a numeric string, ±Infinity, past the range, null, a boolean. */
const badValues = (r: Pick<Row, "min" | "max">): unknown[] => [Number.NaN, -1, r.min - 1, r.min + 0.5, String(r.min), Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, r.max + 1, null, true];

describe("@scep/core: numeric options are checked at construction", () => {
  for (const r of rows) {
    const kind = r.unit ? `an integer number of ${r.unit}` : "an integer";
    it(`${r.owner} ${r.name}: refuses ${badValues(r).map(shown).join(", ")}; accepts ${r.min} and ${r.max}`, () => {
      for (const bad of badValues(r)) {
        expect(() => r.build(bad), `${r.name} = ${shown(bad)}`).toThrow(
          expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `${r.name} must be ${kind} from ${r.min} to ${r.max} (got ${bad === null ? "null" : shown(bad)})` }),
        );
      }
      for (const good of r.name.startsWith("KeyWorkerPool size") ? [r.min] : [r.min, r.max]) expect(() => r.build(good)).not.toThrow();
    });
  }

  it("MemoryChallengeStore.issue refuses a ttlMs that is not an integer number of milliseconds from 1 to 365 days (NaN made a challenge that never expires)", async () => {
    const store = new MemoryChallengeStore();
    for (const bad of [Number.NaN, 0, -1, 1.5, "60000", Number.POSITIVE_INFINITY, 31_536_000_001]) {
      await expect(store.issue({ profile: "p", ttlMs: bad as number })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: `ttlMs must be an integer number of milliseconds from 1 to 31536000000 (got ${shown(bad)})` });
    }
    await expect(store.issue({ profile: "p", ttlMs: 1 })).resolves.toMatch(/^[A-Za-z0-9-]{32}$/);
  });

  it("ScepClient: timeoutMs and maxResponseBytes refuse NaN, negatives, fractions, strings and Infinity; timeoutMs past 2^31 − 1", () => {
    const url = "http://ca.test/scep";
    for (const bad of [Number.NaN, -1, 0, 1.5, "1000", Number.POSITIVE_INFINITY]) {
      expect(() => new ScepClient({ url, timeoutMs: bad as number })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^timeoutMs must be/) }));
      expect(() => new ScepClient({ url, maxResponseBytes: bad as number })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^maxResponseBytes must be/) }));
    }
    expect(() => new ScepClient({ url, timeoutMs: 2 ** 31 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    expect(() => new ScepClient({ url, fetch: "fetch" as unknown as typeof fetch })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "fetch must be a function (got a string)" }));
  });

  it("csrPolicy.maxValidityDays: a number of days from 0.001 to 36 500 (NaN made notAfterMax an Invalid Date, a negative one a time past)", () => {
    for (const bad of [Number.NaN, -1, 0, "90", Number.POSITIVE_INFINITY, 36_501]) {
      expect(() => server({}, { csrPolicy: { maxValidityDays: bad } })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `profile p: csrPolicy.maxValidityDays must be a number from 0.001 to 36500 (got ${shown(bad)})` }),
      );
    }
    for (const good of [0.5, 90, 36_500]) expect(() => server({}, { csrPolicy: { maxValidityDays: good } })).not.toThrow();
  });

  it("decodePkiMessage: maxSize refuses NaN (which lifted the 1 MiB cap), negatives, fractions, strings and Infinity", async () => {
    for (const bad of [Number.NaN, -1, 0, 1.5, "1000", Number.POSITIVE_INFINITY, 1_073_741_825]) {
      await expect(decodePkiMessage(new Uint8Array([0x30, 0x00]), { decrypters: [ca.key], maxSize: bad as number })).rejects.toMatchObject({
        code: "ERR_INVALID_ARGUMENT",
        message: `maxSize must be an integer number of bytes from 1 to 1073741824 (got ${shown(bad)})`,
      });
    }
    await expect(decodePkiMessage(new Uint8Array(11), { decrypters: [ca.key], maxSize: 10 })).rejects.toMatchObject({ code: "ERR_MESSAGE_MALFORMED", message: "message too large" });
  });

  it("numberOption: the shared check returns the value or the fallback, and throws the error its caller builds", () => {
    expect(numberOption("x", undefined, 7, { min: 1, max: 10 })).toBe(7);
    expect(numberOption("x", 10, 7, { min: 1, max: 10 })).toBe(10);
    expect(numberOption("x", 2.5, 7, { min: 1, max: 10, integer: false, unit: "s" })).toBe(2.5);
    expect(() => numberOption("x", 11, 7, { min: 1, max: 10, integer: false, unit: "s" })).toThrow("x must be a number of seconds from 1 to 10 (got 11)");
    // A string that is no number is named by its length: it may be a secret put in the wrong option.
    expect(() => numberOption("commandTimeoutMs", "redis://:hunter2@cache:6379", 7, { min: 1, max: 10, unit: "ms" })).toThrow(
      "commandTimeoutMs must be an integer number of milliseconds from 1 to 10 (got a string of 27 characters)",
    );
    class OwnError extends Error {}
    expect(() => numberOption("x", "1", 7, { min: 1, max: 10 }, (m) => new OwnError(m))).toThrow(OwnError);
  });
});

describe("@scep/core: required and optional hooks are checked at construction", () => {
  const cases: [string, Record<string, unknown>, Partial<Record<keyof ScepServerOptions, unknown>>, string][] = [
    ["a profile without issue", { issue: undefined }, {}, "profile p: issue must be a function (got none)"],
    ["an issue that is an object", { issue: { issue() {} } }, {}, "profile p: issue must be a function (got an object)"],
    ["a confirm that is a string", { confirm: "yes" }, {}, "profile p: confirm must be a function (got a string)"],
    ["an isRevoked that is null", { isRevoked: null }, {}, "profile p: isRevoked must be a function (got null)"],
    ["a getCert that is true", { getCert: true }, {}, "profile p: getCert must be a function (got a boolean)"],
    ["a signer without sign", { signer: { certificate: {} } }, {}, "profile p: signer must be a Signer (an object with sign and a certificate)"],
    ["a transactions object without transition", { transactions: { get() {}, create() {}, list() {}, delete() {} } }, {}, "profile p: transactions must be a TransactionStore (get, create, transition, list, delete)"],
    ["a path that is a number", { path: 7 }, {}, 'a profile\'s path must be a string such as "/scep" (got a number)'],
    ["a now that is a Date", {}, { now: NOW }, "now must be a function (got an object)"],
    ["an onEvent array holding a string", {}, { onEvent: [() => undefined, "log"] }, "onEvent must be a function or an array of functions"],
    ["counters without increment", {}, { counters: {} }, "counters must be a CounterStore (an object with increment)"],
  ];
  it.each(cases)("%s: ERR_INVALID_ARGUMENT from createScepServer", (_what, profileOver, serverOver, message) => {
    expect(() => server(serverOver, profileOver)).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message }));
  });

  it("store clocks and the activity log's include must be functions", () => {
    for (const make of [() => new MemoryTransactionStore({ now: NOW as never }), () => new MemoryChallengeStore({ now: NOW as never }), () => new MemoryRevocationStore({ now: NOW as never })]) {
      expect(make).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "now must be a function returning a Date (got an object)" }));
    }
    expect(() => new ActivityLog({ include: "all" as never })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "include must be a function (got a string)" }));
  });
});

describe("end to end: the reported NaN configurations now fail at construction, not at the first request", () => {
  it("pendingTtlMs: Number(process.env.UNSET) is refused by createScepServer (it stored a PENDING record with an Invalid Date expiry that never expired and that server.pending never listed)", () => {
    const unset = Number(process.env.SCEP_OPTIONS_TEST_UNSET_VARIABLE);
    expect(Number.isNaN(unset)).toBe(true);
    expect(() => server({}, { pendingTtlMs: unset })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "profile p: pendingTtlMs must be an integer number of milliseconds from 1000 to 31536000000 (got NaN)" }),
    );
  });

  it("maxBodyBytes: NaN is refused by createScepServer (it lifted the limit: a 30 MB body was read and parsed, 400 decode_error); the default answers it 413 body_too_large", async () => {
    expect(() => server({ maxBodyBytes: Number.NaN })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "maxBodyBytes must be an integer number of bytes from 1 to 1073741824 (got NaN)" }),
    );
    const events: string[] = [];
    const s = server({ onEvent: (e: { reason: string }) => events.push(e.reason) });
    const res = await postPki(s, "/scep", new Uint8Array(30 * 1024 * 1024));
    expect(res.status).toBe(413);
    expect(events).toEqual(["body_too_large"]);
  });
});

/**
 * The numbers public functions take per call (not at construction), checked with the same rules and messages. Before,
 * each did its own check or none: `readBody(request, NaN)` read a body of any size whole (`declared > NaN` is false),
 * `buildCertificate({ backdateMs: 1e15 })` and `backdateMs: 1.5` passed, `MemoryTransactionStore.list({ limit: -1 })`
 * dropped the newest record and `limit: NaN` returned none, as `ActivityLog.list({ limit: NaN })` did.
 */
const body = (): Request => new Request("http://scep.test/scep", { method: "POST", body: new Uint8Array([0x30, 0x00]) });
const certificate = (backdateMs: unknown): Promise<unknown> =>
  buildCertificate({ issuer: ca.key, subject: csr.subjectDer, publicKey: csr.spki, serialNumber: new Uint8Array([1]), now: NOW, notAfter: new Date(NOW.getTime() + 86_400_000), backdateMs: backdateMs as number });

const perCallRows: Row[] = [
  { owner: "readBody", name: "maxBody", unit: "bytes", min: 1, max: 1_073_741_824, build: async (v) => readBody(body(), v as number) },
  { owner: "buildCertificate", name: "backdateMs", unit: "milliseconds", min: 0, max: 31_536_000_000, build: (v) => certificate(v) },
  { owner: "MemoryTransactionStore.list", name: "limit", unit: "", min: 0, max: 100_000_000, build: (v) => new MemoryTransactionStore().list("p", { limit: v as number }) },
  { owner: "checkTransactionListLimit", name: "limit", unit: "", min: 0, max: 100_000_000, build: async (v) => checkTransactionListLimit(v) },
  { owner: "ActivityLog.list", name: "limit", unit: "", min: 0, max: 1_000_000, build: async (v) => new ActivityLog().list({ limit: v as number }) },
  { owner: "ActivityLog.list", name: "before", unit: "", min: 0, max: Number.MAX_SAFE_INTEGER, build: async (v) => new ActivityLog().list({ before: v as number }) },
];

describe("@scep/core: numbers given per call are checked as constructor options are", () => {
  for (const r of perCallRows) {
    const kind = r.unit ? `an integer number of ${r.unit}` : "an integer";
    it(`${r.owner} ${r.name}: refuses ${badValues(r).map(shown).join(", ")}; accepts ${r.min} and ${r.max}`, async () => {
      for (const bad of badValues(r)) {
        await expect(
          (async () => r.build(bad))(),
          `${r.owner} ${r.name} = ${shown(bad)}`,
        ).rejects.toMatchObject({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `${r.name} must be ${kind} from ${r.min} to ${r.max} (got ${shown(bad)})` });
      }
      for (const good of [r.min, r.max]) await expect((async () => r.build(good))(), `${r.owner} ${r.name} = ${good}`).resolves.toBeDefined();
    });
  }

  it("readBody: a NaN maxBody no longer lifts the limit (a body of any size was read whole); a valid one still answers too-large", async () => {
    const big = (): Request => new Request("http://scep.test/scep", { method: "POST", body: new Uint8Array(100_000) });
    const read = await readBody(big(), Number.NaN).catch((e: unknown) => e);
    expect(read instanceof Uint8Array ? `${read.length} bytes read` : read).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    expect(await readBody(big(), 65_536)).toBe("too-large");
  });

  it("buildCertificate: a backdateMs within the range back-dates notBefore by it, as before", async () => {
    const cert = (await certificate(60_000)) as { notBefore: Date };
    expect(cert.notBefore).toEqual(new Date(NOW.getTime() - 60_000));
  });
});
