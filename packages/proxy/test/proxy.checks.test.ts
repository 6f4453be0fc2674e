/**
 * PROXY.md "What is checked, in order" and "Tests to hold it to": every case
 * Fleet pins, against a real loopback upstream through HttpUpstream, with an
 * injected clock for the challenge lifecycles (NDES 57 min, Smallstep 4 min,
 * proxy-issued one-time challenges 1 h).
 */
import { MemoryChallengeStore, StoreUnavailableError } from "@scep/core";
import { manualClock, type ManualClock } from "@scep/core/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  MemoryCaRegistry,
  MemoryProfileStore,
  buildIdentifier,
  challengeHash,
  createScepProxy,
  type ProfileKey,
  type ProfileRecord,
  type ProfileStore,
  type ProxyEvent,
  type ProxyIdentifier,
  type ScepProxy,
} from "../src/index.js";
import { PKI_REPLY, startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";

const MIN = 60_000;
/** A message whose standard base64 holds `+` and `/` (the proxy does not parse it: bytes in, bytes out). */
const MSG_B64 = "MIIB+/+/abcd";
const MSG = Buffer.from(MSG_B64, "base64");

let up: UpstreamServer;
let clock: ManualClock;
let profiles: MemoryProfileStore;
let challenges: MemoryChallengeStore;
let events: ProxyEvent[];
let logged: string[];
let proxy: ScepProxy;

function makeProxy(store: ProfileStore = profiles): ScepProxy {
  return createScepProxy({
    basePath: "/scep",
    profiles: store,
    cas: new MemoryCaRegistry(
      [
        { name: "ndes", type: "ndes", url: up.url, exemptPlatforms: ["windows"] },
        { name: "step", type: "smallstep", url: up.url },
        { name: "corp", type: "custom", url: up.url },
      ],
      { defaultName: "ndes" },
    ),
    challenges,
    now: clock.now,
    upstreamTimeoutMs: 10_000,
    onEvent: (e) => events.push(e),
    logger: { error: (m) => logged.push(m) },
  });
}

beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
});
beforeEach(() => {
  up.script(wellBehaved());
  up.seen.length = 0;
  clock = manualClock(new Date("2026-03-01T10:00:00Z"));
  profiles = new MemoryProfileStore({ now: clock.now });
  challenges = new MemoryChallengeStore({ now: clock.now });
  events = [];
  logged = [];
  proxy = makeProxy();
});

async function pending(key: ProfileKey, extra: Partial<ProfileRecord> = {}): Promise<void> {
  await profiles.put({ ...key, status: "pending", updatedAt: clock.now().getTime(), ...extra });
}

async function call(path: string, init?: RequestInit, p: ScepProxy = proxy): Promise<{ status: number; text: string; type: string | null; headers: Headers }> {
  const res = await p.fetch(new Request(`http://proxy.test${path}`, init));
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: body.toString("latin1"), type: res.headers.get("content-type"), headers: res.headers };
}

const pkiPost = (id: ProxyIdentifier | string, body: Uint8Array<ArrayBuffer> = MSG): Promise<{ status: number; text: string; type: string | null; headers: Headers }> =>
  call(`/scep/${typeof id === "string" ? id : buildIdentifier(id)}?operation=PKIOperation`, { method: "POST", body, headers: { "content-type": "application/x-pki-message" } });

const pkiSeen = (): Buffer[] => up.seen.filter((r) => r.operation === "PKIOperation").map((r) => r.body);

describe("PROXY.md check 1: the identifier", () => {
  it.each([
    ["the empty identifier", "/scep/?operation=GetCACaps"],
    ["no identifier segment at all", "/scep?operation=GetCACaps"],
    ["a single field", "/scep/host-1?operation=GetCACaps"],
    ["an empty hostId", "/scep/,wifi?operation=GetCACaps"],
    ["an empty profileId", "/scep/host-1,?operation=GetCACaps"],
    ["five fields", "/scep/a,b,c,d,e?operation=GetCACaps"],
    ["a bad escape", "/scep/a%zz,b?operation=GetCACaps"],
    ["an escaped NUL", "/scep/a%00,b?operation=GetCACaps"],
    ["escaped bytes that are not UTF-8", "/scep/a%C3%28,b?operation=GetCACaps"],
    ["an extra path segment", "/scep/a,b/c?operation=GetCACaps"],
    ["a huge identifier", `/scep/a,${"b".repeat(5000)}?operation=GetCACaps`],
  ])("%s → 400 invalid identifier, no store or upstream call", async (_what, path) => {
    const r = await call(path);
    expect([r.status, r.text, r.type]).toEqual([400, "invalid identifier", "text/plain; charset=utf-8"]);
    expect(up.seen).toEqual([]);
    expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "invalid_identifier", status: 400 });
    expect(events.at(-1)).not.toHaveProperty("hostId");
  });

  it("never echoes the input: markup and a long value in the identifier get the fixed body", async () => {
    const r = await call(`/scep/${encodeURIComponent("<script>alert(1)</script>")}?operation=GetCACaps`);
    expect([r.status, r.text]).toEqual([400, "invalid identifier"]);
  });

  it("routes {base}/{identifier} and {base}/{identifier} with a client's suffix (INTEROP quirk 2) alike; paths outside the base are 404", async () => {
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" });
    expect((await call("/scep/h1,p1,ndes?operation=GetCACaps")).status).toBe(200);
    // /pkiclient.exe (RFC 8894 §4.1), /cgi-bin/pkiclient.exe (sscep, Cisco IOS), /cgi-bin alone (Intune's Windows profiles), a trailing /.
    for (const suffix of ["/pkiclient.exe", "/cgi-bin/pkiclient.exe", "/CGI-BIN/PKICLIENT.EXE", "/cgi-bin", "/"]) {
      expect([suffix, (await call(`/scep/h1,p1,ndes${suffix}?operation=GetCACaps`)).status]).toEqual([suffix, 200]);
    }
    for (const path of ["/scep/h1,p1,ndes/other", "/scep/h1,p1,ndes/cgi-bin/other", "/scep/h1,p1,ndes/pkiclient.exe.bak"]) {
      expect([path, (await call(`${path}?operation=GetCACaps`)).text]).toEqual([path, "invalid identifier"]);
    }
    expect((await call("/other/h1,p1,ndes?operation=GetCACaps")).status).toBe(404);
    expect([proxy.owns("/scep/x"), proxy.owns("/scep"), proxy.owns("/scepx"), proxy.owns("/")]).toEqual([true, true, false, false]);
  });

  it("a missing or unknown operation → 400; POST of anything but PKIOperation → 405; PUT → 405", async () => {
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" });
    expect(await call("/scep/h1,p1,ndes")).toMatchObject({ status: 400, text: "missing or unsupported operation" });
    expect(await call("/scep/h1,p1,ndes?operation=GetNextCACert")).toMatchObject({ status: 400, text: "missing or unsupported operation" });
    // Allow lists what the target answers (RFC 9110 §15.5.6): GET and HEAD for GetCACaps, GET and POST for a PKIOperation.
    const post = await call("/scep/h1,p1,ndes?operation=GetCACaps", { method: "POST", body: "x" });
    expect([post.status, post.headers.get("allow"), post.text]).toEqual([405, "GET, HEAD", "method not allowed"]);
    const put = await call("/scep/h1,p1,ndes?operation=GetCACaps", { method: "PUT", body: "x" });
    expect([put.status, put.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    const putOp = await call("/scep/h1,p1,ndes?operation=PKIOperation", { method: "PUT", body: "x" });
    expect([putOp.status, putOp.headers.get("allow")]).toEqual([405, "GET, POST"]);
    expect(up.seen).toEqual([]);
  });
});

describe("HEAD (RFC 9110 §9.3.2, §9.2.1)", () => {
  it("GetCACaps, GetCACert and a refusal: the GET's status and header fields, Content-Length included, no content", async () => {
    const fields = (h: Headers): Record<string, string> => {
      const out: Record<string, string> = {};
      h.forEach((value, name) => void (out[name] = value));
      return out;
    };
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" });
    for (const path of ["/scep/h1,p1,ndes?operation=GetCACaps", "/scep/h1,p1,ndes/pkiclient.exe?operation=GetCACert", "/scep/h1,p1,ndes?operation=GetNextCACert", "/scep/nobody,p1,ndes?operation=GetCACaps"]) {
      const get = await call(path);
      const head = await call(path, { method: "HEAD" });
      expect({ path, status: head.status, headers: fields(head.headers), text: head.text }).toEqual({
        path, status: get.status, headers: { ...fields(get.headers), "content-length": String(Buffer.byteLength(get.text, "latin1")) }, text: "",
      });
    }
    expect(events.filter((e) => e.method === "HEAD").map((e) => [e.operation, e.status])).toEqual([["GetCACaps", 200], ["GetCACert", 200], ["unknown", 400], ["GetCACaps", 400]]);
  });

  it("a PKIOperation → 405: nothing forwarded, no challenge spent, no requeue", async () => {
    const issued = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    const id: ProxyIdentifier = { hostId: "h2", profileId: "p2", caName: "corp", challenge: issued };
    await pending({ hostId: "h2", profileId: "p2", caName: "corp" });
    const head = await call(`/scep/${buildIdentifier(id)}?operation=PKIOperation&message=${encodeURIComponent(MSG_B64)}`, { method: "HEAD" });
    expect([head.status, head.headers.get("allow"), head.text]).toEqual([405, "GET, POST", ""]);
    expect(up.seen).toEqual([]);
    expect((await profiles.get({ hostId: "h2", profileId: "p2", caName: "corp" }))?.status).toBe("pending");
    expect((await pkiPost(id)).status).toBe(200); // the URL's challenge is still there
  });
});

describe("PROXY.md checks 2-4: record, status, CA", () => {
  it("an unknown record → 400 unknown identifier", async () => {
    expect(await call("/scep/nobody,p1,ndes?operation=GetCACaps")).toMatchObject({ status: 400, text: "unknown identifier" });
    expect(events.at(-1)).toMatchObject({ hostId: "nobody", profileId: "p1", caName: "ndes", reason: "unknown_identifier" });
  });

  it("two fields use the default CA's record", async () => {
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" });
    const r = await call("/scep/h1,p1?operation=GetCACert");
    expect([r.status, r.type]).toEqual([200, "application/x-x509-ca-ra-cert"]);
    expect(events.at(-1)).toMatchObject({ caName: "ndes", caType: "ndes", outcome: "forwarded" });
  });

  it.each(["verified", "verifying", "failed", "none"] as const)("status %s → 400 naming the status", async (status) => {
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" }, { status });
    expect(await call("/scep/h1,p1,ndes?operation=GetCACaps")).toMatchObject({ status: 400, text: `profile status is not pending: ${status}` });
    expect(up.seen).toEqual([]);
  });

  it("a status outside the fixed list is named unknown (the store's text is not echoed)", async () => {
    // The stores refuse to put such a record (ERR_INVALID_ARGUMENT): a store of one's own may still answer one.
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" });
    const odd: ProfileStore = {
      get: async (k) => {
        const r = await profiles.get(k);
        return r && { ...r, status: "<b>odd</b>" as ProfileRecord["status"] };
      },
      put: (r) => profiles.put(r),
      requeue: (k) => profiles.requeue(k),
      markFailed: (k, detail) => profiles.markFailed(k, detail),
      delete: (k) => profiles.delete(k),
      list: () => profiles.list(),
    };
    expect(await call("/scep/h1,p1,ndes?operation=GetCACaps", undefined, makeProxy(odd))).toMatchObject({ status: 400, text: "profile status is not pending: unknown" });
  });

  it("a platform the CA exempts enrolls whatever its status (Fleet exempts Windows)", async () => {
    await pending({ hostId: "w1", profileId: "p1", caName: "ndes" }, { status: "verifying", platform: "windows", challengeRetrievedAt: clock.now().getTime() });
    await pending({ hostId: "m1", profileId: "p1", caName: "ndes" }, { status: "verifying", platform: "darwin", challengeRetrievedAt: clock.now().getTime() });
    expect((await pkiPost({ hostId: "w1", profileId: "p1", caName: "ndes" })).status).toBe(200);
    expect((await pkiPost({ hostId: "m1", profileId: "p1", caName: "ndes" })).text).toBe("profile status is not pending: verifying");
  });

  it("CA-name mismatch (the record names a CA the registry lacks) → 400 not configured, and the challenge is NOT consumed", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending({ hostId: "h1", profileId: "p1", caName: "gone" });
    const r = await pkiPost({ hostId: "h1", profileId: "p1", caName: "gone", challenge });
    expect([r.status, r.text]).toEqual([400, "SCEP proxy is not configured"]);
    expect(await challenges.consume(challenge, { profile: "corp" })).toBe(true);
    expect(pkiSeen()).toEqual([]);
    expect((await profiles.get({ hostId: "h1", profileId: "p1", caName: "gone" }))?.status).toBe("pending");
  });

  it("no caName and no default CA → 400 not configured", async () => {
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "a", type: "ndes", url: up.url }, { name: "b", type: "ndes", url: up.url }]), now: clock.now });
    expect(await call("/scep/h1,p1?operation=GetCACaps", undefined, p)).toMatchObject({ status: 400, text: "SCEP proxy is not configured" });
  });
});

describe("PROXY.md check 5: challenge lifecycles (injected clock)", () => {
  const key = (caName: string): ProfileKey => ({ hostId: "h1", profileId: "p1", caName });

  it("NDES: 58 minutes old → 400 challenge password has expired, and the profile is requeued", async () => {
    await pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
    clock.advance(58 * MIN);
    expect(await pkiPost(key("ndes"))).toMatchObject({ status: 400, text: "challenge password has expired" });
    expect(await profiles.get(key("ndes"))).toMatchObject({ status: "none", requeueCount: 1, updatedAt: clock.now().getTime() });
    expect(events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "challenge_expired", requeued: true, status: 400 });
    expect(pkiSeen()).toEqual([]);
  });

  it("NDES: 30 minutes old → forwarded, bytes and content type unchanged", async () => {
    await pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
    clock.advance(30 * MIN);
    const r = await pkiPost(key("ndes"));
    expect([r.status, r.type, Buffer.from(r.text, "latin1")]).toEqual([200, "application/x-pki-message", PKI_REPLY]);
    expect(pkiSeen()).toEqual([MSG]);
    expect((await profiles.get(key("ndes")))?.status).toBe("pending");
  });

  it("NDES: the window is 57 minutes exactly (valid 1 ms before, expired at 57:00)", async () => {
    await pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
    clock.advance(57 * MIN - 1);
    expect((await pkiPost(key("ndes"))).status).toBe(200);
    clock.advance(1);
    expect((await pkiPost(key("ndes"))).text).toBe("challenge password has expired");
  });

  it("NDES: a record without challengeRetrievedAt → 400 challenge failed, requeued", async () => {
    await pending(key("ndes"));
    expect(await pkiPost(key("ndes"))).toMatchObject({ status: 400, text: "challenge failed" });
    expect((await profiles.get(key("ndes")))?.status).toBe("none");
  });

  it("Smallstep: 5 minutes old → expired and requeued; 2 minutes → forwarded", async () => {
    await pending(key("step"), { challengeRetrievedAt: clock.now().getTime() });
    clock.advance(2 * MIN);
    expect((await pkiPost(key("step"))).status).toBe(200);
    clock.advance(3 * MIN);
    expect(await pkiPost(key("step"))).toMatchObject({ status: 400, text: "challenge password has expired" });
    expect(await profiles.get(key("step"))).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("a CA's challengeTtlMs overrides the type's default", async () => {
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url, challengeTtlMs: 10 * MIN }]), now: clock.now });
    await pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
    clock.advance(10 * MIN);
    expect((await call(`/scep/h1,p1,ndes?operation=PKIOperation&message=${MSG_B64}`, undefined, p)).text).toBe("challenge password has expired");
  });

  it("custom: the challenge is consumed once; the second use fails and requeues", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending(key("corp"));
    const id = { ...key("corp"), challenge };
    expect((await pkiPost(id)).status).toBe(200);
    expect(await pkiPost(id)).toMatchObject({ status: 400, text: "challenge failed" });
    expect(await profiles.get(key("corp"))).toMatchObject({ status: "none", requeueCount: 1 });
    expect(pkiSeen()).toEqual([MSG]);
  });

  it("custom: two concurrent uses of one challenge → exactly one forwarded", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending(key("corp"));
    const results = await Promise.all([pkiPost({ ...key("corp"), challenge }), pkiPost({ ...key("corp"), challenge })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    expect(pkiSeen()).toHaveLength(1);
  });

  it("custom: a challenge past its TTL (1 h) → challenge failed, requeued; no challenge in the identifier → challenge failed", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending(key("corp"));
    clock.advance(60 * MIN);
    expect((await pkiPost({ ...key("corp"), challenge })).text).toBe("challenge failed");
    await pending(key("corp"));
    expect((await pkiPost(key("corp"))).text).toBe("challenge failed");
    expect(await profiles.get(key("corp"))).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("custom: after a re-registration (the record's challengeHash names the new challenge) the earlier URL → 400 challenge superseded, its challenge not consumed, the profile not requeued; the current URL forwards", async () => {
    // Issued without a holder, so the store still holds the earlier challenge: the record alone refuses it.
    const earlier = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    const current = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending(key("corp"), { challengeHash: await challengeHash(current) });
    expect(await challengeHash(current)).toMatch(/^[0-9a-f]{64}$/);
    expect(await pkiPost({ ...key("corp"), challenge: earlier })).toMatchObject({ status: 400, text: "challenge superseded" });
    expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "challenge_superseded" });
    expect(events.at(-1)!.requeued).toBeUndefined();
    expect(await profiles.get(key("corp"))).toMatchObject({ status: "pending" });
    expect(pkiSeen()).toEqual([]);
    expect((await pkiPost({ ...key("corp"), challenge: current })).status).toBe(200);
    expect(pkiSeen()).toEqual([MSG]);
    expect(await challenges.consume(earlier, { profile: "corp" })).toBe(true); // never consumed by the refusal
  });

  describe("a re-registration racing a failed check through an earlier URL: only the registration that was checked is requeued", () => {
    /** The MDM registers the profile (again): a fresh one-time challenge, its hash in a pending record; the URL it hands out. */
    async function register(store: MemoryChallengeStore): Promise<string> {
      const challenge = await store.issue({ profile: "corp", ttlMs: 60 * MIN, holder: JSON.stringify(["h1", "p1"]) });
      await pending(key("corp"), { challengeHash: await challengeHash(challenge) });
      return `/scep/${buildIdentifier({ ...key("corp"), challenge })}`;
    }

    /** A challenge store whose consume first lets `during` run: what lands between the record's read and the requeue. */
    class RacingChallengeStore extends MemoryChallengeStore {
      during: (() => Promise<void>) | undefined;
      override async consume(challenge: string, options: Parameters<MemoryChallengeStore["consume"]>[1]): Promise<boolean> {
        const during = this.during;
        this.during = undefined;
        if (during) await during();
        return super.consume(challenge, options);
      }
    }

    it("custom: the MDM registers again while the old URL's spent challenge is consumed → the old URL gets 400, the new registration stays pending and its URL forwards", async () => {
      const racing = new RacingChallengeStore({ now: clock.now });
      challenges = racing;
      const p = makeProxy();
      const oldUrl = await register(racing);
      expect((await call(`${oldUrl}?operation=PKIOperation`, { method: "POST", body: MSG }, p)).status).toBe(200); // spends it
      let newUrl = "";
      racing.during = async () => void (newUrl = await register(racing));
      clock.advance(1);
      expect(await call(`${oldUrl}?operation=PKIOperation`, { method: "POST", body: MSG }, p)).toMatchObject({ status: 400, text: "challenge failed" });
      const current = (await profiles.get(key("corp")))!;
      expect(current).toMatchObject({ status: "pending", updatedAt: clock.now().getTime() });
      expect(current.requeueCount).toBeUndefined();
      expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "challenge_failed" });
      expect(events.at(-1)!.requeued).toBeUndefined();
      expect(p.stats().cas.corp?.requeues).toBe(0);
      expect(newUrl).not.toBe(oldUrl);
      expect((await call(`${newUrl}?operation=PKIOperation`, { method: "POST", body: MSG }, p)).status).toBe(200);
      expect(pkiSeen()).toEqual([MSG, MSG]);
    });

    it("custom: a never-used old URL whose challenge the re-registration (same holder) supersedes during its consume → 400 challenge failed, the new registration stays pending and its URL forwards", async () => {
      const racing = new RacingChallengeStore({ now: clock.now });
      challenges = racing;
      const p = makeProxy();
      const oldUrl = await register(racing);
      let newUrl = "";
      racing.during = async () => void (newUrl = await register(racing));
      expect(await call(`${oldUrl}?operation=PKIOperation`, { method: "POST", body: MSG }, p)).toMatchObject({ status: 400, text: "challenge failed" });
      expect((await profiles.get(key("corp")))?.status).toBe("pending");
      expect(events.at(-1)!.requeued).toBeUndefined();
      expect((await call(`${newUrl}?operation=PKIOperation`, { method: "POST", body: MSG }, p)).status).toBe(200);
    });

    it("NDES: the MDM registers again (new challengeRetrievedAt) just before the expired request's requeue → the new registration stays pending and enrolls", async () => {
      class LateStore extends MemoryProfileStore {
        before: (() => Promise<void>) | undefined;
        override async requeue(k: ProfileKey, expected?: ProfileRecord): Promise<boolean> {
          const before = this.before;
          this.before = undefined;
          if (before) await before();
          return super.requeue(k, expected);
        }
      }
      const store = new LateStore({ now: clock.now });
      profiles = store;
      const p = makeProxy(store);
      await pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
      clock.advance(58 * MIN);
      store.before = () => pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
      expect(await call(`/scep/h1,p1,ndes?operation=PKIOperation`, { method: "POST", body: MSG }, p)).toMatchObject({ status: 400, text: "challenge password has expired" });
      expect(await profiles.get(key("ndes"))).toStrictEqual({ ...key("ndes"), status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: clock.now().getTime() });
      expect(events.at(-1)!.requeued).toBeUndefined();
      expect((await call(`/scep/h1,p1,ndes?operation=PKIOperation`, { method: "POST", body: MSG }, p)).status).toBe(200);
    });

    it("a ProfileStore written before requeue took `expected` (resolves undefined) is still requeued, and the event says so", async () => {
      const old: ProfileStore = {
        get: (k) => profiles.get(k),
        put: (r) => profiles.put(r),
        requeue: async (k: ProfileKey): Promise<void> => void (await profiles.requeue(k)),
        markFailed: (k, detail) => profiles.markFailed(k, detail),
        delete: (k) => profiles.delete(k),
        list: () => profiles.list(),
      };
      await pending(key("ndes"), { challengeRetrievedAt: clock.now().getTime() });
      clock.advance(58 * MIN);
      expect((await call(`/scep/h1,p1,ndes?operation=PKIOperation`, { method: "POST", body: MSG }, makeProxy(old))).status).toBe(400);
      expect(events.at(-1)).toMatchObject({ reason: "challenge_expired", requeued: true });
      expect(await profiles.get(key("ndes"))).toMatchObject({ status: "none", requeueCount: 1 });
    });
  });

  it("custom: a challenge issued for another CA is refused and stays usable on its own CA", async () => {
    const other = await challenges.issue({ profile: "elsewhere", ttlMs: 60 * MIN });
    await pending(key("corp"));
    expect((await pkiPost({ ...key("corp"), challenge: other })).text).toBe("challenge failed");
    expect(await challenges.consume(other, { profile: "elsewhere" })).toBe(true);
  });

  it("GetCACaps and GetCACert never consume a challenge nor check its age", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending(key("corp"));
    const id = buildIdentifier({ ...key("corp"), challenge });
    expect((await call(`/scep/${id}?operation=GetCACaps`)).status).toBe(200);
    expect((await call(`/scep/${id}?operation=GetCACert&message=ca`)).status).toBe(200);
    expect((await pkiPost(id)).status).toBe(200);
  });
});

describe("PROXY.md check 6 and Forwarding", () => {
  const key: ProfileKey = { hostId: "h1", profileId: "p1", caName: "ndes" };
  beforeEach(async () => {
    await pending(key, { challengeRetrievedAt: clock.now().getTime() });
  });

  it.each([
    ["a literal +", `message=${MSG_B64}`],
    ["%2B and %2F", `message=${encodeURIComponent(MSG_B64)}`],
  ])("GET PKIOperation with %s reaches a POST upstream intact", async (_what, query) => {
    const r = await call(`/scep/h1,p1,ndes?operation=PKIOperation&${query}`);
    expect(r.status).toBe(200);
    expect(pkiSeen()).toEqual([MSG]);
    const post = up.seen.find((s) => s.operation === "PKIOperation")!;
    expect([post.method, post.headers["content-length"], post.headers["transfer-encoding"], post.headers["content-type"]]).toEqual(["POST", String(MSG.length), undefined, "application/x-pki-message"]);
  });

  it.each([
    ["a literal +", `message=${MSG_B64}`],
    ["%2B and %2F", `message=${encodeURIComponent(MSG_B64)}`],
  ])("GET PKIOperation with %s reaches a GET-only upstream intact (standard base64, + escaped)", async (_what, query) => {
    up.script(wellBehaved("SHA-256\nAES\n"));
    const p = makeProxy();
    expect((await call(`/scep/h1,p1,ndes?operation=PKIOperation&${query}`, undefined, p)).status).toBe(200);
    const get = up.seen.find((s) => s.operation === "PKIOperation")!;
    expect(get.method).toBe("GET");
    expect(get.rawUrl).toBe(`/scep?operation=PKIOperation&message=${encodeURIComponent(MSG_B64)}`);
    expect(new URL(get.rawUrl, "http://x").searchParams.get("message")).toBe(MSG_B64);
  });

  it("the upstream's caps are asked once and reused for later PKIOperations", async () => {
    for (let i = 0; i < 3; i++) expect((await pkiPost(key)).status).toBe(200);
    expect(up.seen.map((s) => s.operation)).toEqual(["GetCACaps", "PKIOperation", "PKIOperation", "PKIOperation"]);
  });

  it("GetCACert passes the device's message and keeps x-x509-ca-cert vs x-x509-ca-ra-cert", async () => {
    up.script((req, res) => res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(Buffer.from([0x30, 0x00])));
    const r = await call("/scep/h1,p1,ndes?operation=GetCACert&message=My%20CA+1");
    expect([r.status, r.type]).toEqual([200, "application/x-x509-ca-cert"]);
    expect(new URL(up.seen[0]!.rawUrl, "http://x").searchParams.get("message")).toBe("My CA+1");
  });

  it("GetCACaps passes the upstream's caps text through", async () => {
    const r = await call("/scep/h1,p1,ndes?operation=GetCACaps");
    expect([r.status, r.type, r.text]).toEqual([200, "text/plain", "POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"]);
  });

  it("a message over maxBodyBytes → 413 by POST, 414 URI Too Long by GET (RFC 9110 §15.5.15: the message is in the URI), without consuming the challenge", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending({ hostId: "h1", profileId: "p1", caName: "corp" });
    const small = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), challenges, now: clock.now, maxBodyBytes: 1024, onEvent: (e) => events.push(e) });
    const id = buildIdentifier({ hostId: "h1", profileId: "p1", caName: "corp", challenge });
    const post = await call(`/scep/${id}?operation=PKIOperation`, { method: "POST", body: new Uint8Array(1025) }, small);
    expect([post.status, post.text]).toEqual([413, "request too large"]);
    const get = await call(`/scep/${id}?operation=PKIOperation&message=${Buffer.alloc(1025).toString("base64")}`, undefined, small);
    expect([get.status, get.text]).toEqual([414, "request URI too long"]);
    expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "too_large", status: 414 });
    const fits = Uint8Array.from({ length: 1024 }, (_, i) => (i === 0 ? 0x30 : 0)); // a SEQUENCE's first octet
    expect(await call(`/scep/${id}?operation=PKIOperation`, { method: "POST", body: fits }, small)).toMatchObject({ status: 200 });
  });

  // RFC 8894 §4.1: the POST body is the DER PKIMessage. Its base64 or PEM text is read as the @scep/core server
  // reads it and forwarded as DER; anything else is refused before the one-time challenge is spent.
  it("RFC 8894 §4.1: a POST body of base64 or PEM text is forwarded as the DER it holds", async () => {
    await pending({ hostId: "h1", profileId: "p1", caName: "ndes" }, { challengeRetrievedAt: clock.now().getTime() });
    const pem = (eol: string): string => `-----BEGIN PKCS7-----${eol}${MSG_B64}${eol}-----END PKCS7-----${eol}`;
    const texts = [MSG_B64, pem("\r\n"), pem("\n"), pem("\r")]; // any line ending, as the @scep/core server reads it
    for (const text of texts) {
      expect(await pkiPost({ hostId: "h1", profileId: "p1", caName: "ndes" }, new TextEncoder().encode(text))).toMatchObject({ status: 200 });
    }
    expect(pkiSeen()).toEqual(texts.map(() => MSG));
  });

  it("RFC 8894 §4.1: a POST body that is neither DER nor its base64/PEM → 400 saying so, challenge untouched, nothing forwarded", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending({ hostId: "h1", profileId: "p1", caName: "corp" });
    const custom = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), challenges, now: clock.now, onEvent: (e) => events.push(e) });
    const id = buildIdentifier({ hostId: "h1", profileId: "p1", caName: "corp", challenge });
    const post = (body: Uint8Array) => call(`/scep/${id}?operation=PKIOperation`, { method: "POST", body: body as Uint8Array<ArrayBuffer> }, custom);
    for (const body of ["message=MIIB%2B", Buffer.from("hello").toString("base64"), "-----BEGIN PKCS7-----\nMIIB"]) {
      const r = await post(new TextEncoder().encode(body));
      expect([r.status, r.text]).toEqual([400, "the POST body must be the DER PKIMessage (RFC 8894 section 4.1), or its base64 or PEM text; this is none of them"]);
      expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "bad_message" });
    }
    expect(pkiSeen()).toEqual([]);
    // The one-time challenge was not spent: the same URL still enrolls.
    expect(await post(MSG)).toMatchObject({ status: 200 });
  });

  it("a GET message that is not base64, or empty → 400 invalid message, challenge untouched", async () => {
    expect(await call("/scep/h1,p1,ndes?operation=PKIOperation&message=%%%")).toMatchObject({ status: 400, text: "invalid message" });
    expect(await call("/scep/h1,p1,ndes?operation=PKIOperation")).toMatchObject({ status: 400, text: "invalid message" });
    expect(await call("/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: new Uint8Array(0) })).toMatchObject({ status: 400, text: "invalid message" });
    // base64 of something that is not a SEQUENCE: no PKIMessage, nothing forwarded.
    expect(await call(`/scep/h1,p1,ndes?operation=PKIOperation&message=${Buffer.from("hello").toString("base64")}`)).toMatchObject({ status: 400, text: "invalid message" });
    expect(pkiSeen()).toEqual([]);
  });
});

describe("store failures", () => {
  const key: ProfileKey = { hostId: "h1", profileId: "p1", caName: "ndes" };

  class FailingStore extends MemoryProfileStore {
    failGet: unknown;
    failRequeue: unknown;
    override async get(k: ProfileKey): Promise<ProfileRecord | undefined> {
      if (this.failGet) throw this.failGet;
      return super.get(k);
    }
    override async requeue(k: ProfileKey, expected?: ProfileRecord): Promise<boolean> {
      if (this.failRequeue) throw this.failRequeue;
      return super.requeue(k, expected);
    }
  }

  it("a store error → 500 with a generic body; the details go to the logger only", async () => {
    const store = new FailingStore({ now: clock.now });
    store.failGet = new Error("ECONNRESET talking to db.internal:5432 as admin");
    const r = await call("/scep/h1,p1,ndes?operation=GetCACaps", undefined, makeProxy(store));
    expect([r.status, r.text]).toEqual([500, "internal error"]);
    expect(logged).toEqual(["profile lookup failed"]);
    expect(events.at(-1)).toMatchObject({ outcome: "error", reason: "internal_error", status: 500 });
  });

  it("StoreUnavailableError → 503 with Retry-After", async () => {
    const store = new FailingStore({ now: clock.now });
    store.failGet = new StoreUnavailableError("redis: connection refused", { retryAfterSeconds: 7 });
    const r = await call("/scep/h1,p1,ndes?operation=GetCACaps", undefined, makeProxy(store));
    expect([r.status, r.text, r.headers.get("retry-after")]).toEqual([503, "service unavailable", "7"]);
    expect(events.at(-1)).toMatchObject({ outcome: "unavailable", reason: "store_unavailable" });
  });

  it("a failed requeue → 500 (503 when the store is unavailable); nothing is forwarded", async () => {
    const store = new FailingStore({ now: clock.now });
    await store.put({ ...key, status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    clock.advance(58 * MIN);
    const p = makeProxy(store);
    store.failRequeue = new Error("write failed");
    expect(await call(`/scep/h1,p1,ndes?operation=PKIOperation&message=${MSG_B64}`, undefined, p)).toMatchObject({ status: 500, text: "internal error" });
    store.failRequeue = new StoreUnavailableError("down");
    const r = await call(`/scep/h1,p1,ndes?operation=PKIOperation&message=${MSG_B64}`, undefined, p);
    expect([r.status, r.headers.get("retry-after")]).toEqual([503, "30"]);
    expect(pkiSeen()).toEqual([]);
  });

  it("a logger that throws, or an async one that rejects, changes no answer and is no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const statuses: number[] = [];
    try {
      const loggers = [
        { error: (): void => { throw new Error("log disk full"); } },
        { error: async (): Promise<void> => Promise.reject(new Error("log shipper down")) },
      ];
      for (const logger of loggers) {
        const store = new FailingStore({ now: clock.now });
        const p = (): ScepProxy =>
          createScepProxy({ profiles: store, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }]), onEvent: [() => { throw new Error("sink"); }, (e) => events.push(e)], logger });
        store.failGet = new StoreUnavailableError("redis: connection refused", { retryAfterSeconds: 7 });
        statuses.push((await call("/scep/h1,p1,ndes?operation=GetCACaps", undefined, p())).status);
        store.failGet = new Error("ECONNRESET");
        statuses.push((await call("/scep/h1,p1,ndes?operation=GetCACaps", undefined, p())).status);
      }
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect([statuses, unhandled, events.map((e) => e.status)]).toEqual([[503, 500, 503, 500], [], [503, 500, 503, 500]]);
  });

  it("a challenge store that is down → 503, the profile is not requeued", async () => {
    const down = { issue: async () => "x", consume: async () => { throw new StoreUnavailableError("down", { retryAfterSeconds: 5 }); } };
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), challenges: down, now: clock.now, logger: { error: (m) => logged.push(m) } });
    await pending({ hostId: "h1", profileId: "p1", caName: "corp" });
    const r = await call(`/scep/h1,p1,corp,abc?operation=PKIOperation&message=${MSG_B64}`, undefined, p);
    expect([r.status, r.headers.get("retry-after")]).toEqual([503, "5"]);
    expect((await profiles.get({ hostId: "h1", profileId: "p1", caName: "corp" }))?.status).toBe("pending");
    expect(logged).toEqual(["challenge check: store unavailable"]);
  });
});

describe("events and stats", () => {
  it("events carry the identifier fields but never the challenge; stats count per CA", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await pending({ hostId: "h1", profileId: "p1", caName: "corp" });
    const id = { hostId: "h1", profileId: "p1", caName: "corp", challenge };
    await pkiPost(id);
    await pkiPost(id);
    await call("/scep/x?operation=GetCACaps");
    expect(JSON.stringify(events)).not.toContain(challenge);
    expect(events[0]).toMatchObject({ operation: "PKIOperation", method: "POST", hostId: "h1", profileId: "p1", caName: "corp", caType: "custom", outcome: "forwarded", reason: "forwarded", status: 200 });
    expect(Object.keys(events[0]!).sort()).toEqual(["caName", "caType", "hostId", "latencyMs", "method", "operation", "outcome", "profileId", "reason", "status", "time"]);
    expect(events.map((e) => e.time)).toEqual([clock.now(), clock.now(), clock.now()]);
    expect(proxy.stats()).toEqual({
      requests: 3,
      unattributed: { invalid_identifier: 1 },
      cas: {
        corp: {
          caName: "corp",
          caType: "custom",
          requests: 2,
          outcomes: { forwarded: 1, rejected: 1 },
          reasons: { forwarded: 1, challenge_failed: 1 },
          requeues: 1,
          challengeReleases: 0,
          resends: 0,
          upstreamFailures: {},
          upstreamHttpStatuses: {},
        },
      },
    });
  });

  it("a CA named like an Object.prototype property is served and counted as any other", async () => {
    // `stats.cas[name] ??= …` on a plain object found the inherited `constructor` (no entry made, then a TypeError
    // after the answer was built: fetch rejected, the server answered 500); `__proto__` set the prototype instead.
    for (const name of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      await profiles.put({ hostId: "h1", profileId: "p1", caName: name, status: "pending", updatedAt: 0, challengeRetrievedAt: clock.now().getTime() });
      const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name, type: "ndes", url: up.url }]), now: clock.now });
      const r = await p.fetch(new Request(`http://proxy.test/scep/h1,p1,${name}?operation=GetCACaps`));
      expect(r.status, name).toBe(200);
      expect(Object.keys(p.stats().cas), name).toEqual([name]);
      expect(p.stats().cas[name], name).toMatchObject({ caName: name, requests: 1, outcomes: { forwarded: 1 } });
    }
  });

  it("a sink that throws is logged and the device still gets its answer", async () => {
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }]), onEvent: [() => { throw new Error("sink"); }, (e) => events.push(e)], logger: { error: (m) => logged.push(m) } });
    expect((await call("/scep/x?operation=GetCACaps", undefined, p)).status).toBe(400);
    expect([logged, events.length]).toEqual([["event sink threw"], 1]);
  });

  it("an async sink that rejects is logged too, and is no unhandled rejection (which would end the process)", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }]), onEvent: [async () => Promise.reject(new Error("sink")), (e) => events.push(e)], logger: { error: (m) => logged.push(m) } });
      expect((await call("/scep/x?operation=GetCACaps", undefined, p)).status).toBe(400);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect([unhandled, logged, events.length]).toEqual([[], ["event sink threw"], 1]);
  });
});
