/**
 * INTUNE.md "Mode A": `nodeHttpFetch`, the node:http keep-alive client the
 * Intune clients take instead of the global fetch, answers every exchange of
 * the loopback Entra ID / Graph / Intune fake exactly as the global fetch does:
 * the same requests, the same verdicts, and the same typed error (code and
 * message) for a slow, broken, oversized, redirecting or absent API.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { CertificationRequest } from "@scep/core";
import { IntuneValidator, nodeHttpFetch, type Fetch, type IntuneError, type IntuneValidatorOptions } from "../src/index.js";
import { callJson } from "../src/api/http.js";
import { TENANT, startFakeIntune, fakeIntuneConnection, type Behaviour, type FakeIntune } from "./support/fake-intune.js";
import { csrWith } from "./support/tokens.js";

const TXID = "6D3A1C9F0B7E4A2D8C5B1E0F9A8D7C6B";
const unavailable = { ok: false, reason: "intune_unavailable", failInfo: "badRequest", failInfoText: "Intune challenge validation is unavailable; try again later" };
const globalFetch: Fetch = (input, init) => fetch(input, init);

let fake: FakeIntune;
let csr: CertificationRequest;
let errors: IntuneError[];

beforeAll(async () => {
  csr = await csrWith("opaque-intune-challenge-blob");
});
beforeEach(async () => {
  fake = await startFakeIntune();
  errors = [];
});
afterEach(() => fake.close());

function validator(fetchImpl: Fetch, options: Partial<IntuneValidatorOptions> = {}): IntuneValidator {
  return new IntuneValidator({
    ...fakeIntuneConnection(fake),
    provider: "contoso-scep/2.1",
    timeoutMs: 30_000, // generous: a test of the deadline sets its own
    retries: 0,
    onError: (e) => void errors.push(e),
    fetch: fetchImpl,
    ...options,
  });
}
const input = () => ({ challenge: csr.challengePassword, csr, request: { transactionId: TXID } });

/** Turns of the event loop (I/O included) until `done()` holds: waits on the loopback exchange, not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}

describe("nodeHttpFetch sends what the global fetch sends (INTUNE.md Mode A exchange)", () => {
  it("token, discovery and validateRequest: same paths, bodies and the headers the clients set (fetch alone adds user-agent: node where the client sets none); Success is accepted", async () => {
    const seen: Record<string, unknown>[] = [];
    for (const f of [globalFetch, nodeHttpFetch]) {
      fake.requests.length = 0;
      expect(await validator(f).validate(input())).toMatchObject({ ok: true });
      seen.push({
        calls: fake.requests.map((r) => [r.kind, r.method, r.path]),
        bodies: fake.requests.filter((r) => r.kind === "validateRequest").map((r) => JSON.parse(r.body)),
        headers: fake.requests.map((r) => [r.headers["content-type"], r.headers["accept"], r.headers["authorization"] !== undefined, r.headers["api-version"], r.kind === "validateRequest" ? r.headers["user-agent"] : "(fetch adds its own)"]),
      });
    }
    expect(seen[1]).toEqual(seen[0]);
    expect(fake.of("validateRequest")[0]!.headers["user-agent"]).toBe("contoso-scep/2.1");
    expect((seen[1] as { calls: unknown[] }).calls).toEqual([
      ["token", "POST", `/${TENANT}/oauth2/v2.0/token`],
      ["discovery", "GET", expect.stringMatching(/^\/v1\.0\/servicePrincipals\/appId=/)],
      ["token", "POST", `/${TENANT}/oauth2/v2.0/token`],
      ["validateRequest", "POST", expect.stringMatching(/\/ScepActions\/validateRequest$/)],
    ]);
  });

  it("called directly it answers a Response with the status and the whole body", async () => {
    const res = await nodeHttpFetch(`${fake.base}/nowhere`, { method: "GET", headers: { accept: "application/json" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no such route on the fake" });
  });
});

describe("nodeHttpFetch fails with the global fetch's typed errors → intune_unavailable, never a throw", () => {
  it.each([
    ["HTTP 200 with HTML", { raw: "<html>maintenance</html>", contentType: "text/html" }, "ERR_INTUNE_RESPONSE"],
    ["HTTP 200 with {} (no code)", { json: {} }, "ERR_INTUNE_RESPONSE"],
    ["HTTP 500", { json: {}, status: 500 }, "ERR_INTUNE_TRANSPORT"],
    ["HTTP 403", { json: {}, status: 403 }, "ERR_INTUNE_TRANSPORT"],
    ["the connection dropped without an answer", { destroy: true }, "ERR_INTUNE_TRANSPORT"],
    ["a response over 1 MiB", { raw: `{"code":"Success","errorDescription":"${"x".repeat(1_100_000)}"}` }, "ERR_INTUNE_RESPONSE"],
  ] as [string, Behaviour, string][])("%s", async (_n, answer, code) => {
    const outcomes: unknown[] = [];
    for (const f of [globalFetch, nodeHttpFetch]) {
      errors = [];
      fake.next("validateRequest", answer);
      expect(await validator(f).validate(input())).toEqual(unavailable);
      outcomes.push(errors.map((e) => [e.code, e.message.replace(/\(.*\)$/, "(…)"), (e as { status?: number }).status]));
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
    expect((outcomes[1] as string[][])[0]![0]).toBe(code);
  });

  it("no answer within timeoutMs → ERR_INTUNE_TIMEOUT with the global fetch's message", async () => {
    // The 300 ms deadline runs on a fake clock, moved once Intune has the request (the token and discovery calls
    // before it are real loopback exchanges that a loaded machine must not time out).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      fake.next("validateRequest", { hang: true });
      const verdict = validator(nodeHttpFetch, { timeoutMs: 300 }).validate(input());
      await until(() => fake.of("validateRequest").length === 1);
      await vi.advanceTimersByTimeAsync(300);
      expect(await verdict).toEqual(unavailable);
    } finally {
      vi.useRealTimers();
    }
    expect(errors.map((e) => [e.code, e.message])).toEqual([["ERR_INTUNE_TIMEOUT", "Intune validateRequest: no answer within 300 ms"]]);
  });

  it("nothing listening (connection refused) → ERR_INTUNE_TRANSPORT", async () => {
    await fake.close();
    expect(await validator(nodeHttpFetch).validate(input())).toEqual(unavailable);
    expect(errors.map((e) => [e.code, (e as { status?: number }).status])).toEqual([["ERR_INTUNE_TRANSPORT", undefined]]);
  });
});

describe("a redirect is refused, as fetch's redirect: \"error\" refuses it", () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(302, { location: "https://elsewhere.example/" }).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return () => new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("a 302 with Location: ERR_INTUNE_TRANSPORT without status (retryable) from both clients", async () => {
    for (const f of [globalFetch, nodeHttpFetch]) {
      const e = await callJson({ fetch: f, method: "GET", url: `${base}/x`, headers: {}, timeoutMs: 30_000, what: "probe" }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: undefined });
      expect((e as Error).message).toMatch(/^probe: request failed \(/);
    }
  });
});

describe("nodeHttpFetch's errors name the host, never the URL's credentials", () => {
  it("user:password@ and ?token= are masked in ERR_INTUNE_TRANSPORT", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await nodeHttpFetch(`http://user:s3cret@127.0.0.1:${port}/endpoints?token=s3cret`, {}).then(
      () => undefined,
      (e: unknown) => e as IntuneError,
    );
    expect(error?.code).toBe("ERR_INTUNE_TRANSPORT");
    expect(error?.message).toContain(`GET http://user:***@127.0.0.1:${port}/endpoints?token=***: request failed`);
    expect(error?.message).not.toContain("s3cret");
  });
});
