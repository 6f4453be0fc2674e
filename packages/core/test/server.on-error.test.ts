/**
 * `ScepServerOptions.onError`: the cause of every 5xx reaches the operator. An event names only a reason
 * (`store_unavailable`, `internal_error`); a store that is down and one that is full, a hook that throws, are told
 * apart only by the error, which the server hands to `onError` with the event. Never for a 2xx or 4xx; a throwing
 * `onError` changes nothing of the answer.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  MemoryChallengeStore,
  StoreUnavailableError,
  buildPkcsReq,
  createScepServer,
  type ScepEvent,
  type ScepProfile,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, getOp, issuingHook, postPki, type TestCa } from "./support/server-pki.js";
import { unhandledRejectionsDuring } from "./support/unhandled.js";

let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("onError CA");
});

function serverWith(profile: Partial<ScepProfile>, onError: (error: unknown, event: ScepEvent) => void) {
  return createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca), ...profile }],
    onError,
    now: () => NOW,
  });
}

async function enroll(server: ReturnType<typeof createScepServer>, cn: string, challengePassword = "pw"): Promise<Response> {
  const device = await createDevice({ cn, challengePassword });
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  return postPki(server, "/scep", built.der);
}

describe("onError: the cause of a 5xx", () => {
  it("an issue hook that throws: 500 internal error, onError gets the thrown error and the event", async () => {
    const seen: [unknown, ScepEvent][] = [];
    const boom = new Error("disk full at /var/lib/ca");
    const server = serverWith({ issue: async () => Promise.reject(boom) }, (e, ev) => seen.push([e, ev]));
    const res = await enroll(server, "hook-throws");
    expect(res.status).toBe(500);
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]).toBe(boom);
    expect(seen[0]![1]).toMatchObject({ operation: "PKCSReq", outcome: "error", reason: "internal_error", status: 500, profile: "p" });
  });

  it("the event of a 500 or 503 names the request as a FAILURE's does: messageType, transactionID and subject", async () => {
    const events: ScepEvent[] = [];
    const seen: [unknown, ScepEvent][] = [];
    const boom = new Error("CA database locked");
    const down = new StoreUnavailableError("redis: connection refused");
    const store = { issue: async () => "x", consume: async () => Promise.reject(down), release: async () => false };
    const server = createScepServer({
      profiles: [
        { name: "hook", path: "/hook", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: async () => Promise.reject(boom) },
        { name: "store", path: "/store", caCertificate: ca.cert, signer: ca.key, challenge: { type: "store", store }, issue: issuingHook(ca) },
      ],
      onEvent: (e) => events.push(e),
      onError: (e, ev) => seen.push([e, ev]),
      now: () => NOW,
    });
    for (const [path, cn, status] of [["/hook", "device-500", 500], ["/store", "device-503", 503]] as const) {
      const device = await createDevice({ cn, challengePassword: "pw" });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      expect((await postPki(server, path, built.der)).status).toBe(status);
      const event = events.at(-1)!;
      expect(event).toMatchObject({ operation: "PKCSReq", transactionId: built.transactionId, subject: `CN=${cn}, O=scep-sdk server tests`, status });
      expect(seen.at(-1)![1]).toBe(event);
    }
    expect(seen.map(([e]) => e)).toEqual([boom, down]); // the errors as thrown, not wrapped
  });

  it("a full in-memory challenge store and a store that is down: both 503 store_unavailable, told apart by the error's capacity", async () => {
    const seen: unknown[] = [];
    const full = new MemoryChallengeStore({ maxEntries: 1 });
    await full.issue({ profile: "p" });
    const fullError = await full.issue({ profile: "p" }).catch((e: unknown) => e);
    expect(fullError).toBeInstanceOf(StoreUnavailableError);
    expect((fullError as StoreUnavailableError).capacity).toBe(1);

    const down = new StoreUnavailableError("redis: connection refused");
    expect(down.capacity).toBeUndefined();
    const store = { issue: async () => "x", consume: async () => Promise.reject(down), release: async () => false };
    const server = serverWith({ challenge: { type: "store", store } }, (e) => seen.push(e));
    const res = await enroll(server, "store-down", "some-one-time-challenge");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(seen).toEqual([down]);
  });

  it("not for a 4xx or a success; an onError that throws leaves the answer as it was", async () => {
    let calls = 0;
    const ok = serverWith({}, () => calls++);
    expect((await enroll(ok, "fine")).status).toBe(200);
    expect((await getOp(ok, "/scep", "Nonsense")).status).toBe(400);
    expect((await postPki(ok, "/scep", new Uint8Array([1, 2, 3]))).status).toBe(400);
    expect(calls).toBe(0);

    const throwing = serverWith({ issue: async () => Promise.reject(new Error("hook bug")) }, () => {
      throw new Error("logger bug");
    });
    const res = await enroll(throwing, "logger-throws");
    expect(res.status).toBe(500);
    expect((await res.text()).trim()).toBe("internal error");
  });

  it("an async onError whose promise rejects (a log shipper that is down) is no unhandled rejection, which would end the process", async () => {
    const unhandled = await unhandledRejectionsDuring(async () => {
      let calls = 0;
      const server = serverWith({ issue: async () => Promise.reject(new Error("hook bug")) }, async () => {
        calls++;
        throw new Error("log shipper down");
      });
      const res = await enroll(server, "async-logger-rejects");
      expect(res.status).toBe(500);
      expect(calls).toBe(1);
    });
    expect(unhandled).toEqual([]);
  });
});
