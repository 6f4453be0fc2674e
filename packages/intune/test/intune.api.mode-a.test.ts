/**
 * INTUNE.md "Mode A: the Intune SCEP validation API", against a loopback
 * server playing Entra ID, Graph and Intune (test/support/fake-intune.ts):
 * exact paths, headers and bodies of the token requests, the discovery call
 * and ScepActions/validateRequest, successNotification, failureNotification;
 * token and endpoint caches and their invalidation; every error code mapped
 * to its reason label and failInfo; and an API that is slow, down, refuses our
 * credentials or answers garbage → `intune_unavailable`, never a throw.
 */
import { createHash, createPublicKey, verify, X509Certificate } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Certificate, createSelfSignedSigner, exportPrivateKeyPem, generateRsaKeyPair, type CertificationRequest } from "@scep/core";
import { INTUNE_FAIL_INFO, IntuneScepClient, IntuneValidator, MemoryRateLimiter, MemoryReplayCache, type IntuneError, type IntuneValidatorOptions } from "../src/index.js";
import { CLIENT_ID, CLIENT_SECRET, SERVICE_PATH, TENANT, startFakeIntune, fakeIntuneConnection, type FakeIntune, type Recorded } from "./support/fake-intune.js";
import { csrWith } from "./support/tokens.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PROVIDER = "contoso-scep/2.1";
const TXID = "6D3A1C9F0B7E4A2D8C5B1E0F9A8D7C6B";
const INTUNE_SCOPE = "https://api.manage.microsoft.com//.default";

let fake: FakeIntune;
let csr: CertificationRequest;
let clock: { t: number };
let errors: IntuneError[];

beforeAll(async () => {
  csr = await csrWith("opaque-intune-challenge-blob");
});
beforeEach(async () => {
  fake = await startFakeIntune();
  clock = { t: Date.parse("2026-03-01T12:00:00Z") };
  errors = [];
});
afterEach(() => fake.close());

function validator(options: Partial<IntuneValidatorOptions> = {}): IntuneValidator {
  return new IntuneValidator({
    ...fakeIntuneConnection(fake),
    provider: PROVIDER,
    timeoutMs: 30_000, // generous: a test of the deadline sets its own
    retries: 1,
    now: () => new Date(clock.t),
    onError: (e) => void errors.push(e),
    ...options,
  });
}
const input = () => ({ challenge: csr.challengePassword, csr, request: { transactionId: TXID } });

/** Turns of the event loop (I/O included) until `done()` holds: waits on the loopback exchange, not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}
const form = (r: Recorded): Record<string, string> => Object.fromEntries(new URLSearchParams(r.body));

describe("validateRequest: the exact exchange", () => {
  it("gets a Graph token and an Intune token, discovers the endpoint, and POSTs the CSR with the documented headers and body", async () => {
    const v = validator();
    expect(await v.validate(input())).toEqual({ ok: true, data: { intune: { activityId: expect.stringMatching(UUID) } } });

    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /${TENANT}/oauth2/v2.0/token`,
      "GET /v1.0/servicePrincipals/appId=0000000a-0000-0000-c000-000000000000/endpoints",
      `POST /${TENANT}/oauth2/v2.0/token`,
      `POST ${SERVICE_PATH}/ScepActions/validateRequest`,
    ]);
    const [graphToken, discovery, intuneToken, call] = fake.requests as [Recorded, Recorded, Recorded, Recorded];

    expect(graphToken.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(form(graphToken)).toEqual({ client_id: CLIENT_ID, scope: `${fake.base}/.default`, grant_type: "client_credentials", client_secret: CLIENT_SECRET });
    expect(form(intuneToken)).toEqual({ client_id: CLIENT_ID, scope: INTUNE_SCOPE, grant_type: "client_credentials", client_secret: CLIENT_SECRET });

    expect(discovery.headers["authorization"]).toBe(`Bearer ${fake.issued[0]!.token}`);
    expect(fake.issued[0]!.token).toMatch(/-graph$/);
    expect(discovery.headers["client-request-id"]).toMatch(UUID);

    expect(call.headers["authorization"]).toBe(`Bearer ${fake.issued[1]!.token}`);
    expect(fake.issued[1]).toEqual({ scope: INTUNE_SCOPE, token: expect.stringMatching(/-intune$/) });
    expect(call.headers["content-type"]).toBe("application/json");
    expect(call.headers["api-version"]).toBe("2018-02-20");
    expect(call.headers["client-request-id"]).toMatch(UUID);
    expect(call.headers["useragent"]).toBe(PROVIDER);
    expect(call.headers["user-agent"]).toBe(PROVIDER);
    expect(JSON.parse(call.body)).toEqual({ request: { transactionId: TXID, certificateRequest: Buffer.from(csr.der).toString("base64"), callerInfo: PROVIDER } });
    expect(Object.keys(JSON.parse(call.body).request)).toEqual(["transactionId", "certificateRequest", "callerInfo"]);
  });

  it("each call has its own client-request-id", async () => {
    const v = validator();
    await v.validate(input());
    await v.validate(input());
    const ids = fake.of("validateRequest").map((r) => r.headers["client-request-id"]);
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("no secret in any header or URL: the client secret only travels in the token request's form body", async () => {
    await validator().validate(input());
    for (const r of fake.requests) {
      expect(r.path).not.toContain(CLIENT_SECRET);
      expect(JSON.stringify(r.headers)).not.toContain(CLIENT_SECRET);
      if (!r.path.endsWith("/token")) expect(r.body).not.toContain(CLIENT_SECRET);
    }
  });
});

describe("caches: tokens until shortly before expiry, the endpoint until a call fails", () => {
  it("a second validation reuses both tokens and the endpoint", async () => {
    const v = validator();
    await v.validate(input());
    await v.validate(input());
    expect(fake.of("token")).toHaveLength(2);
    expect(fake.of("discovery")).toHaveLength(1);
    expect(fake.of("validateRequest")).toHaveLength(2);
  });

  it("the Intune token is renewed 5 min before it expires (expires_in 3599 s), by the injected clock", async () => {
    const v = validator();
    await v.validate(input());
    clock.t += (3599 - 300) * 1000 - 1;
    await v.validate(input());
    expect(fake.of("token")).toHaveLength(2);
    clock.t += 1;
    await v.validate(input());
    expect(fake.of("token").map((r) => form(r).scope)).toEqual([`${fake.base}/.default`, INTUNE_SCOPE, INTUNE_SCOPE]);
    expect(fake.of("validateRequest").at(-1)!.headers["authorization"]).toBe(`Bearer ${fake.issued[2]!.token}`);
  });

  it("concurrent validations share one token request per scope and one discovery", async () => {
    const v = validator();
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => v.validate(input())));
    expect(verdicts.every((x) => x.ok)).toBe(true);
    expect(fake.of("token")).toHaveLength(2);
    expect(fake.of("discovery")).toHaveLength(1);
  });

  it("a 404 from the endpoint drops it and rediscovers once, then succeeds at the new location", async () => {
    const v = validator();
    await v.validate(input());
    fake.next("validateRequest", { json: { error: "gone" }, status: 404 });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(fake.of("discovery")).toHaveLength(2);
    expect(fake.of("validateRequest")).toHaveLength(3);
  });

  it("a dropped connection drops the endpoint: the retry rediscovers", async () => {
    const v = validator();
    await v.validate(input());
    fake.next("validateRequest", { destroy: true });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(fake.of("discovery")).toHaveLength(2);
  });

  it("a 401 from Intune drops the Intune token once and retries with a new one", async () => {
    const v = validator({ retries: 0 });
    await v.validate(input());
    fake.next("validateRequest", { json: { error: "token expired" }, status: 401 });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(fake.of("token").map((r) => form(r).scope)).toEqual([`${fake.base}/.default`, INTUNE_SCOPE, INTUNE_SCOPE]);
  });
});

describe("every Intune code maps to a reason label and failInfo; only Success accepts", () => {
  it("maps the documented codes", () => {
    expect(Object.keys(INTUNE_FAIL_INFO)).toHaveLength(24);
    expect(INTUNE_FAIL_INFO).toMatchObject({ ChallengeExpired: "badTime", ChallengeInvalidTimestamp: "badTime", SignatureValidationFailed: "badMessageCheck", ChallengeDecryptionError: "badMessageCheck", SubjectNameMismatch: "badRequest", Unknown: "badRequest" });
  });

  for (const [code, failInfo] of Object.entries(INTUNE_FAIL_INFO)) {
    it(`HTTP 200 with code ${code} → refused: reason ${code}, ${failInfo}`, async () => {
      const v = validator();
      fake.next("validateRequest", { json: { code, errorDescription: `details of ${code}` } });
      expect(await v.validate(input())).toEqual({ ok: false, reason: code, failInfo, failInfoText: `Intune refused the challenge: ${code}` });
      expect(fake.of("validateRequest")).toHaveLength(1); // a refusal is an answer: never retried
    });
  }

  it.each([
    ["an undocumented code", { code: "SomethingNew", errorDescription: "" }],
    ["a lower-case success", { code: "success", errorDescription: "" }],
    ["Success with trailing space", { code: "Success ", errorDescription: "" }],
  ])("HTTP 200 with %s → intune_unknown_code, badRequest", async (_n, json) => {
    const v = validator();
    fake.next("validateRequest", { json });
    expect(await v.validate(input())).toEqual({ ok: false, reason: "intune_unknown_code", failInfo: "badRequest", failInfoText: "Intune refused the challenge" });
  });
});

describe("an API that is slow, down, refuses us or answers garbage → intune_unavailable (never a throw)", () => {
  const unavailable = { ok: false, reason: "intune_unavailable", failInfo: "badRequest", failInfoText: "Intune challenge validation is unavailable; try again later" };

  it.each([
    ["HTTP 200 with {} (no code)", [{ json: {} }, { json: {} }], "ERR_INTUNE_RESPONSE"],
    ["HTTP 200 with a code that is not a string", [{ json: { code: 0 } }, { json: { code: 0 } }], "ERR_INTUNE_RESPONSE"],
    ["HTTP 200 with HTML", [{ raw: "<html>maintenance</html>", contentType: "text/html" }, { raw: "<html>", contentType: "text/html" }], "ERR_INTUNE_RESPONSE"],
    ["HTTP 200 with a JSON array", [{ json: [] }, { json: [] }], "ERR_INTUNE_RESPONSE"],
    ["HTTP 500 twice (one retry)", [{ json: {}, status: 500 }, { json: {}, status: 500 }], "ERR_INTUNE_TRANSPORT"],
    ["HTTP 429 twice", [{ json: {}, status: 429 }, { json: {}, status: 429 }], "ERR_INTUNE_TRANSPORT"],
    ["HTTP 400", [{ json: { code: "Success" }, status: 400 }], "ERR_INTUNE_TRANSPORT"],
    ["HTTP 403 (permission scep_challenge_provider missing)", [{ json: {}, status: 403 }], "ERR_INTUNE_TRANSPORT"],
  ] as const)("%s", async (_n, answers, code) => {
    const v = validator();
    fake.next("validateRequest", ...answers);
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors.map((e) => e.code)).toEqual([code]);
  });

  it("a 5xx then Success: the retry issues", async () => {
    const v = validator();
    fake.next("validateRequest", { json: {}, status: 503 });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(fake.of("validateRequest")).toHaveLength(2);
  });

  it("an HTTP 400 with code Success in the body is not accepted (the status decides first)", async () => {
    const v = validator();
    fake.next("validateRequest", { json: { code: "Success" }, status: 400 });
    expect(await v.validate(input())).toEqual(unavailable);
  });

  it("no answer within timeoutMs → ERR_INTUNE_TIMEOUT, retried once, then intune_unavailable", async () => {
    // The 300 ms deadline runs on a fake clock, moved once Intune has the request: the token and discovery calls
    // before it (real loopback exchanges) cannot run into it on a loaded machine.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const v = validator({ timeoutMs: 300 });
      fake.next("validateRequest", { hang: true }, { hang: true });
      const verdict = v.validate(input());
      await until(() => fake.of("validateRequest").length === 1);
      await vi.advanceTimersByTimeAsync(299);
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      expect(fake.of("validateRequest")).toHaveLength(1); // no retry before the deadline
      await vi.advanceTimersByTimeAsync(1);
      await until(() => fake.of("validateRequest").length === 2);
      await vi.advanceTimersByTimeAsync(300);
      expect(await verdict).toEqual(unavailable);
    } finally {
      vi.useRealTimers();
    }
    expect(errors.map((e) => [e.code, e.message])).toEqual([["ERR_INTUNE_TIMEOUT", "Intune validateRequest: no answer within 300 ms"]]);
    expect(fake.of("validateRequest")).toHaveLength(2);
  });

  it("a body read the fetch's own abort does not end (nodejs/undici#4089) is still cut at timeoutMs: ERR_INTUNE_TIMEOUT, intune_unavailable", async () => {
    // The fake sends headers at once and then a space every 20 ms, forever. The injected fetch is the global one
    // without the signal: its body read never rejects on the abort, as undici 6 (Node 20) sometimes leaves a read
    // already waiting. Real timers; the 3 s bound only guards against a hang.
    const v = validator({ timeoutMs: 300, retries: 0, fetch: (url, { signal: _ignored, ...init }) => fetch(url, init) });
    expect(await v.validate(input())).toMatchObject({ ok: true }); // tokens and endpoint cached: the deadline below is the call's
    fake.next("validateRequest", { trickleMs: 20 });
    let guard: NodeJS.Timeout | undefined;
    const stuck = new Promise<"stuck">((r) => (guard = setTimeout(() => r("stuck"), 3_000)));
    try {
      expect(await Promise.race([v.validate(input()), stuck])).toEqual(unavailable);
    } finally {
      clearTimeout(guard);
    }
    expect(errors.map((e) => [e.code, e.message])).toEqual([["ERR_INTUNE_TIMEOUT", "Intune validateRequest: the answer did not complete within 300 ms"]]);
  });

  it("input.signal ends a validation Intune does not answer: intune_unavailable at the abort, no retry, a caller's own abort not reported", async () => {
    const v = validator({ timeoutMs: 60_000 }); // Intune's own deadline far away: only the signal can end this
    fake.next("validateRequest", { hang: true }, { hang: true });
    const controller = new AbortController();
    const verdict = v.validate({ ...input(), signal: controller.signal });
    await until(() => fake.of("validateRequest").length === 1);
    controller.abort(new Error("the SCEP client went away"));
    expect(await verdict).toEqual(unavailable);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(fake.of("validateRequest")).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it("input.signal with a TimeoutError reason (AbortSignal.timeout) is reported as ERR_INTUNE_TIMEOUT; an aborted signal asks nothing", async () => {
    const v = validator({ timeoutMs: 60_000 });
    fake.next("validateRequest", { hang: true });
    const controller = new AbortController();
    const verdict = v.validate({ ...input(), signal: controller.signal });
    await until(() => fake.of("validateRequest").length === 1);
    controller.abort(new DOMException("the server's deadline", "TimeoutError"));
    expect(await verdict).toEqual(unavailable);
    expect(errors.map((e) => e.code)).toEqual(["ERR_INTUNE_TIMEOUT"]);
    expect(await v.validate({ ...input(), signal: controller.signal })).toEqual(unavailable);
    expect(fake.of("validateRequest")).toHaveLength(1);
  });

  it("input.signal aborted as Intune's Success arrives: intune_unavailable, and nothing spent in the stores (the caller would never release it)", async () => {
    const controller = new AbortController();
    const real = new IntuneScepClient({ ...fakeIntuneConnection(fake) });
    const client = Object.assign(Object.create(real) as IntuneScepClient, {
      validateRequest: async (...args: Parameters<IntuneScepClient["validateRequest"]>) => {
        const r = await real.validateRequest(...args);
        controller.abort(new Error("the SCEP client went away"));
        return r;
      },
    });
    const replayCache = new MemoryReplayCache();
    const v = validator({ client, replayCache });
    expect(await v.validate({ ...input(), signal: controller.signal })).toEqual(unavailable);
    expect(await replayCache.checkAndInsert(TXID, 60_000)).toBe(true); // the transactionID was not recorded
  });

  it("a response over 1 MiB is refused without reading it all", async () => {
    const v = validator({ retries: 0 });
    fake.next("validateRequest", { raw: `{"code":"Success","errorDescription":"${"x".repeat(1_100_000)}"}` });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]).toMatchObject({ code: "ERR_INTUNE_RESPONSE", message: "Intune validateRequest: the response is larger than 1048576 bytes" });
  });

  it("Entra ID refuses the credentials (invalid_client) → ERR_INTUNE_AUTH, Intune is never called, the secret is in no message", async () => {
    const v = validator();
    fake.next("token", { status: 401, json: { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." } });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]).toMatchObject({ name: "IntuneAuthError", code: "ERR_INTUNE_AUTH", message: `Entra ID refused the token request for ${fake.base}/.default: invalid_client` });
    expect(fake.of("token")).toHaveLength(1); // a 4xx is not retried
    expect(fake.of("validateRequest")).toHaveLength(0);
    expect(JSON.stringify(errors.map((e) => [e.message, String(e.cause)]))).not.toContain(CLIENT_SECRET);
  });

  it("a token answer without access_token → ERR_INTUNE_RESPONSE", async () => {
    const v = validator({ retries: 0 });
    fake.next("token", { json: { token_type: "Bearer" } });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]!.code).toBe("ERR_INTUNE_RESPONSE");
  });

  // Found by `pnpm stress:fuzz-parsers` (seeded run of 2026-12-03): `Number()` of an object whose `toString` is not a
  // function threw a TypeError out of the validator instead of its typed error.
  it.each([
    ["an object whose toString is not a function", { toString: { v: false } }],
    ["an array", [3599]],
    ["a string that is not a count of seconds", "3599 s"],
    ["zero", 0],
    ["a boolean", true],
  ])("a token answer whose expires_in is %s → ERR_INTUNE_RESPONSE, no TypeError", async (_n, expiresIn) => {
    const v = validator({ retries: 0 });
    fake.next("token", { json: { token_type: "Bearer", expires_in: expiresIn, access_token: "t" } });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]).toMatchObject({ code: "ERR_INTUNE_RESPONSE", message: "Entra ID token endpoint: the answer has no access_token and expires_in" });
  });

  it('expires_in as a string of digits (Entra ID v1: "3599") is read as seconds', async () => {
    const v = validator();
    fake.next("token", { json: { token_type: "Bearer", expires_in: "3599", access_token: "t-v1" } });
    expect((await v.validate(input())).ok).toBe(true);
    clock.t += (3599 - 300) * 1000 - 1;
    await v.validate(input());
    expect(fake.of("token")).toHaveLength(2); // the string's lifetime held: no renewal yet
  });

  it("Graph does not list ScepRequestValidationFEService → ERR_INTUNE_DISCOVERY", async () => {
    fake.endpoints = fake.endpoints.filter((e) => e.providerName !== "ScepRequestValidationFEService");
    const v = validator();
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]).toMatchObject({ code: "ERR_INTUNE_DISCOVERY" });
    expect(fake.of("validateRequest")).toHaveLength(0);
  });

  it("a discovery answer without ScepRequestValidationFEService is not cached: the next validation asks Graph again and succeeds", async () => {
    const v = validator({ retries: 0 });
    fake.next("discovery", { json: { value: [] } });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors.map((e) => e.code)).toEqual(["ERR_INTUNE_DISCOVERY"]);
    const later = [await v.validate(input()), await v.validate(input())];
    expect(later.map((r) => r.ok)).toEqual([true, true]);
    expect(fake.of("discovery")).toHaveLength(2); // the complete list, once found, is cached again
    expect(fake.of("validateRequest")).toHaveLength(2);
  });

  it("Graph keeps leaving ScepRequestValidationFEService out: asked again at once, then held 1 s, 2 s, … (by the clock) instead of once per enrollment", async () => {
    const v = validator({ retries: 0 });
    const listed = fake.endpoints;
    fake.endpoints = listed.filter((e) => e.providerName !== "ScepRequestValidationFEService");
    const attempt = async (): Promise<void> => void expect(await v.validate(input())).toEqual(unavailable);
    await attempt();
    await attempt(); // a partial answer is asked again at once
    expect(fake.of("discovery")).toHaveLength(2);
    for (let i = 0; i < 20; i++) await attempt(); // a flood of enrollments: held, Graph is not asked
    expect(fake.of("discovery")).toHaveLength(2);
    expect(errors.every((e) => e.code === "ERR_INTUNE_DISCOVERY")).toBe(true);
    expect(errors.at(-1)!.message).toBe("Graph listed no endpoint for ScepRequestValidationFEService in its last 2 answers; asked again in 1 s (is the tenant licensed for Intune, and Application.Read.All consented?)");
    clock.t += 999;
    await attempt();
    expect(fake.of("discovery")).toHaveLength(2);
    clock.t += 1; // the 1 s hold is over: asked again, left out again, now held 2 s
    await attempt();
    expect(fake.of("discovery")).toHaveLength(3);
    clock.t += 1_999;
    await attempt();
    expect(fake.of("discovery")).toHaveLength(3);
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => v.validate(input()))); // still held
    expect(concurrent.every((r) => !r.ok)).toBe(true);
    expect(fake.of("discovery")).toHaveLength(3);
    fake.endpoints = listed; // the tenant is licensed now
    clock.t += 1;
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(fake.of("discovery")).toHaveLength(4);
    expect(await v.validate(input())).toMatchObject({ ok: true }); // the complete list is cached again
    expect(fake.of("discovery")).toHaveLength(4);
  });

  it("the hold of a left-out service counts each Graph answer once, however many lookups shared it; a clock gone backwards ends it", async () => {
    const v = validator({ retries: 0 });
    fake.endpoints = [];
    await Promise.all(Array.from({ length: 5 }, () => v.validate(input()))); // one shared discovery: one miss, no hold
    expect(fake.of("discovery")).toHaveLength(1);
    await v.validate(input()); // asked again at once: second miss, held 1 s
    expect(fake.of("discovery")).toHaveLength(2);
    clock.t -= 86_400_000; // the clock jumps back a day: the hold does not stretch to a day
    await v.validate(input());
    expect(fake.of("discovery")).toHaveLength(3);
  });

  it("discovery ignores endpoints that are not URLs; a provider name in other case still matches", async () => {
    fake.endpoints = [{ providerName: "ScepRequestValidationFEService", uri: "not a url" }, { providerName: "screquestvalidationfeservice", uri: "x" }, { providerName: "SCEPREQUESTVALIDATIONFESERVICE", uri: `${fake.base}${SERVICE_PATH}` }];
    expect(await validator().validate(input())).toMatchObject({ ok: true });
  });

  it("discovery ignores an endpoint URI with userinfo (it would go out as Basic auth beside the bearer token) → ERR_INTUNE_DISCOVERY", async () => {
    fake.endpoints = [{ providerName: "ScepRequestValidationFEService", uri: `${fake.base.replace("://", "://svc:pw@")}${SERVICE_PATH}` }];
    const v = validator();
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]).toMatchObject({ code: "ERR_INTUNE_DISCOVERY" });
    expect(fake.of("validateRequest")).toHaveLength(0);
  });

  it("nothing listening at all (connection refused) → intune_unavailable", async () => {
    await fake.close();
    const v = validator({ loginBaseUrl: fake.base });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(errors[0]).toMatchObject({ code: "ERR_INTUNE_TRANSPORT" });
  });

  it("the validator recovers by itself once the API is back", async () => {
    const v = validator({ retries: 0 });
    fake.next("validateRequest", { json: {}, status: 503 });
    expect(await v.validate(input())).toEqual(unavailable);
    expect(await v.validate(input())).toMatchObject({ ok: true });
  });
});

describe("successNotification and failureNotification: exact bodies", () => {
  let issued: Certificate;
  beforeAll(async () => {
    const keys = await generateRsaKeyPair(2048);
    issued = (await createSelfSignedSigner({ keys, subject: "CN=device-0001.corp.example.test, O=Contoso", now: new Date("2026-03-01T12:00:00Z"), days: 365 })).certificate;
  });

  it("successNotification names the certificate's SHA-1 thumbprint, serial, expiry and issuer", async () => {
    const v = validator();
    const r = await v.notifySuccess({ transactionId: TXID, csr: csr.der, certificate: issued, caConfiguration: "ca01.contoso.test\\Contoso Issuing CA", certificateAuthority: "Contoso Issuing CA" });
    expect(r).toMatchObject({ code: "Success" });
    const call = fake.of("successNotification")[0]!;
    expect(call.path).toBe(`${SERVICE_PATH}/ScepActions/successNotification`);
    expect(call.headers["api-version"]).toBe("2018-02-20");
    expect(call.headers["client-request-id"]).toMatch(UUID);
    const x = new X509Certificate(issued.der);
    expect(JSON.parse(call.body)).toEqual({
      notification: {
        transactionId: TXID,
        certificateRequest: Buffer.from(csr.der).toString("base64"),
        certificateThumbprint: createHash("sha1").update(issued.der).digest("hex").toUpperCase(),
        certificateSerialNumber: x.serialNumber.toUpperCase(), // whole octets, as Node and serialNumberHex print them: 0A1B…, not A1B…
        certificateExpirationDateUtc: new Date(x.validTo).toISOString(),
        issuingCertificateAuthority: "CN=device-0001.corp.example.test, O=Contoso",
        callerInfo: PROVIDER,
        caConfiguration: "ca01.contoso.test\\Contoso Issuing CA",
        certificateAuthority: "Contoso Issuing CA",
      },
    });
    expect(JSON.parse(call.body).notification.certificateExpirationDateUtc).toBe("2027-03-01T12:00:00.000Z");
  });

  it("successNotification answered with another code → throws ERR_INTUNE_REJECTED with Intune's code", async () => {
    const v = validator();
    fake.next("successNotification", { json: { code: "Unknown", errorDescription: "transaction not found" } });
    await expect(v.notifySuccess({ transactionId: TXID, csr: csr.der, certificate: issued })).rejects.toMatchObject({
      name: "IntuneRejectedError",
      code: "ERR_INTUNE_REJECTED",
      intuneCode: "Unknown",
      errorDescription: "transaction not found",
      message: "Intune answered successNotification with Unknown",
    });
  });

  it("successNotification that cannot be delivered throws a transport error (the certificate must not be delivered)", async () => {
    const v = validator({ retries: 0 });
    fake.next("successNotification", { json: {}, status: 502 });
    await expect(v.notifySuccess({ transactionId: TXID, csr: csr.der, certificate: issued.der })).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 502 });
  });

  it("failureNotification carries hResult as a number and errorDescription cut to 255 characters", async () => {
    const v = validator();
    await v.notifyFailure({ transactionId: TXID, csr: csr.der, errorDescription: "é".repeat(300) });
    const body = JSON.parse(fake.of("failureNotification")[0]!.body);
    expect(body).toEqual({ notification: { transactionId: TXID, certificateRequest: Buffer.from(csr.der).toString("base64"), hResult: 2147500037, errorDescription: "é".repeat(255), callerInfo: PROVIDER } });
    expect(Object.keys(body.notification)).toEqual(["transactionId", "certificateRequest", "hResult", "errorDescription", "callerInfo"]);
  });

  it("failureNotification answered with another code → ERR_INTUNE_REJECTED", async () => {
    const v = validator();
    fake.next("failureNotification", { json: { code: "Unknown", errorDescription: "" } });
    await expect(v.notifyFailure({ transactionId: TXID, csr: csr.der, errorDescription: "CA offline", hResult: 0x80070005 })).rejects.toMatchObject({ code: "ERR_INTUNE_REJECTED", intuneCode: "Unknown" });
    expect(JSON.parse(fake.of("failureNotification")[0]!.body).notification.hResult).toBe(0x80070005);
  });
});

describe("confirmHook and withFailureNotification: the notifications that close an enrollment", () => {
  let issued: Certificate;
  beforeAll(async () => {
    const keys = await generateRsaKeyPair(2048);
    issued = (await createSelfSignedSigner({ keys, subject: "CN=device-0001.corp.example.test", now: new Date("2026-03-01T12:00:00Z") })).certificate;
  });
  const intuneData = { intune: { activityId: "a" } };
  const confirmCtx = (challengeData: unknown = intuneData) => ({ transactionId: TXID, csr, certificate: issued, challengeData });

  it("confirm: successNotification sent, ok → the certificate is delivered", async () => {
    const v = validator();
    expect(await v.confirmHook({ certificateAuthority: "Contoso CA" })(confirmCtx())).toEqual({ ok: true });
    const n = JSON.parse(fake.of("successNotification")[0]!.body).notification;
    expect(n).toMatchObject({ transactionId: TXID, certificateThumbprint: createHash("sha1").update(issued.der).digest("hex").toUpperCase(), certificateAuthority: "Contoso CA" });
  });

  it.each([
    ["a non-Success code", { json: { code: "Unknown", errorDescription: "" } }, "ERR_INTUNE_REJECTED"],
    ["HTTP 500 twice", { json: {}, status: 500 }, "ERR_INTUNE_TRANSPORT"],
    ["garbage", { raw: "<html>" }, "ERR_INTUNE_RESPONSE"],
  ] as const)("confirm: successNotification answered with %s → veto intune_notification_failed (FAILURE, onUndelivered), reported to onError", async (_n, answer, code) => {
    const v = validator();
    fake.next("successNotification", answer, answer);
    expect(await v.confirmHook()(confirmCtx())).toEqual({ ok: false, reason: "intune_notification_failed", failInfoText: "Intune did not acknowledge the issued certificate" });
    expect(errors.map((e) => e.code)).toEqual([code]);
  });

  it("an async onError that rejects: the veto stands and nothing is left an unhandled rejection (which would end the process)", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const v = validator({ onError: async (e) => Promise.reject(new Error(`sink failed on ${e.code}`)) });
      fake.next("successNotification", { json: { code: "Unknown", errorDescription: "" } });
      expect(await v.confirmHook()(confirmCtx())).toMatchObject({ ok: false, reason: "intune_notification_failed" });
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it("confirm with deliverWhenNotificationFails: the notification is sent, its failure only reported", async () => {
    const v = validator();
    fake.next("successNotification", { json: { code: "Unknown", errorDescription: "" } });
    expect(await v.confirmHook({ deliverWhenNotificationFails: true })(confirmCtx())).toEqual({ ok: true });
    expect(fake.of("successNotification")).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual(["ERR_INTUNE_REJECTED"]);
  });

  it("confirm: an enrollment this validator did not accept (no Intune challengeData) is passed without a call", async () => {
    const v = validator();
    expect(await v.confirmHook()({ transactionId: TXID, csr, certificate: issued })).toEqual({ ok: true });
    expect(await v.confirmHook()(confirmCtx({ claims: {} }))).toEqual({ ok: true });
    expect(fake.requests).toHaveLength(0);
  });

  it("withFailureNotification: a FAILURE answer of the issue hook sends failureNotification with its text, and is passed on", async () => {
    const v = validator();
    const issue = v.withFailureNotification(async () => ({ status: "FAILURE" as const, failInfo: "badRequest" as const, failInfoText: "key too short for this template" }));
    expect(await issue({ transactionId: TXID, csr, challengeData: intuneData })).toEqual({ status: "FAILURE", failInfo: "badRequest", failInfoText: "key too short for this template" });
    expect(JSON.parse(fake.of("failureNotification")[0]!.body).notification).toMatchObject({ transactionId: TXID, hResult: 0x80004005, errorDescription: "key too short for this template" });
  });

  it("withFailureNotification: a throwing issue hook sends failureNotification naming the error class only, and rethrows the same error", async () => {
    const v = validator();
    const boom = new TypeError("connection to ca01.internal:8443 refused (secret-ish detail)");
    const issue = v.withFailureNotification(async () => {
      throw boom;
    });
    await expect(issue({ transactionId: TXID, csr, challengeData: intuneData })).rejects.toBe(boom);
    expect(JSON.parse(fake.of("failureNotification")[0]!.body).notification.errorDescription).toBe("issuance failed: TypeError");
  });

  it("withFailureNotification: SUCCESS, PENDING and enrollments not validated by Intune send nothing; a failing notification does not change the answer", async () => {
    const v = validator({ retries: 0 });
    const ok = v.withFailureNotification(async () => ({ status: "SUCCESS" as const, certificate: issued }));
    expect((await ok({ transactionId: TXID, csr, challengeData: intuneData })).status).toBe("SUCCESS");
    const pending = v.withFailureNotification(async () => ({ status: "PENDING" as const }));
    expect(await pending({ transactionId: TXID, csr, challengeData: intuneData })).toEqual({ status: "PENDING" });
    const refused = v.withFailureNotification(async () => ({ status: "FAILURE" as const }));
    expect(await refused({ transactionId: TXID, csr })).toEqual({ status: "FAILURE" });
    expect(fake.of("failureNotification")).toHaveLength(0);
    fake.next("failureNotification", { json: {}, status: 503 });
    expect(await refused({ transactionId: TXID, csr, challengeData: intuneData })).toEqual({ status: "FAILURE" });
    expect(JSON.parse(fake.of("failureNotification")[0]!.body).notification.errorDescription).toBe("the CA refused the request");
    expect(errors.map((e) => e.code)).toEqual(["ERR_INTUNE_TRANSPORT"]);
  });
});

describe("certificate credential: a client assertion (RFC 7523) instead of a secret", () => {
  it("signs an RS256 assertion naming the certificate (x5t) with aud = the token endpoint, iss = sub = client ID", async () => {
    const keys = await generateRsaKeyPair(2048);
    const cert = (await createSelfSignedSigner({ keys, subject: "CN=scep-intune-app" })).certificate;
    const v = validator({ credential: { certificate: cert.toPem(), privateKey: await exportPrivateKeyPem(keys.privateKey) } });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    const f = form(fake.of("token")[0]!);
    expect(f).toEqual({ client_id: CLIENT_ID, scope: `${fake.base}/.default`, grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: expect.any(String) });
    const [h, p, s] = f.client_assertion!.split(".") as [string, string, string];
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    expect(header).toEqual({ alg: "RS256", typ: "JWT", x5t: createHash("sha1").update(cert.der).digest("base64url"), "x5t#S256": createHash("sha256").update(cert.der).digest("base64url") });
    const now = Math.floor(clock.t / 1000);
    expect(payload).toEqual({ aud: `${fake.base}/${TENANT}/oauth2/v2.0/token`, iss: CLIENT_ID, sub: CLIENT_ID, jti: expect.stringMatching(UUID), nbf: now, iat: now, exp: now + 600 });
    expect(verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey(cert.toPem()), Buffer.from(s, "base64url"))).toBe(true);
  });
});

describe("certificate credential: the certificate is read as PEM (RFC 7468), explanatory text skipped", () => {
  // What `openssl pkcs12 -nokeys` writes before the block (RFC 7468 §2 allows text outside the encapsulation boundaries).
  const BAG_ATTRIBUTES = "Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: scep-intune-app\nsubject=CN = scep-intune-app\nissuer=CN = scep-intune-app\n";
  let cert: Certificate;
  let keyPem: string;
  beforeAll(async () => {
    const keys = await generateRsaKeyPair(2048);
    cert = (await createSelfSignedSigner({ keys, subject: "CN=scep-intune-app" })).certificate;
    keyPem = await exportPrivateKeyPem(keys.privateKey);
  });

  it("a PEM with openssl's Bag Attributes before the block: x5t and x5t#S256 are the thumbprints of the certificate's DER", async () => {
    const v = validator({ credential: { certificate: `${BAG_ATTRIBUTES}${cert.toPem()}`, privateKey: keyPem } });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    const assertion = new URLSearchParams(fake.of("token")[0]!.body).get("client_assertion")!;
    const header = JSON.parse(Buffer.from(assertion.split(".")[0]!, "base64url").toString());
    expect(header).toEqual({ alg: "RS256", typ: "JWT", x5t: createHash("sha1").update(cert.der).digest("base64url"), "x5t#S256": createHash("sha256").update(cert.der).digest("base64url") });
  });

  it.each<[string, () => string | Uint8Array]>([
    ["a PEM holding no CERTIFICATE block", () => keyPem],
    ["text without any PEM block", () => "subject=CN = scep-intune-app\nMIIB"],
    ["a CERTIFICATE block whose DER is not a certificate", () => "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"],
    ["DER bytes that are not a certificate", () => new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])],
  ])("%s → ERR_INTUNE_CONFIG at construction", (_n, certificate) => {
    expect(() => new IntuneScepClient({ tenant: TENANT, clientId: CLIENT_ID, credential: { certificate: certificate(), privateKey: keyPem } })).toThrow(
      expect.objectContaining({ code: "ERR_INTUNE_CONFIG", message: "credential.certificate / credential.privateKey cannot be read" }),
    );
  });
});

describe("optional stores (INTUNE.md: Mode A keyed by the CSR's subject and transactionID)", () => {
  it("replayCache: a transactionID Intune already accepted is replay (badMessageCheck); a refused one is not recorded", async () => {
    const cache = new MemoryReplayCache({ now: () => new Date(clock.t) });
    const v = validator({ replayCache: cache });
    fake.next("validateRequest", { json: { code: "ChallengeExpired", errorDescription: "" } });
    expect(await v.validate(input())).toMatchObject({ ok: false, reason: "ChallengeExpired", failInfo: "badTime" });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(await v.validate(input())).toEqual({ ok: false, reason: "replay", failInfo: "badMessageCheck", failInfoText: "this transaction was validated before" });
    expect(await v.validate({ ...input(), request: { transactionId: "ANOTHER" } })).toMatchObject({ ok: true });
  });

  it("rateLimit: more accepted enrollments of one subject than max in the window → rate_limited; per profile", async () => {
    const v = validator({ rateLimit: { max: 2, windowMs: 86_400_000 } });
    expect((await v.validate(input())).ok).toBe(true);
    fake.next("validateRequest", { json: { code: "SubjectNameMismatch", errorDescription: "" } });
    expect(await v.validate(input())).toMatchObject({ reason: "SubjectNameMismatch" }); // refused: not counted
    expect((await v.validate(input())).ok).toBe(true);
    expect(await v.validate(input())).toEqual({ ok: false, reason: "rate_limited", failInfo: "badRequest", failInfoText: "more than 2 enrollments of this subject in 86400 s" });
    expect((await v.validate({ ...input(), profile: "other" })).ok).toBe(true);
    clock.t += 86_400_001;
    expect((await v.validate(input())).ok).toBe(true);
  });

  it("an accepted verdict's release (the server failed the request) forgets the transactionID and the rate-limit hit: the resend validates", async () => {
    const cache = new MemoryReplayCache({ now: () => new Date(clock.t) });
    const v = validator({ replayCache: cache, rateLimit: { max: 1, windowMs: 86_400_000 } });
    const first = await v.validate(input());
    expect(first).toMatchObject({ ok: true, release: expect.any(Function) });
    await (first as { release: () => Promise<unknown> }).release();
    expect(await v.validate(input())).toMatchObject({ ok: true }); // neither a replay nor over the limit of 1
    expect(await v.validate(input())).toMatchObject({ ok: false, reason: "replay" });
  });

  it("a rate_limited refusal does not spend the transactionID: the device's resend once the window has room validates, not replay", async () => {
    const cache = new MemoryReplayCache({ now: () => new Date(clock.t) });
    const v = validator({ replayCache: cache, rateLimit: { max: 1, windowMs: 60_000 } });
    expect(await v.validate({ ...input(), request: { transactionId: "FIRST" } })).toMatchObject({ ok: true });
    expect(await v.validate(input())).toMatchObject({ ok: false, reason: "rate_limited", failInfo: "badRequest" });
    clock.t += 60_001;
    expect(await v.validate(input())).toMatchObject({ ok: true });
    expect(await v.validate(input())).toMatchObject({ ok: false, reason: "replay" });
  });

  it("the rate limiter is down after the transactionID was recorded: ERR_STORE_UNAVAILABLE, and the transactionID is forgotten", async () => {
    const cache = new MemoryReplayCache({ now: () => new Date(clock.t) });
    let down = true;
    const inner = new MemoryRateLimiter({ now: () => new Date(clock.t) });
    const v = validator({
      replayCache: cache,
      rateLimit: { max: 3, windowMs: 86_400_000 },
      rateLimiter: { hit: (k, l) => (down ? Promise.reject(new Error("ECONNRESET")) : inner.hit(k, l)), release: (k, id) => inner.release(k, id) },
    });
    await expect(v.validate(input())).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the rate limiter is unavailable" });
    down = false;
    expect(await v.validate(input())).toMatchObject({ ok: true });
  });

  it("a store that is down → validate rejects with ERR_STORE_UNAVAILABLE (the server answers 503); nothing accepted", async () => {
    const v = validator({ replayCache: { checkAndInsert: () => Promise.reject(new Error("ECONNRESET")) } });
    await expect(v.validate(input())).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the replay cache is unavailable" });
  });
});

describe("configuration errors are ERR_INTUNE_CONFIG", () => {
  it.each([
    ["no tenant", { tenant: "" }],
    ["a tenant with a slash", { tenant: "a/b" }],
    ["no client ID", { clientId: "" }],
    ["an empty secret", { credential: { clientSecret: "" } }],
    ["no credential kind", { credential: {} as never }],
    ["a certificate credential with a bad key", { credential: { certificate: "x", privateKey: "not a key" } }],
    ["timeoutMs 0", { timeoutMs: 0 }],
    ["retries 9", { retries: 9 }],
  ] as const)("%s", (_n, bad) => {
    expect(() => new IntuneScepClient({ tenant: TENANT, clientId: CLIENT_ID, credential: { clientSecret: CLIENT_SECRET }, ...bad } as never)).toThrow(expect.objectContaining({ code: "ERR_INTUNE_CONFIG" }));
  });
});

afterAll(() => undefined);
