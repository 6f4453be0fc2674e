/**
 * Every ChallengeSource against the published conformance suite
 * (`@scep/proxy/testing`): MemoryChallengeSource (fixed and scripted),
 * NdesChallengeSource against the loopback IIS stand-in that really checks
 * NTLMv2 (support/ndes-server.ts), SmallstepChallengeSource against a
 * loopback webhook that checks its Basic credentials.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { NdesHttpStatusError, NdesPasswordCacheFullError } from "../src/challenge-sources/errors.js";
import { MemoryChallengeSource } from "../src/challenge-sources/memory-challenge-source.js";
import { NdesChallengeSource } from "../src/challenge-sources/ndes-challenge-source.js";
import { SmallstepChallengeSource } from "../src/challenge-sources/smallstep-challenge-source.js";
import { challengeSourceConformance } from "../src/testing/index.js";
import { CACHE_FULL_PAGE, NO_PERMISSION_PAGE, PAGE_CHALLENGE, challengePage, encodePage } from "./support/ndes-pages.js";
import { startNdesServer, type NdesServer, type PageReply } from "./support/ndes-server.js";
import { freeStablePort } from "../../../test-support/peers";

const PASSWORD = "Corr3ct horse: battery staple!";

/** A promise and its resolver, for "the request reached the server". */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A port nothing listens on, below the ephemeral range: a listen(0) port closed again could be handed to another
 * test's listen(0) before the call (which is then answered), or be the call's own local port (see freeStablePort).
 */
const closedPort = freeStablePort;

// ---- memory ----------------------------------------------------------------

const memoryCa: CaConfig = { name: "corp", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll" };
let memoryReached = deferred();

challengeSourceConformance({
  name: "MemoryChallengeSource (scripted)",
  create: ({ now }) =>
    new MemoryChallengeSource({
      now,
      challenge: (ca, { signal }) => {
        switch (ca.name) {
          case "full":
            throw new NdesPasswordCacheFullError("NDES password cache is full");
          case "503":
            throw new NdesHttpStatusError("NDES admin page answered HTTP 503", 503);
          case "throws":
            throw new Error(`backend failed holding ${PASSWORD}`);
          case "empty":
            return "";
          case "long":
            return "x".repeat(256);
          case "control":
            return "abc\u0000def";
          case "hang":
            memoryReached.resolve();
            return new Promise<string>((_, reject) => signal?.addEventListener("abort", () => reject(new Error("aborted late")), { once: true }));
          default:
            return "8CE317021F690069";
        }
      },
    }),
  ok: () => ({ ca: memoryCa, challenge: "8CE317021F690069" }),
  hanging: () => {
    memoryReached = deferred();
    return { ca: { ...memoryCa, name: "hang" }, reached: memoryReached.promise };
  },
  failures: [
    { label: "a scripted NdesPasswordCacheFullError", ca: () => ({ ...memoryCa, name: "full" }), code: "ERR_PROXY_NDES_CACHE_FULL", retryable: true },
    { label: "a scripted HTTP 503", ca: () => ({ ...memoryCa, name: "503" }), code: "ERR_PROXY_NDES_HTTP_STATUS", retryable: true },
    { label: "a function throwing a plain Error", ca: () => ({ ...memoryCa, name: "throws" }), code: "ERR_PROXY_CHALLENGE_SOURCE", retryable: false },
    { label: "an empty challenge", ca: () => ({ ...memoryCa, name: "empty" }), code: "ERR_PROXY_CHALLENGE_SOURCE", retryable: false },
    { label: "a challenge of 256 characters", ca: () => ({ ...memoryCa, name: "long" }), code: "ERR_PROXY_CHALLENGE_SOURCE", retryable: false },
    { label: "a challenge holding NUL", ca: () => ({ ...memoryCa, name: "control" }), code: "ERR_PROXY_CHALLENGE_SOURCE", retryable: false },
  ],
  secrets: [PASSWORD],
});

challengeSourceConformance({
  name: "MemoryChallengeSource (fixed)",
  create: ({ now }) => new MemoryChallengeSource({ now, challenge: "fixed-challenge-0001" }),
  ok: () => ({ ca: { name: "step", type: "smallstep", url: "https://ca.example/scep" }, challenge: "fixed-challenge-0001" }),
  failures: [],
});

challengeSourceConformance({
  name: "MemoryChallengeSource (generated)",
  create: ({ now }) => new MemoryChallengeSource({ now }),
  ok: () => ({ ca: { name: "custom", type: "custom", url: "https://ca.example/scep" } }),
  failures: [],
});

// ---- NDES over NTLM ----------------------------------------------------------

const ndes: Record<string, NdesServer> = {};
let ndesReached = deferred();
let refusedPort = 0;

beforeAll(async () => {
  const start = async (name: string, page: () => PageReply, auth: "ntlm" | "basic" = "ntlm"): Promise<void> => {
    ndes[name] = await startNdesServer({ username: "svc-ndes", domain: "CORP", password: PASSWORD, auth, page });
  };
  await start("ok", () => ({ status: 200, contentType: "text/html", body: encodePage(challengePage(), "utf-16le") }));
  await start("full", () => ({ status: 200, contentType: "text/html", body: encodePage(CACHE_FULL_PAGE, "utf-16le") }));
  await start("permission", () => ({ status: 200, contentType: "text/html; charset=utf-8", body: NO_PERMISSION_PAGE }));
  await start("empty", () => ({ status: 200, contentType: "text/html", body: "" }));
  await start("404", () => ({ status: 404, contentType: "text/html", body: "not found" }));
  await start("503", () => ({ status: 503, contentType: "text/html", body: "busy" }));
  await start("hang", () => {
    ndesReached.resolve();
    return "hang";
  });
  refusedPort = await closedPort();
});
afterAll(async () => {
  await Promise.all(Object.values(ndes).map((s) => s.close()));
});

const ndesCa = (adminUrl: string, password = PASSWORD): CaConfig => ({
  name: "corp-ndes",
  type: "ndes",
  url: "http://127.0.0.1:1/certsrv/mscep/mscep.dll",
  ndes: { adminUrl, username: "CORP\\svc-ndes", password },
});

challengeSourceConformance({
  name: "NdesChallengeSource (loopback IIS stand-in checking NTLMv2)",
  create: ({ now }) => new NdesChallengeSource({ now, timeoutMs: 20_000 }),
  ok: () => ({ ca: ndesCa(ndes.ok!.url), challenge: PAGE_CHALLENGE }),
  hanging: () => {
    ndesReached = deferred();
    return { ca: ndesCa(ndes.hang!.url), reached: ndesReached.promise };
  },
  failures: [
    { label: "password cache full", ca: () => ndesCa(ndes.full!.url), code: "ERR_PROXY_NDES_CACHE_FULL", retryable: true },
    { label: "no permission", ca: () => ndesCa(ndes.permission!.url), code: "ERR_PROXY_NDES_PERMISSION", retryable: false },
    { label: "wrong password", ca: () => ndesCa(ndes.ok!.url, "wrong password"), code: "ERR_PROXY_NDES_AUTH", retryable: false },
    { label: "empty page", ca: () => ndesCa(ndes.empty!.url), code: "ERR_PROXY_NDES_EMPTY", retryable: false },
    { label: "HTTP 404", ca: () => ndesCa(ndes["404"]!.url), code: "ERR_PROXY_NDES_HTTP_STATUS", retryable: false },
    { label: "HTTP 503", ca: () => ndesCa(ndes["503"]!.url), code: "ERR_PROXY_NDES_HTTP_STATUS", retryable: true },
    { label: "connection refused", ca: () => ndesCa(`http://127.0.0.1:${refusedPort}/certsrv/mscep_admin/`), code: "ERR_PROXY_NDES_TRANSPORT", retryable: true },
    { label: "a CA that is not of type ndes", ca: () => ({ name: "step", type: "smallstep", url: "https://ca.example/scep" }), code: "ERR_PROXY_CHALLENGE_SOURCE_CONFIG", retryable: false },
  ],
  secrets: [PASSWORD],
});

// ---- Smallstep webhook -------------------------------------------------------

const STEP_PASSWORD = "s3cret:with colon";
const STEP_CHALLENGE = "step-challenge-7f3a";
let webhook: Server;
let webhookBase = "";
const held = new Set<Socket>();
let stepReached = deferred();

beforeAll(async () => {
  webhook = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const expected = `Basic ${Buffer.from(`mdm:${STEP_PASSWORD}`).toString("base64")}`;
      if (req.headers.authorization !== expected) return void res.writeHead(401).end();
      const path = req.url ?? "";
      if (path === "/ok") return void res.writeHead(200, { "content-type": "text/plain" }).end(`${STEP_CHALLENGE}\n`);
      if (path === "/empty") return void res.writeHead(200, { "content-type": "text/plain" }).end("");
      if (path === "/503") return void res.writeHead(503).end("busy");
      if (path === "/hang") {
        held.add(req.socket);
        stepReached.resolve();
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", () => r()));
  webhookBase = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
});
afterAll(async () => {
  webhook.closeAllConnections();
  await new Promise<void>((r) => webhook.close(() => r()));
});

const stepCa = (path: string, password = STEP_PASSWORD): CaConfig => ({
  name: "step",
  type: "smallstep",
  url: "https://agents.example.scep.smallstep.com/p/agents/mdm",
  smallstep: { webhookUrl: `${webhookBase}${path}`, username: "mdm", password },
});

challengeSourceConformance({
  name: "SmallstepChallengeSource (loopback webhook)",
  create: ({ now }) => new SmallstepChallengeSource({ now, timeoutMs: 20_000 }),
  ok: () => ({ ca: stepCa("/ok"), challenge: STEP_CHALLENGE }),
  hanging: () => {
    stepReached = deferred();
    return { ca: stepCa("/hang"), reached: stepReached.promise };
  },
  failures: [
    { label: "wrong password (401)", ca: () => stepCa("/ok", "wrong"), code: "ERR_PROXY_SMALLSTEP_AUTH", retryable: false },
    { label: "empty body", ca: () => stepCa("/empty"), code: "ERR_PROXY_SMALLSTEP_EMPTY", retryable: false },
    { label: "HTTP 503", ca: () => stepCa("/503"), code: "ERR_PROXY_SMALLSTEP_HTTP_STATUS", retryable: true },
    { label: "HTTP 404", ca: () => stepCa("/nowhere"), code: "ERR_PROXY_SMALLSTEP_HTTP_STATUS", retryable: false },
    { label: "connection refused", ca: () => ({ ...stepCa("/ok"), smallstep: { webhookUrl: `http://127.0.0.1:${refusedPort}/w`, username: "mdm", password: STEP_PASSWORD } }), code: "ERR_PROXY_SMALLSTEP_TRANSPORT", retryable: true },
    { label: "a CA that is not of type smallstep", ca: () => ndesCa("http://127.0.0.1:1/"), code: "ERR_PROXY_CHALLENGE_SOURCE_CONFIG", retryable: false },
  ],
  secrets: [STEP_PASSWORD],
});

describe("MemoryChallengeSource (generated): @scep/core's newChallenge", () => {
  it("hands out 32 base64url characters, fresh per call, never starting with '-' (a command line would read it as an option)", async () => {
    const source = new MemoryChallengeSource();
    const ca = { name: "corp", type: "custom", url: "http://127.0.0.1:1/scep" } as unknown as CaConfig;
    const fetched = await Promise.all(Array.from({ length: 2000 }, () => source.fetchChallenge(ca)));
    const challenges = fetched.map((f) => f.challenge);
    for (const c of challenges) expect(c).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
    expect(new Set(challenges).size).toBe(2000);
  });
});
