/**
 * The documented sink (`ProxyEvent` docs, README): `onEvent` marks the profile failed after an upstream failure. The
 * MDM may register the profile again (a new one-time URL, status `pending`) while the request that fails is being
 * forwarded; an unconditional `markFailed` then fails the new registration, and the device's new URL answers
 * `profile status is not pending: failed` (the race `requeue(key, expected)` closed for requeues). The event carries
 * the record the proxy read (`record`, not enumerable), and `markFailed(key, detail, e.record)` only applies while the
 * stored record is still that one. Real loopback upstream, memory stores.
 */
import { MemoryChallengeStore } from "@scep/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, challengeHash, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";
import { CORP_DEVICE } from "./support/pending-corp.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
let up: UpstreamServer;
beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
});

let challenges: MemoryChallengeStore;
let profiles: MemoryProfileStore;
let events: ProxyEvent[];
/** What the sink's markFailed resolved, per event. */
let marks: Promise<boolean | void>[];
let proxy: ScepProxy;

beforeEach(() => {
  up.script(wellBehaved());
  up.seen.length = 0;
  challenges = new MemoryChallengeStore();
  profiles = new MemoryProfileStore({ now: () => new Date(1_700_000_100_000) });
  events = [];
  marks = [];
  proxy = createScepProxy({
    profiles,
    challenges,
    cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]),
    logger: { error: () => undefined },
    // The documented sink, as in the ProxyEvent example.
    onEvent: (e) => {
      events.push(e);
      if (!e.hostId || !e.profileId || !e.caName || !e.record) return;
      const key = { hostId: e.hostId, profileId: e.profileId, caName: e.caName };
      if (e.outcome === "upstream_error") marks.push(profiles.markFailed(key, `upstream ${e.upstream?.reason}`, e.record));
    },
  });
});

/** What the MDM does when it renders the profile: a fresh one-time challenge, the record pending with its hash. */
async function register(updatedAt: number): Promise<string> {
  const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000 });
  await profiles.put({ ...CORP_DEVICE, status: "pending", updatedAt, challengeHash: await challengeHash(challenge) });
  return buildProxyUrl("http://proxy.test/scep", { ...CORP_DEVICE, challenge });
}

const enroll = (url: string): Promise<Response> => proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));

describe("onEvent → markFailed(key, detail, e.record)", () => {
  it("the event carries the record read for the request: a frozen copy, not enumerable (absent from JSON and spreads); absent when none was read", async () => {
    const url = await register(1_700_000_000_000);
    const read = await profiles.get(CORP_DEVICE);
    up.script((req, res, socket) => (req.operation === "PKIOperation" ? res.writeHead(500).end() : wellBehaved()(req, res, socket)));
    expect((await enroll(url)).status).toBe(502);
    const e = events.at(-1)!;
    expect(e.record).toStrictEqual(read);
    expect(Object.isFrozen(e.record)).toBe(true);
    expect(Object.keys(e)).not.toContain("record");
    expect(JSON.stringify(e)).not.toContain("challengeHash");
    expect({ ...e }).not.toHaveProperty("record");
    await proxy.fetch(new Request("http://proxy.test/scep/nobody,p1,corp?operation=GetCACaps"));
    expect(events.at(-1)).toMatchObject({ reason: "unknown_identifier" });
    expect(events.at(-1)!.record).toBeUndefined();
  });

  it("no re-registration meanwhile: the profile is marked failed (true)", async () => {
    const url = await register(1_700_000_000_000);
    up.script((req, res, socket) => (req.operation === "PKIOperation" ? res.writeHead(500).end() : wellBehaved()(req, res, socket)));
    expect((await enroll(url)).status).toBe(502);
    expect(await Promise.all(marks)).toEqual([true]);
    expect(await profiles.get(CORP_DEVICE)).toMatchObject({ status: "failed", detail: "upstream http", updatedAt: 1_700_000_100_000 });
  });

  it("the MDM registers the profile again while the request is forwarded: the upstream's failure leaves the new registration pending (false), and its URL enrolls", async () => {
    const oldUrl = await register(1_700_000_000_000);
    let held: (() => void) | undefined;
    up.script((req, res, socket) => {
      if (req.operation !== "PKIOperation") return wellBehaved()(req, res, socket);
      held = () => res.writeHead(500).end(); // answered once the MDM has registered again
    });
    const answer = enroll(oldUrl);
    while (!held) await new Promise((r) => setImmediate(r));
    const newUrl = await register(1_700_000_050_000);
    const registered = await profiles.get(CORP_DEVICE);
    held();
    expect((await answer).status).toBe(502);
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "http", status: 500 } });
    expect(await Promise.all(marks)).toEqual([false]);
    expect(await profiles.get(CORP_DEVICE)).toStrictEqual(registered);

    up.script(wellBehaved());
    expect((await enroll(newUrl)).status).toBe(200);
  });
});
