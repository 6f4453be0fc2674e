/**
 * Parser fuzzing of the example server's own parsers (issue 12, item 1):
 * the configuration file (`loadConfig`), the admin API's JSON bodies (every
 * POST route through the real admin handler), the GET `message` decoding
 * (through the real SCEP server's `fetch`) and @scep/intune's parsing of
 * Entra ID, Graph discovery and Intune API answers (through
 * `IntuneScepClient` with an injected `fetch`). Inputs are fast-check
 * generated and mutated from seeds (the README's configuration examples, the
 * documented admin bodies, every fixture message). Each input must end in a
 * valid result or a typed refusal (a `ConfigFileError` with its code; an HTTP
 * 4xx, or 2xx for a valid body), never an untyped throw or a 5xx; the time of
 * each is recorded (the bound is 50 ms; reported, not asserted, since
 * the machine may be loaded).
 *
 * Used by `pnpm stress:fuzz-parsers` (100,000 inputs per target) and the
 * suite's `fuzz.parsers.test.ts` (a few hundred).
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { IntuneScepClient } from "@scep/intune";
import { ConfigFileError, loadConfig } from "../../server-kit/src/config-file.js";
import { parseConfig, type ServerConfig } from "../../server-kit/src/config.js";
import { createKit } from "../../server-kit/src/start-server.js";
import { fixtureSeeds, mutate } from "./http-fuzz.js";

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));
const TOKEN = "parser-fuzz-admin-token-0123456789";

/** The README's JSON blocks that are configuration files (they hold `"profiles"`). */
export function configSeeds(): string[] {
  const text = readFileSync(README, "utf8");
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('"profiles"'));
}

/** A fuzz target: inputs, and a run that resolves with "valid" or "refused", or rejects with what was wrong. */
export interface ParserTarget<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  run(input: T): Promise<"valid" | "refused">;
}

/** Replaces the value at a random path of a JSON value with `replacement`. */
function replaceAt(value: unknown, pick: number, replacement: unknown): unknown {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    paths.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(value, []);
  const path = paths[pick % paths.length]!;
  if (path.length === 0) return replacement;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = replacement;
  return copy;
}

/**
 * JSON values that break code coercing what a peer sent (`Number(x)`, `String(x)`, a template literal): objects whose
 * `toString`/`valueOf` are not functions (a TypeError "Cannot convert object to primitive value"), one that reads as a
 * number only through coercion, and a `__proto__` key (an own property after `JSON.parse`). Mixed into every JSON
 * target's replacements: the seeded run that found `expires_in: {"toString": …}` in @scep/intune (2026-12-03) hit it
 * by chance.
 */
const COERCION_TRAPS: unknown[] = [{ toString: 1 }, { toString: {}, valueOf: {} }, { valueOf: 3599 }, [{ toString: null }], [3599], JSON.parse('{"__proto__":{"isAdmin":true}}')];

const textMutation = (seed: string): fc.Arbitrary<string> =>
  fc
    .array(fc.record({ at: fc.nat(), del: fc.nat({ max: 8 }), ins: fc.string({ maxLength: 8, unit: fc.constantFrom(...'{}[]",:0123456789-.eE truefalsnul\\u00ffé\u0000') }) }), { minLength: 1, maxLength: 4 })
    .map((ms) => {
      let s = seed;
      for (const m of ms) {
        const at = m.at % (s.length + 1);
        s = s.slice(0, at) + m.ins + s.slice(at + m.del);
      }
      return s;
    });

/** The configuration file target: seeds from the README, structurally and textually mutated. */
export function configFileTarget(): ParserTarget<string> {
  const seeds = configSeeds().map((s) => JSON.parse(s) as unknown);
  const structural = fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.nat(), fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom(null, -1, 0, 1e308, "", "/scep", "static", "intune", [], {}, ...COERCION_TRAPS))).map(([i, p, r]) => JSON.stringify(replaceAt(seeds[i], p, r)));
  const textual = fc.nat({ max: seeds.length - 1 }).chain((i) => textMutation(JSON.stringify(seeds[i])));
  // Only inputs that start with "{" are parsed as text (others are file paths: not this target).
  const arbitrary = fc.oneof(structural, textual, fc.jsonValue().map((v) => JSON.stringify({ profiles: v })), fc.string().map((s) => "{" + s)).map((s) => (s.trimStart().startsWith("{") ? s : "{" + s));
  return {
    name: "config file (loadConfig)",
    arbitrary,
    async run(input) {
      try {
        loadConfig(input, { baseDir: tmpdir() });
        return "valid";
      } catch (e) {
        if (e instanceof ConfigFileError && (e.code === "ERR_CONFIG_FILE_JSON" || e.code === "ERR_CONFIG_FILE_INVALID" || e.code === "ERR_CONFIG_FILE_READ")) return "refused";
        throw e;
      }
    },
  };
}

/** A kit (CA, SCEP server, admin API) in a temporary data directory, for the in-process targets. */
export async function openKit(): Promise<{ kit: Awaited<ReturnType<typeof createKit>>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "scep-parser-fuzz-"));
  const config = parseConfig([], { SCEP_DATA_DIR: join(dir, "data"), SCEP_CHALLENGE: "secret", SCEP_ADMIN_TOKEN: TOKEN, SCEP_ONE_TIME_CHALLENGES: "1", PORT: "0" }) as ServerConfig;
  const kit = await createKit(config, undefined, {});
  return {
    kit,
    async close() {
      await kit.close(); // (the first CRL is written before the stores close and the directory goes)
      await kit.stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ADMIN_SEEDS: Record<string, unknown[]> = {
  approve: [{ transactionId: "abc" }, { transactionID: "abc", profile: "/scep" }],
  reject: [{ transactionId: "abc", reason: "no" }],
  challenges: [{}, { ttlSeconds: 3600 }, { profile: "/scep", ttlSeconds: 60 }],
  revoke: [{ serial: "4a01", reason: "keyCompromise" }, { serialNumber: "01", reason: "superseded", profile: "/scep" }],
  "reload-trust": [{}, { profile: "/scep" }],
};

/** The admin API's POST routes with mutated and random JSON bodies (and some that are not JSON). */
export function adminJsonTarget(kit: Awaited<ReturnType<typeof createKit>>): ParserTarget<{ route: string; body: string; contentType: string }> {
  const routes = Object.keys(ADMIN_SEEDS);
  const seedBody = fc.constantFrom(...routes).chain((route) =>
    fc.tuple(fc.constant(route), fc.nat({ max: ADMIN_SEEDS[route]!.length - 1 }), fc.nat(), fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom(null, "", "/scep", "keyCompromise", 0, -1, 1e21, 3600, "a".repeat(5000), ...COERCION_TRAPS))).map(([r, i, p, rep]) => ({ route: r, body: JSON.stringify(replaceAt(ADMIN_SEEDS[r]![i], p, rep)) })),
  );
  const anyBody = fc.tuple(fc.constantFrom(...routes), fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string(), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("latin1")))).map(([route, body]) => ({ route, body }));
  const textual = fc.constantFrom(...routes).chain((route) => textMutation(JSON.stringify(ADMIN_SEEDS[route]![0])).map((body) => ({ route, body })));
  const arbitrary = fc.tuple(fc.oneof(seedBody, anyBody, textual), fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "")).map(([b, contentType]) => ({ ...b, contentType }));
  const admin = kit.admin!;
  return {
    name: "admin API JSON bodies",
    arbitrary,
    async run(input) {
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
      if (input.contentType) headers["content-type"] = input.contentType;
      const res = await admin.fetch(new Request(`http://127.0.0.1/admin/scep/${input.route}`, { method: "POST", headers, body: input.body }), { remoteAddress: "127.0.0.1" });
      await res.arrayBuffer();
      if (res.status >= 500) throw new Error(`HTTP ${res.status} for ${input.route} ${input.body.slice(0, 200)}`);
      return res.status < 300 ? "valid" : "refused";
    },
  };
}

/** GET PKIOperation with a `message` built from mutated fixture messages and odd encodings, through the SCEP server. */
export function getMessageTarget(kit: Awaited<ReturnType<typeof createKit>>): ParserTarget<string> {
  const seeds = fixtureSeeds().map((s) => s.der);
  const mutated = fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(fc.record({ op: fc.constantFrom("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { maxLength: 3 })).map(([i, ms]) => Buffer.from(mutate(seeds[i]!, ms)).toString("base64"));
  const encoded = fc.tuple(mutated, fc.constantFrom("raw", "pct", "url", "space", "cut", "junk")).map(([b64, how]) =>
    how === "raw" ? b64 : how === "pct" ? encodeURIComponent(b64) : how === "url" ? b64.replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "") : how === "space" ? b64.replaceAll("+", "%20") : how === "cut" ? b64.slice(0, b64.length - 3) : b64 + "%zz!*",
  );
  const arbitrary = fc.oneof({ weight: 4, arbitrary: encoded }, { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map(encodeURIComponent) }, { weight: 1, arbitrary: fc.base64String({ maxLength: 400 }) });
  return {
    name: "GET message decoding (core)",
    arbitrary,
    async run(message) {
      const res = await kit.server.fetch(new Request(`http://127.0.0.1/scep?operation=PKIOperation&message=${message}`));
      await res.arrayBuffer();
      if (res.status >= 500) throw new Error(`HTTP ${res.status} for message ${message.slice(0, 120)}`);
      return res.status === 200 ? "valid" : "refused";
    },
  };
}

const INTUNE_SEEDS = {
  token: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: "eyJ0eXAiOiJKV1QifQ.e30.c2ln" },
  discovery: { "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('x')/endpoints", value: [{ providerName: "ScepRequestValidationFEService", uri: "https://intune.invalid/TrafficGateway/PassThroughRoutingService/StatelessScepService/ScepRequestValidationFEService" }] },
  action: { code: "Success", errorDescription: "", transactionId: "abc", activityId: "00000000-0000-0000-0000-000000000000" },
} as const;

/**
 * @scep/intune's answer parsing: one of the three answers a validation needs (Entra ID token, Graph discovery,
 * Intune's validateRequest) is replaced by a mutated or random body and status; `validateRequest` must resolve
 * with a code or reject with an `ERR_INTUNE_*` error.
 */
export function intuneResponseTarget(): ParserTarget<{ stage: keyof typeof INTUNE_SEEDS; status: number; body: string; contentType: string }> {
  const stages = Object.keys(INTUNE_SEEDS) as (keyof typeof INTUNE_SEEDS)[];
  const arbitrary = fc
    .record({
      stage: fc.constantFrom(...stages),
      status: fc.constantFrom(200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503),
      pick: fc.nat(),
      replacement: fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom(null, "", 0, -1, 1e308, "Success", "ChallengePasswordExpired", [], {}, ...COERCION_TRAPS)),
      mode: fc.constantFrom("structural", "structural", "text", "random"),
      text: fc.string({ maxLength: 200 }),
      contentType: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/html", ""),
    })
    .chain((r) =>
      (r.mode === "text" ? textMutation(JSON.stringify(INTUNE_SEEDS[r.stage])) : fc.constant(r.mode === "random" ? r.text : JSON.stringify(replaceAt(INTUNE_SEEDS[r.stage], r.pick, r.replacement)))).map((body) => ({
        stage: r.stage,
        status: r.status,
        body,
        contentType: r.contentType,
      })),
    );
  return {
    name: "Intune API answers (@scep/intune)",
    arbitrary,
    async run(input) {
      const answer = (stage: keyof typeof INTUNE_SEEDS): Response =>
        stage === input.stage
          ? new Response(input.status === 204 ? null : input.body, { status: input.status, headers: input.contentType ? { "content-type": input.contentType } : {} })
          : new Response(JSON.stringify(INTUNE_SEEDS[stage]), { status: 200, headers: { "content-type": "application/json" } });
      const client = new IntuneScepClient({
        tenant: "contoso.onmicrosoft.com",
        clientId: "11111111-1111-1111-1111-111111111111",
        credential: { clientSecret: "fuzz-secret" },
        retries: 0,
        timeoutMs: 2000,
        sleep: async () => undefined,
        fetch: async (url) => {
          const u = String(url);
          return answer(u.includes("/oauth2/") ? "token" : u.includes("/servicePrincipals") ? "discovery" : "action");
        },
      });
      try {
        const r = await client.validateRequest({ transactionId: "abc", certificateRequest: new Uint8Array([0x30, 0x00]) });
        if (typeof r.code !== "string" || r.code === "") throw new Error(`validateRequest resolved without a code: ${JSON.stringify(r)}`);
        return "valid";
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (e instanceof Error && typeof code === "string" && code.startsWith("ERR_INTUNE_")) return "refused";
        throw e;
      }
    },
  };
}

/** What a target's run did. */
export interface ParserReport {
  target: string;
  inputs: number;
  valid: number;
  refused: number;
  /** Inputs that threw an untyped error or got a 5xx (first 10). */
  crashes: string[];
  p99Ms: number;
  maxMs: number;
  /** Inputs that took longer than 50 ms. */
  over50Ms: number;
  elapsedMs: number;
}

/** Runs `count` inputs of `target` from `seed`, one at a time. */
export async function runParserFuzz<T>(target: ParserTarget<T>, count: number, seed: number): Promise<ParserReport> {
  const report: ParserReport = { target: target.name, inputs: 0, valid: 0, refused: 0, crashes: [], p99Ms: 0, maxMs: 0, over50Ms: 0, elapsedMs: 0 };
  const times: number[] = [];
  const t0 = performance.now();
  // In batches, so 100,000 inputs are never all in memory at once.
  for (let done = 0; done < count; ) {
    const batch = fc.sample(target.arbitrary, { numRuns: Math.min(1000, count - done), seed: seed + done });
    for (const input of batch) {
      const start = performance.now();
      try {
        report[await target.run(input)] += 1;
      } catch (e) {
        if (report.crashes.length < 10) report.crashes.push(`${(e as Error).name}: ${(e as Error).message}`.slice(0, 300) + ` <- ${JSON.stringify(input).slice(0, 300)}`);
      }
      const ms = performance.now() - start;
      times.push(ms);
      if (ms > 50) report.over50Ms += 1;
      report.inputs += 1;
    }
    done += batch.length;
  }
  report.elapsedMs = Math.round(performance.now() - t0);
  times.sort((a, b) => a - b);
  report.p99Ms = Math.round((times[Math.ceil(times.length * 0.99) - 1] ?? 0) * 100) / 100;
  report.maxMs = Math.round((times.at(-1) ?? 0) * 100) / 100;
  return report;
}
