/**
 * The example proxy's admin API, in process: bearer-token checks (401 without,
 * 403 with a wrong token, an audit line that never holds the token),
 * registration per CA type (a one-time challenge in the custom CA's URL, the
 * MDM's challengeRetrievedAt for NDES), statuses, deletion, the event log
 * (requeues), 503 when a store is down, 400 for malformed requests. The device
 * URL it hands out is then checked against the real @scep/proxy handler.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MemoryChallengeStore, StoreUnavailableError } from "@scep/core";
import {
  FetchHandlerUpstream,
  MAX_CHALLENGE_RETRIEVED_AHEAD_MS,
  MemoryCaRegistry,
  MemoryProfileStore,
  NdesChallengeSource,
  NdesPasswordCacheFullError,
  NdesPermissionError,
  SmallstepChallengeSource,
  challengeHash,
  createScepProxy,
  parseIdentifier,
  type CaConfig,
  type ChallengeSource,
  type Upstream,
  type ProfileStore,
} from "@scep/proxy";
import { createAdminApi, EventLog } from "../src/admin-api.js";

const TOKEN = "admin-token-0123456789abcdef";
const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);

function setup(options: { profiles?: ProfileStore; challenges?: MemoryChallengeStore; clock?: { t: number }; ndesSource?: ChallengeSource; smallstepSource?: ChallengeSource; cas?: CaConfig[]; challengeTimeoutMs?: number; upstream?: Upstream } = {}) {
  const clock = options.clock ?? { t: T0 };
  const now = (): Date => new Date(clock.t);
  const cas = new MemoryCaRegistry(
    [
      { name: "corp", type: "custom", url: "http://127.0.0.1:9/scep", challengeTtlMs: 600_000 },
      { name: "ndes", type: "ndes", url: "http://127.0.0.1:9/certsrv/mscep/mscep.dll" },
      { name: "ndes-admin", type: "ndes", url: "http://127.0.0.1:9/certsrv/mscep/mscep.dll", ndes: { adminUrl: "http://127.0.0.1:9/certsrv/mscep_admin/", username: "svc", password: "pw" } },
      ...(options.cas ?? []),
    ],
    { defaultName: "corp" },
  );
  const profiles = options.profiles ?? new MemoryProfileStore({ now });
  const challenges = options.challenges ?? new MemoryChallengeStore({ now });
  const events = new EventLog();
  const lines: Record<string, unknown>[] = [];
  const proxy = createScepProxy({ cas, profiles, challenges, now, ...(options.upstream ? { upstream: options.upstream } : {}), onEvent: (e) => void events.add({ ...e }, now()), logger: { error: () => undefined } });
  const admin = createAdminApi({
    token: TOKEN,
    cas,
    profiles,
    challenges,
    challengeSources: { ...(options.ndesSource ? { ndes: options.ndesSource } : {}), ...(options.smallstepSource ? { smallstep: options.smallstepSource } : {}) },
    ...(options.challengeTimeoutMs === undefined ? {} : { challengeTimeoutMs: options.challengeTimeoutMs }),
    deviceChallenges: new Map([["corp", "upstream-static-secret"]]),
    proxyBase: () => "https://mdm.example/scep",
    events,
    stats: () => proxy.stats(),
    log: (l) => lines.push(l),
    now,
  });
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    admin.fetch(new Request(`http://localhost${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }) }), { remoteAddress: "127.0.0.1" });
  return { admin, proxy, profiles, challenges, call, lines, clock };
}

describe("authentication", () => {
  it("401 without a token, 403 with a wrong one, each with an audit line that holds no token; routes only under /admin", async () => {
    const { call, lines, admin } = setup();
    const none = await call("GET", "/admin/profiles", undefined, {});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="scep-proxy-admin"');
    expect(await none.json()).toEqual({ error: "an Authorization: Bearer <PROXY_ADMIN_TOKEN> header is required" });
    const malformed = await call("GET", "/admin/profiles", undefined, { authorization: "Basic abc" });
    expect([malformed.status, await malformed.json()]).toEqual([401, { error: "the Authorization header is not Bearer <token> (another scheme, or an empty token: is the variable holding it set?)" }]);
    const wrong = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p" }, { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toEqual({ error: "wrong token: it does not match PROXY_ADMIN_TOKEN, the admin token the server was started with" });
    expect(lines).toEqual([
      { type: "admin-auth-failed", reason: "missing_token", method: "GET", path: "/admin/profiles", clientAddress: "127.0.0.1" },
      { type: "admin-auth-failed", reason: "malformed_authorization", method: "GET", path: "/admin/profiles", clientAddress: "127.0.0.1" },
      { type: "admin-auth-failed", reason: "wrong_token", method: "POST", path: "/admin/profiles", clientAddress: "127.0.0.1" },
    ]);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect([admin.owns("/admin"), admin.owns("/admin/profiles"), admin.owns("/administrator"), admin.owns("/scep/admin")]).toEqual([true, true, false, false]);
  });
});

describe("POST /admin/profiles", () => {
  it("custom CA: a pending record and a device URL whose identifier carries a fresh one-time challenge the proxy accepts once", async () => {
    const { call, profiles, challenges, proxy } = setup();
    const res = await call("POST", "/admin/profiles", { hostId: "host 1,a", profileId: "wifi", platform: "darwin" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toEqual({
      hostId: "host 1,a",
      profileId: "wifi",
      caName: "corp",
      status: "pending",
      url: expect.stringMatching(/^https:\/\/mdm\.example\/scep\/host%201%2Ca,wifi,corp,[A-Za-z0-9_-]{32}$/),
      challengePassword: "upstream-static-secret",
      challengeExpiresAt: new Date(T0 + 600_000).toISOString(),
    });
    const id = parseIdentifier(body.url!.split("/").pop()!);
    expect(id).toMatchObject({ hostId: "host 1,a", profileId: "wifi", caName: "corp" });
    // The record keeps the SHA-256 of the URL's challenge (never the challenge): a later registration's URL supersedes this one.
    expect(await profiles.get({ hostId: "host 1,a", profileId: "wifi", caName: "corp" })).toEqual({ hostId: "host 1,a", profileId: "wifi", caName: "corp", status: "pending", platform: "darwin", challengeHash: await challengeHash(id.challenge!), updatedAt: T0 });
    // The challenge was issued for this CA: the store consumes it once under the CA's name.
    expect(await challenges.consume(id.challenge!, { profile: "ndes" })).toBe(false);
    expect(await challenges.consume(id.challenge!, { profile: "corp" })).toBe(true);
    expect(await challenges.consume(id.challenge!, { profile: "corp" })).toBe(false);
    // And the proxy answers the URL's GetCACaps check path up to the (unreachable) upstream: the record is found.
    const caps = await proxy.fetch(new Request(`http://localhost/scep/${body.url!.split("/").pop()}?operation=GetCACaps`));
    expect(caps.status).toBe(502);
  });

  it("NDES CA: no challenge in the URL; challengeRetrievedAt as the MDM gives it (default now), expiry after the type's 57 minutes", async () => {
    const { call, profiles } = setup();
    const res = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p", caName: "ndes", challengeRetrievedAt: T0 - 60_000 });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ hostId: "h", profileId: "p", caName: "ndes", status: "pending", url: "https://mdm.example/scep/h,p,ndes", challengeExpiresAt: new Date(T0 - 60_000 + 57 * 60_000).toISOString() });
    expect((await profiles.get({ hostId: "h", profileId: "p", caName: "ndes" }))?.challengeRetrievedAt).toBe(T0 - 60_000);
    await call("POST", "/admin/profiles", { hostId: "h2", profileId: "p", caName: "ndes" });
    expect((await profiles.get({ hostId: "h2", profileId: "p", caName: "ndes" }))?.challengeRetrievedAt).toBe(T0);
  });

  it("NDES CA with admin page access: the challenge comes from the challenge source, its fetch time goes into the record", async () => {
    const source: ChallengeSource = { fetchChallenge: async (ca) => ({ challenge: `from-${ca.name}`, retrievedAt: T0 - 5_000 }) };
    const { call, profiles } = setup({ ndesSource: source });
    const res = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p", caName: "ndes-admin" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ url: "https://mdm.example/scep/h,p,ndes-admin", challengePassword: "from-ndes-admin", challengeExpiresAt: new Date(T0 - 5_000 + 57 * 60_000).toISOString() });
    expect((await profiles.get({ hostId: "h", profileId: "p", caName: "ndes-admin" }))?.challengeRetrievedAt).toBe(T0 - 5_000);
  });

  it("NDES cache full → 503 + Retry-After (back off, retry); no permission → 502; both with the source's code, no record written", async () => {
    for (const [error, status, headers, body] of [
      [new NdesPasswordCacheFullError("the NDES password cache is full"), 503, "60", { error: "the CA's challenge source is busy or unreachable; register again later", code: "ERR_PROXY_NDES_CACHE_FULL" }],
      [new NdesPermissionError("the account may not fetch challenges"), 502, null, { error: "the CA's challenge source refused to give a challenge", code: "ERR_PROXY_NDES_PERMISSION" }],
    ] as const) {
      const { call, profiles, lines } = setup({ ndesSource: { fetchChallenge: async () => Promise.reject(error) } });
      const res = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p", caName: "ndes-admin" });
      expect(res.status).toBe(status);
      expect(res.headers.get("retry-after")).toBe(headers);
      expect(await res.json()).toEqual(body);
      expect(await profiles.get({ hostId: "h", profileId: "p", caName: "ndes-admin" })).toBeUndefined();
      expect(lines).toEqual([{ type: "admin", action: "register-failed", hostId: "h", profileId: "p", caName: "ndes-admin", code: body.code, retryable: status === 503, clientAddress: "127.0.0.1" }]);
    }
  });

  it("registering again replaces the record (a requeued profile comes back pending, requeueCount reset)", async () => {
    const { call, profiles } = setup();
    const key = { hostId: "h", profileId: "p", caName: "corp" };
    await call("POST", "/admin/profiles", key);
    await profiles.requeue(key);
    expect((await profiles.get(key))?.status).toBe("none");
    await call("POST", "/admin/profiles", key);
    expect(await profiles.get(key)).toEqual({ ...key, status: "pending", challengeHash: expect.stringMatching(/^[0-9a-f]{64}$/), updatedAt: T0 });
  });

  it("registering a custom CA's profile again supersedes the earlier URL: its PKIOperation gets 400 challenge superseded (the profile stays pending) and its challenge is gone from the store; another profile's URL is untouched", async () => {
    const { call, profiles, challenges, proxy } = setup();
    const key = { hostId: "h", profileId: "p", caName: "corp" };
    const register = async (k: object): Promise<string> => ((await (await call("POST", "/admin/profiles", k)).json()) as { url: string }).url.split("/").pop()!;
    const first = await register(key);
    const other = await register({ ...key, profileId: "vpn" });
    const second = await register(key);
    const pki = (segment: string) => proxy.fetch(new Request(`http://localhost/scep/${segment}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0]) }));
    const refused = await pki(first);
    expect([refused.status, await refused.text()]).toEqual([400, "challenge superseded"]);
    expect(await profiles.get(key)).toMatchObject({ status: "pending" });
    expect(await challenges.consume(parseIdentifier(first).challenge!, { profile: "corp" })).toBe(false);
    expect(await challenges.consume(parseIdentifier(other).challenge!, { profile: "corp" })).toBe(true);
    expect(await challenges.consume(parseIdentifier(second).challenge!, { profile: "corp" })).toBe(true);
  });

  it.each([
    ["not JSON", 400, "{", { error: "the body is not JSON" }],
    ["an array", 400, [], { error: expect.stringMatching(/^expected a JSON body/) }],
    ["no profileId", 400, { hostId: "h" }, { error: expect.stringMatching(/^hostId and profileId .* must be non-empty strings/) }],
    ["an empty hostId", 400, { hostId: "", profileId: "p" }, { error: expect.stringMatching(/^hostId and profileId/) }],
    ["an unknown field", 400, { hostId: "h", profileId: "p", status: "verified" }, { error: expect.stringMatching(/^unknown field "status"/) }],
    ["a fractional challengeRetrievedAt", 400, { hostId: "h", profileId: "p", caName: "ndes", challengeRetrievedAt: 1.5 }, { error: "challengeRetrievedAt must be milliseconds since 1970 (an integer)" }],
    ["an unknown CA", 404, { hostId: "h", profileId: "p", caName: "other" }, { error: "no CA of that name is configured (configured: corp, ndes, ndes-admin)" }],
    ["a 20 kB body", 400, JSON.stringify({ hostId: "h".repeat(20_000), profileId: "p" }), { error: "the body is larger than 16384 bytes" }],
    // 6,000 characters, 18,000 bytes: the limit counts bytes (it counted characters).
    ["a body of fewer characters than the limit but more bytes", 400, JSON.stringify({ hostId: "€".repeat(6_000), profileId: "p" }), { error: "the body is larger than 16384 bytes" }],
  ])("%s → %i", async (_what, status, body, error) => {
    const { call, profiles } = setup();
    const res = await call("POST", "/admin/profiles", body);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual(error);
    const all = [];
    for await (const r of profiles.list()) all.push(r);
    expect(all).toEqual([]);
  });

  it("a declared Content-Length over 16 KiB → 400 before the body is read, nothing written", async () => {
    const { admin, profiles } = setup();
    const endless = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) });
    const request = new Request("http://localhost/admin/profiles", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-length": "20000" }, body: endless, duplex: "half" } as RequestInit);
    const res = await admin.fetch(request, { remoteAddress: "127.0.0.1" });
    expect([res.status, await res.json()]).toEqual([400, { error: "the body is larger than 16384 bytes" }]);
    const all = [];
    for await (const r of profiles.list()) all.push(r);
    expect(all).toEqual([]);
  });

  it("a hostId or profileId the device URL's identifier cannot carry (a control character, a lone surrogate, over 4096 characters percent-encoded) → 400 with a one-line reason, before any challenge is issued or fetched and before anything is written", async () => {
    const fetched: string[] = [];
    const source: ChallengeSource = {
      fetchChallenge: async (ca) => {
        fetched.push(ca.name);
        return { challenge: "from-source", retrievedAt: T0 };
      },
    };
    const { call, profiles, challenges, lines } = setup({ ndesSource: source });
    const issued = vi.spyOn(challenges, "issue");
    const euros = (n: number): string => "€".repeat(n); // 9 characters each once percent-encoded (%E2%82%AC)
    const refusals = {
      control: "hostId and profileId must not hold a control character: a device URL cannot carry it",
      surrogate: "hostId and profileId must be well-formed text (no lone UTF-16 surrogate): a device URL carries them as UTF-8",
      long: "hostId and profileId are too long for a device URL: percent-encoded, its identifier would exceed 4096 characters",
    };
    for (const [fields, error] of [
      [{ hostId: "host\u0000", profileId: "p" }, refusals.control],
      [{ hostId: "h", profileId: "wifi\u007f" }, refusals.control],
      [{ hostId: "host\ud800", profileId: "p" }, refusals.surrogate],
      [{ hostId: "h", profileId: "\udc00wifi" }, refusals.surrogate],
      [{ hostId: euros(256), profileId: euros(256) }, refusals.long],
    ] as const) {
      for (const caName of ["corp", "ndes", "ndes-admin"]) {
        const res = await call("POST", "/admin/profiles", { ...fields, caName });
        expect.soft([caName, res.status, await res.json()]).toEqual([caName, 400, { error }]);
      }
    }
    // 2304 + 1755 characters: the identifier fits without a challenge (an NDES CA's URL: 4065 characters) but not with a
    // custom CA's 32-character one (4098): refused before the challenge is issued, not once it is in hand.
    const near = { hostId: euros(256), profileId: euros(195) };
    const custom = await call("POST", "/admin/profiles", { ...near, caName: "corp" });
    expect([custom.status, await custom.json()]).toEqual([400, { error: refusals.long }]);
    expect(issued).not.toHaveBeenCalled();
    expect(fetched).toEqual([]);
    expect(lines.filter((l) => l.type === "admin")).toEqual([]);
    const all = [];
    for await (const r of profiles.list()) all.push(r);
    expect(all).toEqual([]);
    const ndes = await call("POST", "/admin/profiles", { ...near, caName: "ndes" });
    expect(ndes.status).toBe(201);
    expect(((await ndes.json()) as { url: string }).url.split("/").pop()).toHaveLength(4065);
  });

  it("a challengeRetrievedAt whose challenge would expire after the last Date (+275760-09-13) → 400, nothing written; the latest that fits is refused as in the future, never a 500", async () => {
    const { call, profiles } = setup();
    const ttl = 57 * 60_000;
    for (const at of [Number.MAX_SAFE_INTEGER, 8.64e15, 8.64e15 - ttl + 1]) {
      const res = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p", caName: "ndes", challengeRetrievedAt: at });
      expect([at, res.status, await res.json()]).toEqual([at, 400, { error: "challengeRetrievedAt is too late: the challenge would expire after the last date there is (+275760-09-13)" }]);
    }
    const last = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p", caName: "ndes", challengeRetrievedAt: 8.64e15 - ttl });
    expect([last.status, await last.json()]).toEqual([400, { error: "challengeRetrievedAt is in the future: give milliseconds since 1970 (not microseconds)" }]);
    expect(await profiles.get({ hostId: "h", profileId: "p", caName: "ndes" })).toBeUndefined();
  });

  it("a challengeRetrievedAt in microseconds, or more than 24 hours ahead of now → 400 naming the unit, nothing written; an MDM clock minutes ahead (past Smallstep's 4-minute window) → 201", async () => {
    // @scep/proxy refuses such a record at the device's enrollment (challenge failed, requeued); the MDM hears it here.
    // The bound is MAX_CHALLENGE_RETRIEVED_AHEAD_MS, not the challenge's window: a clock 5 minutes ahead is skew.
    const { call, profiles } = setup({ cas: [{ name: "step", type: "smallstep", url: "http://127.0.0.1:9/scep" }] });
    expect(MAX_CHALLENGE_RETRIEVED_AHEAD_MS).toBe(24 * 3_600_000);
    for (const caName of ["ndes", "step"]) {
      const key = { hostId: "h", profileId: "p", caName };
      for (const at of [T0 * 1000, T0 + 25 * 3_600_000, T0 + MAX_CHALLENGE_RETRIEVED_AHEAD_MS + 1]) {
        const res = await call("POST", "/admin/profiles", { ...key, challengeRetrievedAt: at });
        expect([caName, at, res.status, await res.json()]).toEqual([caName, at, 400, { error: "challengeRetrievedAt is in the future: give milliseconds since 1970 (not microseconds)" }]);
      }
      expect(await profiles.get(key)).toBeUndefined();
      for (const at of [T0 + 5 * 60_000, T0 + MAX_CHALLENGE_RETRIEVED_AHEAD_MS]) {
        expect([caName, at, (await call("POST", "/admin/profiles", { ...key, challengeRetrievedAt: at })).status]).toEqual([caName, at, 201]);
        expect(await profiles.get(key)).toMatchObject({ status: "pending", challengeRetrievedAt: at });
      }
    }
  });

  it("503 with Retry-After when the challenge or profile store is down", async () => {
    const down = new MemoryProfileStore();
    down.put = async () => {
      throw new StoreUnavailableError("Redis did not answer put within 2000 ms", { retryAfterSeconds: 30 });
    };
    const { call, lines } = setup({ profiles: down });
    const res = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(await res.json()).toEqual({ error: "the profile or challenge store is unavailable; try again" });
    // The device's MDM sees only "unavailable"; the operator gets the cause on one line.
    expect(lines).toEqual([
      { type: "admin-error", method: "POST", path: "/admin/profiles", store: "profile or challenge", status: 503, code: "ERR_STORE_UNAVAILABLE", message: "Redis did not answer put within 2000 ms" },
    ]);
  });

  it("503 with Retry-After saying the store is full (not down) when the in-memory challenge store holds its maxEntries", async () => {
    const { call, lines } = setup({ challenges: new MemoryChallengeStore({ maxEntries: 1 }) });
    expect((await call("POST", "/admin/profiles", { hostId: "h1", profileId: "p" })).status).toBe(201);
    const res = await call("POST", "/admin/profiles", { hostId: "h2", profileId: "p" });
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "30"]);
    expect(await res.json()).toEqual({ error: "the profile or challenge store is full (limit 1): try again once entries expire or are used up, or give the server a larger or shared store" });
    const errors = lines.filter((l) => l.type === "admin-error");
    expect(errors).toEqual([expect.objectContaining({ method: "POST", path: "/admin/profiles", store: "profile or challenge", status: 503, code: "ERR_STORE_UNAVAILABLE", capacity: 1 })]);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });
});

describe("a challenge source that does not answer (its fetch held by the server)", () => {
  // A webhook and an NDES admin page that take the request and never answer; the admin API's deadline passes first.
  let hook: Server;
  let base: string;
  beforeAll(async () => {
    hook = createServer(() => undefined);
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    hook.closeAllConnections();
    await new Promise((r) => hook.close(r));
  });
  const held = (): CaConfig[] => [
    { name: "step", type: "smallstep", url: "http://127.0.0.1:9/scep", smallstep: { webhookUrl: `${base}/hook`, username: "u", password: "p" } },
    { name: "ndes-held", type: "ndes", url: "http://127.0.0.1:9/certsrv/mscep/mscep.dll", ndes: { adminUrl: `${base}/certsrv/mscep_admin/`, username: "svc", password: "pw" } },
  ];

  it.each([
    ["Smallstep", "step", "ERR_PROXY_SMALLSTEP_TIMEOUT"],
    ["NDES", "ndes-held", "ERR_PROXY_NDES_TIMEOUT"],
  ])("%s: the admin API's deadline (challengeTimeoutMs) → 503 + Retry-After with the source's timeout code, not a 500; no record", async (_name, caName, code) => {
    const { call, profiles, lines } = setup({ cas: held(), ndesSource: new NdesChallengeSource(), smallstepSource: new SmallstepChallengeSource(), challengeTimeoutMs: 200 });
    const res = await call("POST", "/admin/profiles", { hostId: "h1", profileId: "p1", caName });
    expect([res.status, res.headers.get("retry-after"), await res.json()]).toEqual([503, "60", { error: "the CA's challenge source is busy or unreachable; register again later", code }]);
    expect(await profiles.get({ hostId: "h1", profileId: "p1", caName })).toBeUndefined();
    expect(lines).toEqual([{ type: "admin", action: "register-failed", hostId: "h1", profileId: "p1", caName, code, retryable: true, clientAddress: "127.0.0.1" }]);
  });

  it("a source of the MDM's own that rejects with the deadline's reason (as ChallengeSource allows) → 503 + Retry-After, code ERR_PROXY_CHALLENGE_SOURCE", async () => {
    const own: ChallengeSource = { fetchChallenge: (_ca, o) => new Promise((_, reject) => o?.signal?.addEventListener("abort", () => reject(o.signal?.reason), { once: true })) };
    const { call, profiles } = setup({ ndesSource: own, challengeTimeoutMs: 50 });
    const res = await call("POST", "/admin/profiles", { hostId: "h", profileId: "p", caName: "ndes-admin" });
    expect([res.status, res.headers.get("retry-after"), await res.json()]).toEqual([503, "60", { error: "the CA's challenge source is busy or unreachable; register again later", code: "ERR_PROXY_CHALLENGE_SOURCE" }]);
    expect(await profiles.get({ hostId: "h", profileId: "p", caName: "ndes-admin" })).toBeUndefined();
  });
});

describe("statuses, deletion and events", () => {
  it("GET /admin/profiles filters by hostId, caName and status; a refused second use shows as a requeue event and status none", async () => {
    // A CA that fails after it got the PKIOperation (HTTP 500): the challenge stays spent. (The unreachable 127.0.0.1:9
    // of the other tests fails before anything is sent, and the proxy gives the challenge back.)
    const { call, proxy, profiles } = setup({ upstream: new FetchHandlerUpstream({ fetch: async () => new Response("CA failed", { status: 500 }) }) });
    const reg = (await (await call("POST", "/admin/profiles", { hostId: "h1", profileId: "wifi" })).json()) as { url: string };
    await call("POST", "/admin/profiles", { hostId: "h2", profileId: "wifi", caName: "ndes" });
    const segment = reg.url.split("/").pop()!;
    const id = parseIdentifier(segment);
    // Spend the challenge (as the device's first PKIOperation would), then use the URL again.
    const first = await proxy.fetch(new Request(`http://localhost/scep/${segment}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) }));
    expect(first.status).toBe(502); // consumed, then the upstream's 500
    const second = await proxy.fetch(new Request(`http://localhost/scep/${segment}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) }));
    expect(second.status).toBe(400);
    expect(await second.text()).toBe("challenge failed");
    expect(id.challenge).toBeDefined();

    const list = async (q: string) => ((await (await call("GET", `/admin/profiles${q}`)).json()) as { profiles: Array<Record<string, unknown>> }).profiles;
    expect((await list("")).map((p) => [p.hostId, p.caName, p.status])).toEqual([
      ["h1", "corp", "none"],
      ["h2", "ndes", "pending"],
    ]);
    expect((await list("?status=none")).map((p) => p.hostId)).toEqual(["h1"]);
    expect((await list("?caName=ndes")).map((p) => p.hostId)).toEqual(["h2"]);
    // The record's challengeHash stays in the store (the proxy checks it), out of the listing.
    expect(await list("?hostId=h1")).toEqual([{ hostId: "h1", profileId: "wifi", caName: "corp", status: "none", requeueCount: 1, updatedAt: T0 }]);
    expect((await profiles.get({ hostId: "h1", profileId: "wifi", caName: "corp" }))?.challengeHash).toMatch(/^[0-9a-f]{64}$/);

    const events = ((await (await call("GET", "/admin/events?type=requeue")).json()) as { events: Array<Record<string, unknown>> }).events;
    expect(events).toEqual([
      expect.objectContaining({ seq: 2, time: new Date(T0).toISOString(), operation: "PKIOperation", hostId: "h1", profileId: "wifi", caName: "corp", outcome: "rejected", reason: "challenge_failed", status: 400, requeued: true }),
    ]);
    const upstreamErrors = ((await (await call("GET", "/admin/events?type=upstream_error")).json()) as { events: Array<Record<string, unknown>> }).events;
    // (The typed reason is @scep/proxy's to decide and test; here: the event is there, with one.)
    expect(upstreamErrors.map((e) => [e.seq, e.outcome, typeof (e.upstream as { reason?: unknown }).reason])).toEqual([[1, "upstream_error", "string"]]);
    expect(((await (await call("GET", "/admin/events?since=1")).json()) as { events: unknown[] }).events).toHaveLength(1);
    const stats = ((await (await call("GET", "/admin/stats")).json()) as { stats: { cas: Record<string, { requeues: number }> } }).stats;
    expect(stats.cas.corp?.requeues).toBe(1);
  });

  it("DELETE /admin/profiles removes a record once; wrong methods get 405 with Allow; unknown routes 404", async () => {
    const { call, lines } = setup();
    await call("POST", "/admin/profiles", { hostId: "h", profileId: "p" });
    expect(await (await call("DELETE", "/admin/profiles", { hostId: "h", profileId: "p" })).json()).toEqual({ deleted: true });
    // The audit lines name the caller's address, as the admin-auth-failed lines do; never the challenge.
    expect(lines.filter((l) => l.type === "admin")).toEqual([
      { type: "admin", action: "register", hostId: "h", profileId: "p", caName: "corp", caType: "custom", clientAddress: "127.0.0.1" },
      { type: "admin", action: "delete", hostId: "h", profileId: "p", caName: "corp", deleted: true, clientAddress: "127.0.0.1" },
    ]);
    expect(await (await call("DELETE", "/admin/profiles", { hostId: "h", profileId: "p" })).json()).toEqual({ deleted: false });
    const put = await call("PUT", "/admin/profiles", {});
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST, DELETE");
    expect((await call("POST", "/admin/events")).status).toBe(405);
    expect((await call("GET", "/admin/nope")).status).toBe(404);
  });

  it("an unknown route's 404 names every route in one line, from the route table; each listed route answers its method", async () => {
    const { call } = setup();
    const routes = "GET /admin/profiles, POST /admin/profiles, DELETE /admin/profiles, GET /admin/events, GET /admin/stats";
    for (const [method, path] of [["GET", "/admin/profile"], ["POST", "/admin/nope"], ["GET", "/admin"], ["GET", "/admin/profiles/h"], ["GET", "/admin/stats/"]] as const) {
      const res = await call(method, path);
      const text = await res.text();
      expect([path, res.status, JSON.parse(text)]).toEqual([path, 404, { error: `no admin route ${path}; routes: ${routes}` }]);
      expect(text).not.toContain("\\n");
      expect(text).not.toContain(TOKEN);
    }
    // Only after authentication: without the token, 401 naming nothing.
    const anonymous = await call("GET", "/admin/profile", undefined, {});
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("routes");
    // The list cannot drift: every entry is routed (never this 404, never 405).
    const answered: Record<string, number> = {};
    for (const entry of routes.split(", ")) {
      const [method, path] = entry.split(" ") as [string, string];
      const res = await call(method, path, method === "GET" ? undefined : { hostId: "h", profileId: "p" });
      expect((await res.text()).includes("no admin route")).toBe(false);
      answered[entry] = res.status;
    }
    expect(answered).toEqual({ "GET /admin/profiles": 200, "POST /admin/profiles": 201, "DELETE /admin/profiles": 200, "GET /admin/events": 200, "GET /admin/stats": 200 });
  });
});
