/**
 * INTUNE.md "Optional, beyond most servers: revocation sync", against the
 * loopback Entra ID / Graph / Intune of test/support/fake-intune.ts:
 * PkiConnectorFEService discovered next to the SCEP service,
 * CertificateAuthorityRequests/downloadRevocationRequests and
 * uploadRevocationResults with their exact paths, headers (api-version
 * 5019-05-05) and bodies; every result code of Microsoft's
 * CARequestErrorCode (github.com/microsoft/Intune-Resource-Access,
 * src/CsrValidation); garbage, HTTP errors and timeouts as typed errors; and
 * syncIntuneRevocations against a real MemoryRevocationStore.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryRevocationStore, StoreUnavailableError, createSelfSignedSigner, generateRsaKeyPair, type Certificate, type RevocationStore } from "@scep/core";
import {
  INTUNE_REVOCATION_CODES,
  IntuneRevocationClient,
  isRetryableRevocationCode,
  revocationStoreRevoker,
  syncIntuneRevocations,
  type IntuneRevocationClientOptions,
  type IntuneRevocationRequest,
  type IntuneRevoke,
} from "../src/index.js";
import { CLIENT_SECRET, PKI_SERVICE_PATH, TENANT, startFakeIntune, fakeIntuneConnection, type FakeIntune, type FakeRevocationRequest, type Recorded } from "./support/fake-intune.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PROVIDER = "contoso-scep/2.1";
const INTUNE_SCOPE = "https://api.manage.microsoft.com//.default";
const DOWNLOAD = `${PKI_SERVICE_PATH}/CertificateAuthorityRequests/downloadRevocationRequests`;
const UPLOAD = `${PKI_SERVICE_PATH}/CertificateAuthorityRequests/uploadRevocationResults`;
const ISSUER = "CN=Contoso Issuing CA, O=Contoso";

let fake: FakeIntune;
beforeEach(async () => {
  fake = await startFakeIntune();
});
afterEach(() => fake.close());

function client(options: Partial<IntuneRevocationClientOptions> = {}): IntuneRevocationClient {
  return new IntuneRevocationClient({
    ...fakeIntuneConnection(fake),
    provider: PROVIDER,
    timeoutMs: 30_000,
    retries: 1,
    now: () => new Date("2026-03-01T12:00:00Z"),
    ...options,
  });
}
const pending = (n: number, issuerName: string | null = ISSUER): FakeRevocationRequest[] =>
  Array.from({ length: n }, (_, i) => ({ requestContext: `ctx-${i + 1}`, serialNumber: (0x1000 + i).toString(16).toUpperCase(), issuerName, caConfiguration: issuerName && "ca01.contoso.test\\Contoso Issuing CA" }));
const body = (r: Recorded): unknown => JSON.parse(r.body);
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}

describe("downloadRevocationRequests: the exact exchange", () => {
  it("gets the Graph and Intune tokens, discovers PkiConnectorFEService, and POSTs the download parameters with api-version 5019-05-05", async () => {
    fake.pendingRevocations = [
      { requestContext: "ctx-a", serialNumber: "7F00AB", issuerName: ISSUER, caConfiguration: "ca01.contoso.test\\Contoso Issuing CA" },
      { requestContext: "ctx-b", serialNumber: "01", issuerName: null, caConfiguration: null },
    ];
    expect(await client().downloadRevocationRequests({ maxRequests: 10 })).toEqual([
      { requestContext: "ctx-a", serialNumber: "7F00AB", issuerName: ISSUER, caConfiguration: "ca01.contoso.test\\Contoso Issuing CA" },
      { requestContext: "ctx-b", serialNumber: "01" },
    ]);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /${TENANT}/oauth2/v2.0/token`,
      "GET /v1.0/servicePrincipals/appId=0000000a-0000-0000-c000-000000000000/endpoints",
      `POST /${TENANT}/oauth2/v2.0/token`,
      `POST ${DOWNLOAD}`,
    ]);
    const [graphToken, , intuneToken, call] = fake.requests as [Recorded, Recorded, Recorded, Recorded];
    expect(new URLSearchParams(graphToken.body).get("scope")).toBe(`${fake.base}/.default`);
    expect(new URLSearchParams(intuneToken.body).get("scope")).toBe(INTUNE_SCOPE);
    expect(call.headers["authorization"]).toBe(`Bearer ${fake.issued[1]!.token}`);
    expect(fake.issued[1]!.token).toMatch(/-intune$/);
    expect(call.headers["content-type"]).toBe("application/json");
    expect(call.headers["api-version"]).toBe("5019-05-05");
    expect(call.headers["client-request-id"]).toMatch(UUID);
    expect(call.headers["useragent"]).toBe(PROVIDER);
    expect(call.headers["user-agent"]).toBe(PROVIDER);
    expect(call.body).toBe('{"downloadParameters":{"maxRequests":10,"issuerName":null}}');
  });

  it("issuerName filters the download; maxRequests 1 and 500 are the bounds", async () => {
    fake.pendingRevocations = [...pending(2), ...pending(1, "CN=Other CA")];
    const c = client();
    expect(await c.downloadRevocationRequests({ maxRequests: 500, issuerName: ISSUER })).toHaveLength(2);
    expect(await c.downloadRevocationRequests({ maxRequests: 1 })).toHaveLength(1);
    expect(fake.of("downloadRevocationRequests").map(body)).toEqual([
      { downloadParameters: { maxRequests: 500, issuerName: ISSUER } },
      { downloadParameters: { maxRequests: 1, issuerName: null } },
    ]);
  });

  it("maxRequests an object whose toString is not a function → ERR_INVALID_ARGUMENT (got an object), no TypeError", async () => {
    const maxRequests = { toString: 1 } as unknown as number;
    await expect(client().downloadRevocationRequests({ maxRequests })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "maxRequests must be an integer from 1 to 500 (got an object)" });
    expect(fake.requests).toHaveLength(0);
  });

  it.each([0, 501, -1, 1.5, Number.NaN, "10" as unknown as number])("maxRequests %s → ERR_INVALID_ARGUMENT, nothing sent", async (maxRequests) => {
    await expect(client().downloadRevocationRequests({ maxRequests })).rejects.toMatchObject({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `maxRequests must be an integer from 1 to 500 (got ${typeof maxRequests === "string" ? JSON.stringify(maxRequests) : String(maxRequests)})` });
    expect(fake.requests).toHaveLength(0);
  });

  it("an empty issuerName → ERR_INVALID_ARGUMENT", async () => {
    await expect(client().downloadRevocationRequests({ maxRequests: 5, issuerName: " " })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    expect(fake.requests).toHaveLength(0);
  });

  it("no paging: more requests pending than maxRequests → one call, maxRequests items (the reference libraries download once per round)", async () => {
    fake.pendingRevocations = pending(7);
    expect((await client().downloadRevocationRequests({ maxRequests: 5 })).map((r) => r.requestContext)).toEqual(["ctx-1", "ctx-2", "ctx-3", "ctx-4", "ctx-5"]);
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1);
  });
});

describe("uploadRevocationResults: the exact exchange", () => {
  it("POSTs every result with errorCode as a number and errorMessage null when absent; answers the client-request-id", async () => {
    const r = await client().uploadRevocationResults([
      { requestContext: "ctx-a", succeeded: true, errorCode: 0 },
      { requestContext: "ctx-b", succeeded: false, errorCode: INTUNE_REVOCATION_CODES.CertificateNotFoundError, errorMessage: "this CA issued no certificate with this serial number" },
    ]);
    const call = fake.of("uploadRevocationResults")[0]!;
    expect(call.path).toBe(UPLOAD);
    expect(call.headers["api-version"]).toBe("5019-05-05");
    expect(call.headers["content-type"]).toBe("application/json");
    expect(call.headers["authorization"]).toMatch(/^Bearer token-\d+-intune$/);
    expect(r).toEqual({ activityId: call.headers["client-request-id"] });
    expect(call.body).toBe(
      '{"results":[{"requestContext":"ctx-a","succeeded":true,"errorCode":0,"errorMessage":null},' +
        '{"requestContext":"ctx-b","succeeded":false,"errorCode":4004,"errorMessage":"this CA issued no certificate with this serial number"}]}',
    );
  });

  it.each([
    ["an empty list", []],
    ["an empty requestContext", [{ requestContext: "", succeeded: true, errorCode: 0 }]],
    ["an undocumented code", [{ requestContext: "c", succeeded: false, errorCode: 4008 }]],
    ["a code given as its name", [{ requestContext: "c", succeeded: false, errorCode: "ConflictError" }]],
    ["succeeded with a failure code", [{ requestContext: "c", succeeded: true, errorCode: 4004 }]],
    ["failed with code 0", [{ requestContext: "c", succeeded: false, errorCode: 0 }]],
    ["an errorMessage that is not a string", [{ requestContext: "c", succeeded: false, errorCode: 4004, errorMessage: 7 }]],
    // An object whose toString is not a function: the message must not coerce it (that threw a TypeError).
    ["a code that is an object whose toString is not a function", [{ requestContext: "c", succeeded: false, errorCode: { toString: 1 } }]],
  ] as const)("%s → ERR_INVALID_ARGUMENT, nothing sent", async (_n, results) => {
    await expect(client().uploadRevocationResults(results as never)).rejects.toMatchObject({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT" });
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    ["{value:false} → ERR_INTUNE_REJECTED", { json: { value: false } }, { name: "IntuneRejectedError", code: "ERR_INTUNE_REJECTED", intuneCode: "false", message: "Intune uploadRevocationResults: Intune did not record the results (value: false)" }],
    ['{value:"true"} → ERR_INTUNE_RESPONSE', { json: { value: "true" } }, { code: "ERR_INTUNE_RESPONSE", message: "Intune uploadRevocationResults: the answer has no boolean value" }],
    ["{} → ERR_INTUNE_RESPONSE", { json: {} }, { code: "ERR_INTUNE_RESPONSE" }],
    ["HTML → ERR_INTUNE_RESPONSE", { raw: "<html>busy</html>", contentType: "text/html" }, { code: "ERR_INTUNE_RESPONSE", message: "Intune uploadRevocationResults: the answer is not JSON" }],
  ] as const)("%s", async (_n, answer, error) => {
    fake.next("uploadRevocationResults", answer);
    await expect(client({ retries: 0 }).uploadRevocationResults([{ requestContext: "c", succeeded: true, errorCode: 0 }])).rejects.toMatchObject(error);
  });
});

describe("discovery of the second service, its cache and invalidation", () => {
  it("one discovery and one Intune token serve the download and the upload", async () => {
    const c = client();
    await c.downloadRevocationRequests({ maxRequests: 1 });
    await c.uploadRevocationResults([{ requestContext: "c", succeeded: true, errorCode: 0 }]);
    expect(fake.of("discovery")).toHaveLength(1);
    expect(fake.of("token")).toHaveLength(2);
  });

  it("Graph does not list PkiConnectorFEService → ERR_INTUNE_DISCOVERY, Intune is not called", async () => {
    fake.endpoints = fake.endpoints.filter((e) => e.providerName !== "PkiConnectorFEService");
    await expect(client().downloadRevocationRequests({ maxRequests: 1 })).rejects.toMatchObject({ name: "IntuneDiscoveryError", code: "ERR_INTUNE_DISCOVERY", message: expect.stringContaining("PkiConnectorFEService") });
    expect(fake.of("downloadRevocationRequests")).toHaveLength(0);
  });

  it("a discovery answer without PkiConnectorFEService is not cached: the next call asks Graph again and succeeds", async () => {
    const c = client({ retries: 0 });
    fake.next("discovery", { json: { value: fake.endpoints.filter((e) => e.providerName !== "PkiConnectorFEService") } });
    await expect(c.downloadRevocationRequests({ maxRequests: 1 })).rejects.toMatchObject({ code: "ERR_INTUNE_DISCOVERY" });
    expect(await c.downloadRevocationRequests({ maxRequests: 1 })).toEqual([]);
    await c.uploadRevocationResults([{ requestContext: "c", succeeded: true, errorCode: 0 }]);
    expect(fake.of("discovery")).toHaveLength(2);
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1);
  });

  it("the provider name matches in any case", async () => {
    fake.endpoints = [{ providerName: "pkiconnectorfeservice", uri: `${fake.base}${PKI_SERVICE_PATH}/` }];
    expect(await client().downloadRevocationRequests({ maxRequests: 1 })).toEqual([]);
    expect(fake.of("downloadRevocationRequests")[0]!.path).toBe(DOWNLOAD);
  });

  it("a 404 drops the endpoints and rediscovers once, then succeeds", async () => {
    const c = client({ retries: 0 });
    await c.downloadRevocationRequests({ maxRequests: 1 });
    fake.next("uploadRevocationResults", { json: { error: "gone" }, status: 404 });
    await c.uploadRevocationResults([{ requestContext: "c", succeeded: true, errorCode: 0 }]);
    expect(fake.of("discovery")).toHaveLength(2);
    expect(fake.of("uploadRevocationResults")).toHaveLength(2);
  });

  it("a dropped connection drops the endpoints: the retry rediscovers", async () => {
    const c = client();
    await c.downloadRevocationRequests({ maxRequests: 1 });
    fake.next("downloadRevocationRequests", { destroy: true });
    expect(await c.downloadRevocationRequests({ maxRequests: 1 })).toEqual([]);
    expect(fake.of("discovery")).toHaveLength(2);
    expect(fake.of("downloadRevocationRequests")).toHaveLength(3);
  });

  it("a 401 renews the Intune token once", async () => {
    const c = client({ retries: 0 });
    fake.next("downloadRevocationRequests", { json: {}, status: 401 });
    expect(await c.downloadRevocationRequests({ maxRequests: 1 })).toEqual([]);
    expect(fake.of("token").map((r) => new URLSearchParams(r.body).get("scope"))).toEqual([`${fake.base}/.default`, INTUNE_SCOPE, INTUNE_SCOPE]);
  });
});

describe("download answers that are garbage, HTTP errors or late → typed errors", () => {
  it.each([
    ["{} (no value)", { json: {} }, "Intune downloadRevocationRequests: the answer has no value array"],
    ["value is an object", { json: { value: {} } }, "Intune downloadRevocationRequests: the answer has no value array"],
    ["a JSON array", { json: [] }, "Intune downloadRevocationRequests: the answer has no value array"],
    ["an item that is not an object", { json: { value: ["ctx"] } }, "Intune downloadRevocationRequests: item 0 has no requestContext"],
    ["an item without requestContext", { json: { value: [{ serialNumber: "01" }] } }, "Intune downloadRevocationRequests: item 0 has no requestContext"],
    ["an empty requestContext", { json: { value: [{ requestContext: "", serialNumber: "01" }] } }, "Intune downloadRevocationRequests: item 0 has no requestContext"],
    ["an item without serialNumber", { json: { value: [{ requestContext: "a", serialNumber: "01" }, { requestContext: "b" }] } }, "Intune downloadRevocationRequests: item 1 has no serialNumber"],
    ["a numeric serialNumber", { json: { value: [{ requestContext: "a", serialNumber: 5 }] } }, "Intune downloadRevocationRequests: item 0 has no serialNumber"],
    ["an issuerName that is a number", { json: { value: [{ requestContext: "a", serialNumber: "01", issuerName: 3 }] } }, "Intune downloadRevocationRequests: item 0 has a issuerName that is not a string"],
    ["HTML", { raw: "<html>maintenance</html>", contentType: "text/html" }, "Intune downloadRevocationRequests: the answer is not JSON"],
  ] as const)("%s → ERR_INTUNE_RESPONSE", async (_n, answer, message) => {
    fake.next("downloadRevocationRequests", answer);
    await expect(client().downloadRevocationRequests({ maxRequests: 5 })).rejects.toMatchObject({ name: "IntuneResponseError", code: "ERR_INTUNE_RESPONSE", message });
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1); // garbage is not retried
  });

  it("HTTP 500 twice (one retry) → ERR_INTUNE_TRANSPORT with status 500", async () => {
    fake.next("downloadRevocationRequests", { json: {}, status: 500 }, { json: {}, status: 500 });
    await expect(client().downloadRevocationRequests({ maxRequests: 5 })).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 500, message: "Intune downloadRevocationRequests: HTTP 500" });
    expect(fake.of("downloadRevocationRequests")).toHaveLength(2);
  });

  it("HTTP 403 (the app lacks a permission) → ERR_INTUNE_TRANSPORT, not retried", async () => {
    fake.next("downloadRevocationRequests", { json: {}, status: 403 });
    await expect(client().downloadRevocationRequests({ maxRequests: 5 })).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 403 });
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1);
  });

  it("no answer within timeoutMs → ERR_INTUNE_TIMEOUT after one retry", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      fake.next("downloadRevocationRequests", { hang: true }, { hang: true });
      const p = client({ timeoutMs: 300 }).downloadRevocationRequests({ maxRequests: 5 });
      const settled = p.catch((e: unknown) => e);
      await until(() => fake.of("downloadRevocationRequests").length === 1);
      await vi.advanceTimersByTimeAsync(300);
      await until(() => fake.of("downloadRevocationRequests").length === 2);
      await vi.advanceTimersByTimeAsync(300);
      expect(await settled).toMatchObject({ name: "IntuneTimeoutError", code: "ERR_INTUNE_TIMEOUT", message: "Intune downloadRevocationRequests: no answer within 300 ms" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("INTUNE_REVOCATION_CODES: Microsoft's CARequestErrorCode, and which are retryable", () => {
  it("has every documented code with its value", () => {
    expect(INTUNE_REVOCATION_CODES).toEqual({
      None: 0,
      NonRetryableServiceException: 4000,
      DataSerializationError: 4001,
      ParameterDataInvalidError: 4002,
      CryptographyError: 4003,
      CertificateNotFoundError: 4004,
      ConflictError: 4005,
      NotSupportedError: 4006,
      PayloadTooLargeError: 4007,
      RetryableServiceException: 4100,
      ServiceUnavailableException: 4101,
      ServiceTooBusyException: 4102,
      AuthenticationException: 4103,
    });
    expect(Object.isFrozen(INTUNE_REVOCATION_CODES)).toBe(true);
  });

  it("4100–4103 are retryable; 0, 4000–4007 and undocumented numbers are not", () => {
    expect(Object.values(INTUNE_REVOCATION_CODES).filter(isRetryableRevocationCode)).toEqual([4100, 4101, 4102, 4103]);
    expect([4099, 4104, 4200, -1].map(isRetryableRevocationCode)).toEqual([false, false, false, false]);
  });
});

describe("syncIntuneRevocations: download, revoke each, upload every result in one call", () => {
  let issued: Certificate;
  beforeAll(async () => {
    const keys = await generateRsaKeyPair(2048);
    issued = (await createSelfSignedSigner({ keys, subject: ISSUER, now: new Date("2026-03-01T12:00:00Z") })).certificate;
  });

  it("a real MemoryRevocationStore: the certificate Intune names is revoked, and every outcome gets its code", async () => {
    const store = new MemoryRevocationStore({ now: () => new Date("2026-03-02T08:00:00Z") });
    await store.revoke({ serialNumber: "0bad", reason: "keyCompromise" });
    const issuedSerials = new Set([issued.serialNumberHex, "0bad"]);
    // As the successNotification reported it: upper-case hex, and the issuer as the certificate names it.
    const intuneSerial = issued.serialNumberHex.toUpperCase();
    fake.pendingRevocations = [
      { requestContext: "ctx-issued", serialNumber: intuneSerial, issuerName: issued.issuer, caConfiguration: null },
      { requestContext: "ctx-again", serialNumber: "0B:AD", issuerName: "O=Contoso,CN=contoso issuing ca", caConfiguration: null },
      { requestContext: "ctx-unknown", serialNumber: "1234", issuerName: null, caConfiguration: null },
      { requestContext: "ctx-bad-serial", serialNumber: "not-hex", issuerName: ISSUER, caConfiguration: null },
      { requestContext: "ctx-empty-serial", serialNumber: "", issuerName: ISSUER, caConfiguration: null },
    ];
    // Intune's filter compares the issuer its own way: the fake's exact-string filter would drop the second and third.
    fake.next("downloadRevocationRequests", { json: { value: fake.pendingRevocations } });
    const summary = await syncIntuneRevocations({ client: client(), issuerName: issued.issuer, revoke: revocationStoreRevoker(store, { isIssued: (s) => issuedSerials.has(s) }) });

    expect(await store.get(issued.serialNumberHex)).toEqual({ serialNumber: issued.serialNumberHex, reason: "unspecified", revokedAt: new Date("2026-03-02T08:00:00Z") });
    expect(await store.get("0bad")).toMatchObject({ reason: "keyCompromise" }); // the first revocation stands
    expect(await store.list()).toHaveLength(2);
    expect(body(fake.of("uploadRevocationResults")[0]!)).toEqual({
      results: [
        { requestContext: "ctx-issued", succeeded: true, errorCode: 0, errorMessage: null },
        { requestContext: "ctx-again", succeeded: false, errorCode: 4005, errorMessage: "the certificate was already revoked" },
        { requestContext: "ctx-unknown", succeeded: false, errorCode: 4004, errorMessage: "this CA issued no certificate with this serial number" },
        { requestContext: "ctx-bad-serial", succeeded: false, errorCode: 4002, errorMessage: "the serial number is not a valid certificate serial number" },
        { requestContext: "ctx-empty-serial", succeeded: false, errorCode: 4002, errorMessage: "the serial number is not a valid certificate serial number" },
      ],
    });
    expect(summary).toMatchObject({ downloaded: 5, succeeded: 1, failed: 4, retryable: 0, issuerMismatches: 0, uploaded: true });
    expect(summary.items.map((i) => i.outcome)).toEqual(["revoked", "already_revoked", "not_found", "invalid_serial", "invalid_serial"]);
    expect(body(fake.of("downloadRevocationRequests")[0]!)).toEqual({ downloadParameters: { maxRequests: 100, issuerName: issued.issuer } });
    expect(fake.pendingRevocations).toEqual([]); // every answer was final
  });

  it("issuer mismatch → 4004 without calling revoke; thrown, hung and unknown answers of revoke → retryable codes, and the batch goes on", async () => {
    fake.pendingRevocations = [
      { requestContext: "ctx-other-ca", serialNumber: "01", issuerName: "CN=Fabrikam CA", caConfiguration: null },
      { requestContext: "ctx-store-down", serialNumber: "02", issuerName: ISSUER, caConfiguration: null },
      { requestContext: "ctx-throws", serialNumber: "03", issuerName: ISSUER, caConfiguration: null },
      { requestContext: "ctx-throws-string", serialNumber: "04", issuerName: ISSUER, caConfiguration: null },
      { requestContext: "ctx-odd-answer", serialNumber: "05", issuerName: ISSUER, caConfiguration: null },
      { requestContext: "ctx-custom", serialNumber: "06", issuerName: ISSUER, caConfiguration: null },
      { requestContext: "ctx-ok", serialNumber: "07", issuerName: ISSUER, caConfiguration: null },
    ];
    fake.next("downloadRevocationRequests", { json: { value: fake.pendingRevocations } }); // as if Intune had not applied the issuer filter
    const asked: string[] = [];
    const revoke: IntuneRevoke = async (r) => {
      asked.push(r.requestContext);
      switch (r.serialNumber) {
        case "02":
          throw new StoreUnavailableError("the revocation store is unavailable");
        case "03":
          throw new TypeError("connect ECONNREFUSED 10.0.0.7:6379 (an internal detail)");
        case "04":
          throw "a string";
        case "05":
          return "done" as never;
        case "06":
          return { errorCode: INTUNE_REVOCATION_CODES.NotSupportedError, errorMessage: "this CA does not revoke device certificates" };
        default:
          return "revoked";
      }
    };
    const summary = await syncIntuneRevocations({ client: client(), issuerName: ISSUER, revoke });
    expect(asked).toEqual(["ctx-store-down", "ctx-throws", "ctx-throws-string", "ctx-odd-answer", "ctx-custom", "ctx-ok"]);
    expect((body(fake.of("uploadRevocationResults")[0]!) as { results: unknown[] }).results).toEqual([
      { requestContext: "ctx-other-ca", succeeded: false, errorCode: 4004, errorMessage: "the certificate was not issued by this CA" },
      { requestContext: "ctx-store-down", succeeded: false, errorCode: 4101, errorMessage: "the revocation store is unavailable" },
      { requestContext: "ctx-throws", succeeded: false, errorCode: 4100, errorMessage: "revocation failed: TypeError" },
      { requestContext: "ctx-throws-string", succeeded: false, errorCode: 4100, errorMessage: "revocation failed: string" },
      { requestContext: "ctx-odd-answer", succeeded: false, errorCode: 4100, errorMessage: "revocation failed: the CA's action answered an unknown outcome" },
      { requestContext: "ctx-custom", succeeded: false, errorCode: 4006, errorMessage: "this CA does not revoke device certificates" },
      { requestContext: "ctx-ok", succeeded: true, errorCode: 0, errorMessage: null },
    ]);
    expect(summary).toMatchObject({ downloaded: 7, succeeded: 1, failed: 2, retryable: 4, issuerMismatches: 1, uploaded: true });
    expect(summary.items.map((i) => i.outcome)).toEqual(["issuer_mismatch", "store_unavailable", "revoke_failed", "revoke_failed", "revoke_failed", "custom", "revoked"]);
    // Intune keeps the retryable ones for the next round
    expect(fake.pendingRevocations.map((r) => r.requestContext)).toEqual(["ctx-store-down", "ctx-throws", "ctx-throws-string", "ctx-odd-answer"]);
  });

  it("an issuerName that is not the name successNotification sent: every request is 4004 and counted in issuerMismatches, revoke is never called", async () => {
    fake.pendingRevocations = pending(3, ISSUER);
    fake.next("downloadRevocationRequests", { json: { value: fake.pendingRevocations } }); // Intune's own filter compares its way
    let asked = 0;
    const summary = await syncIntuneRevocations({ client: client(), issuerName: "CN=Contoso Root CA, O=Contoso", revoke: async () => (asked++, "revoked") });
    expect(asked).toBe(0);
    expect(summary).toMatchObject({ downloaded: 3, succeeded: 0, failed: 3, retryable: 0, issuerMismatches: 3, uploaded: true });
    expect((body(fake.of("uploadRevocationResults")[0]!) as { results: { errorCode: number }[] }).results.map((r) => r.errorCode)).toEqual([4004, 4004, 4004]);
  });

  it("the store comes back: the next round revokes what the last one answered 4101", async () => {
    const inner = new MemoryRevocationStore();
    let down = true;
    const store: RevocationStore = {
      revoke: (o) => (down ? Promise.reject(new StoreUnavailableError("the revocation store is unavailable")) : inner.revoke(o)),
      get: (s) => inner.get(s),
      list: () => inner.list(),
      nextCrlNumber: () => inner.nextCrlNumber(),
    };
    fake.pendingRevocations = pending(2);
    const c = client();
    const first = await syncIntuneRevocations({ client: c, revoke: revocationStoreRevoker(store) });
    expect(first).toMatchObject({ downloaded: 2, retryable: 2, uploaded: true });
    expect(first.items.map((i) => i.result.errorCode)).toEqual([4101, 4101]);
    down = false;
    const second = await syncIntuneRevocations({ client: c, revoke: revocationStoreRevoker(store, { reason: "cessationOfOperation" }) });
    expect(second).toMatchObject({ downloaded: 2, succeeded: 2, uploaded: true });
    expect((await inner.list()).map((e) => [e.serialNumber, e.reason])).toEqual([
      ["1000", "cessationOfOperation"],
      ["1001", "cessationOfOperation"],
    ]);
    expect(fake.pendingRevocations).toEqual([]);
  });

  it.each(Object.entries(INTUNE_REVOCATION_CODES))("an { errorCode: %s } outcome (%i) is uploaded as given and counted as success, final or retryable", async (name, code) => {
    fake.pendingRevocations = pending(1);
    const summary = await syncIntuneRevocations({ client: client(), revoke: async () => ({ errorCode: code, errorMessage: `CA says ${name}` }) });
    expect((body(fake.of("uploadRevocationResults")[0]!) as { results: unknown[] }).results).toEqual([{ requestContext: "ctx-1", succeeded: code === 0, errorCode: code, errorMessage: `CA says ${name}` }]);
    const kind = code === 0 ? "succeeded" : code >= 4100 ? "retryable" : "failed";
    expect({ succeeded: summary.succeeded, failed: summary.failed, retryable: summary.retryable }).toEqual({ succeeded: 0, failed: 0, retryable: 0, [kind]: 1 });
    expect(fake.pendingRevocations).toHaveLength(code >= 4100 ? 1 : 0); // the fake keeps what Intune would send again
  });

  it("an issuer name as Microsoft writes it (S= for ST, quoted value, ';' separators, spacing, case, reverse order) matches the CA's subject (RFC 5280 §7.1); another name is issuer_mismatch", async () => {
    const keys = await generateRsaKeyPair(2048);
    const ca = (await createSelfSignedSigner({ keys, subject: 'CN=Contoso Issuing CA, O=Contoso\\, Ltd, ST=Washington, C=US', now: new Date("2026-03-01T12:00:00Z") })).certificate;
    expect(ca.subject).toBe("CN=Contoso Issuing CA, O=Contoso\\, Ltd, ST=Washington, C=US");
    const store = new MemoryRevocationStore({ now: () => new Date("2026-03-02T08:00:00Z") });
    fake.pendingRevocations = [
      { requestContext: "ctx-ms", serialNumber: "0A01", issuerName: 'CN=Contoso  Issuing CA, O="Contoso, Ltd", S=Washington, C=US', caConfiguration: null },
      { requestContext: "ctx-ms-semicolons", serialNumber: "0A02", issuerName: 'C=us; S=WASHINGTON; O="Contoso, Ltd"; CN = contoso issuing ca', caConfiguration: null },
      { requestContext: "ctx-other-state", serialNumber: "0A03", issuerName: 'CN=Contoso Issuing CA, O="Contoso, Ltd", S=Oregon, C=US', caConfiguration: null },
      { requestContext: "ctx-not-a-name", serialNumber: "0A04", issuerName: "Contoso Issuing CA", caConfiguration: null },
    ];
    fake.next("downloadRevocationRequests", { json: { value: fake.pendingRevocations } });
    const summary = await syncIntuneRevocations({ client: client(), issuerName: ca.subject, revoke: revocationStoreRevoker(store) });
    expect(summary.items.map((i) => [i.request.requestContext, i.outcome])).toEqual([
      ["ctx-ms", "revoked"],
      ["ctx-ms-semicolons", "revoked"],
      ["ctx-other-state", "issuer_mismatch"],
      ["ctx-not-a-name", "issuer_mismatch"],
    ]);
    expect((await store.list()).map((r) => r.serialNumber)).toEqual(["0a01", "0a02"]);
  });

  it('alreadyRevoked: "succeeded" reports an already revoked certificate as done (0)', async () => {
    const store = new MemoryRevocationStore();
    await store.revoke({ serialNumber: "1000", reason: "superseded" });
    fake.pendingRevocations = pending(1);
    const summary = await syncIntuneRevocations({ client: client(), revoke: revocationStoreRevoker(store), alreadyRevoked: "succeeded" });
    expect(summary.items.map((i) => [i.outcome, i.result])).toEqual([["already_revoked", { requestContext: "ctx-1", succeeded: true, errorCode: 0 }]]);
  });

  it("a revoke that never answers is cut at revokeTimeoutMs (4100) and the next request is still processed", async () => {
    fake.pendingRevocations = pending(2);
    const seen: string[] = [];
    const revoke: IntuneRevoke = (r) => {
      seen.push(r.requestContext);
      return r.requestContext === "ctx-1" ? new Promise(() => {}) : Promise.resolve("revoked");
    };
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let summary;
    try {
      const p = syncIntuneRevocations({ client: client(), revoke, revokeTimeoutMs: 5_000 });
      await until(() => seen.length === 1);
      await vi.advanceTimersByTimeAsync(4_999);
      expect(seen).toEqual(["ctx-1"]);
      await vi.advanceTimersByTimeAsync(1);
      summary = await p;
    } finally {
      vi.useRealTimers();
    }
    expect(summary.items.map((i) => i.result)).toEqual([
      { requestContext: "ctx-1", succeeded: false, errorCode: 4100, errorMessage: "revocation did not complete within 5000 ms" },
      { requestContext: "ctx-2", succeeded: true, errorCode: 0 },
    ]);
    expect(summary.items[0]!.outcome).toBe("revoke_timeout");
  });

  it("nothing pending → one download, no upload", async () => {
    const revoke = vi.fn<IntuneRevoke>();
    expect(await syncIntuneRevocations({ client: client(), revoke, maxRequests: 500 })).toEqual({ downloaded: 0, succeeded: 0, failed: 0, retryable: 0, issuerMismatches: 0, items: [], uploaded: false });
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1);
    expect(fake.of("uploadRevocationResults")).toHaveLength(0);
    expect(revoke).not.toHaveBeenCalled();
  });

  it("no paging: 7 pending, maxRequests 5 → one download, 5 answered, 2 left for the next round", async () => {
    fake.pendingRevocations = pending(7);
    const summary = await syncIntuneRevocations({ client: client(), revoke: async () => "revoked", maxRequests: 5 });
    expect(summary.downloaded).toBe(5);
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1);
    expect(fake.pendingRevocations.map((r) => r.requestContext)).toEqual(["ctx-6", "ctx-7"]);
  });

  it("the download fails → the round rejects with the typed error and nothing is revoked", async () => {
    const revoke = vi.fn<IntuneRevoke>();
    fake.next("downloadRevocationRequests", { json: {}, status: 503 }, { json: {}, status: 503 });
    await expect(syncIntuneRevocations({ client: client(), revoke })).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 503 });
    expect(revoke).not.toHaveBeenCalled();
  });

  it("the upload fails → the summary carries uploadError; the revocations stay; Intune's next round gets 4005 for them (alreadyRevoked: 'succeeded' avoids that)", async () => {
    const store = new MemoryRevocationStore();
    fake.pendingRevocations = pending(1);
    fake.next("uploadRevocationResults", { json: {}, status: 500 }, { json: {}, status: 500 });
    const first = await syncIntuneRevocations({ client: client(), revoke: revocationStoreRevoker(store) });
    expect(first).toMatchObject({ downloaded: 1, succeeded: 1, uploaded: false, uploadError: { name: "IntuneTransportError", code: "ERR_INTUNE_TRANSPORT", status: 500 } });
    expect(await store.get("1000")).toMatchObject({ reason: "unspecified" });
    const second = await syncIntuneRevocations({ client: client(), revoke: revocationStoreRevoker(store) });
    expect(second.items.map((i) => i.result.errorCode)).toEqual([4005]);
  });

  it.each([
    ["maxRequests 0", { maxRequests: 0 }, "maxRequests must be an integer from 1 to 500 (got 0)"],
    ["maxRequests 501", { maxRequests: 501 }, "maxRequests must be an integer from 1 to 500 (got 501)"],
    ["revokeTimeoutMs 0", { revokeTimeoutMs: 0 }, "revokeTimeoutMs must be an integer number of milliseconds from 1 to 2147483647 (got 0)"],
    // Our own name unreadable would answer every request for this CA 4004 (not retried): refused before the download.
    ["issuerName not a DN", { issuerName: "Contoso Issuing CA" }, 'issuerName is not a distinguished name: "Contoso Issuing CA" is not type=value (RFC 4514: CN=Contoso CA, O=Contoso)'],
    ["issuerName with an unknown type", { issuerName: "CN=Contoso Issuing CA, XX=1" }, 'issuerName is not a distinguished name: unknown attribute type "XX" (a name such as CN, O, OU, C, ST or S, or an OID)'],
    ["issuerName empty", { issuerName: " " }, "issuerName must be a distinguished name such as the CA certificate's subject (got an empty one)"],
  ] as const)("%s → ERR_INVALID_ARGUMENT before any call", async (_n, bad, message) => {
    await expect(syncIntuneRevocations({ client: client(), revoke: async () => "revoked", ...bad })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message });
    expect(fake.requests).toHaveLength(0);
  });

  it("the client secret travels only in the token requests' form bodies", async () => {
    fake.pendingRevocations = pending(2);
    await syncIntuneRevocations({ client: client(), revoke: async () => "revoked" });
    expect(fake.requests.length).toBe(5);
    for (const r of fake.requests) {
      expect(r.path).not.toContain(CLIENT_SECRET);
      expect(JSON.stringify(r.headers)).not.toContain(CLIENT_SECRET);
      if (!r.path.endsWith("/token")) expect(r.body).not.toContain(CLIENT_SECRET);
    }
  });
});

describe("revocationStoreRevoker", () => {
  const req = (serialNumber: string): IntuneRevocationRequest => ({ requestContext: "c", serialNumber });

  it("normalizes Intune's serial (upper case, colons, a redundant leading zero octet) to the store's form", async () => {
    const store = new MemoryRevocationStore();
    const revoke = revocationStoreRevoker(store, { reason: "privilegeWithdrawn" });
    expect(await revoke(req("00:7F:0A"))).toBe("revoked");
    expect(await revoke(req("7f0a"))).toBe("already_revoked");
    expect(await store.list()).toEqual([{ serialNumber: "7f0a", reason: "privilegeWithdrawn", revokedAt: expect.any(Date) }]);
  });

  it("isIssued is asked with the normalized serial; false → not_found and nothing is stored", async () => {
    const store = new MemoryRevocationStore();
    const asked: string[] = [];
    const revoke = revocationStoreRevoker(store, { isIssued: async (s) => (asked.push(s), false) });
    expect(await revoke(req("0A:1B"))).toBe("not_found");
    expect(asked).toEqual(["0a1b"]);
    expect(await store.list()).toEqual([]);
  });

  it("a serial longer than 20 octets (RFC 5280 §4.1.2.2) → invalid_serial", async () => {
    expect(await revocationStoreRevoker(new MemoryRevocationStore())(req(`7f${"01".repeat(21)}`))).toBe("invalid_serial");
  });

  it("a store that is down throws its ERR_STORE_UNAVAILABLE through (the sync answers 4101)", async () => {
    const inner = new MemoryRevocationStore();
    const down: RevocationStore = { revoke: () => Promise.reject(new StoreUnavailableError("the revocation store is unavailable")), get: (s) => inner.get(s), list: () => inner.list(), nextCrlNumber: () => inner.nextCrlNumber() };
    await expect(revocationStoreRevoker(down)(req("01"))).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
  });
});
