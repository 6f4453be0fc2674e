/**
 * Issue 12, item 1, small: a few hundred fast-check inputs each through the
 * configuration file parser, the admin API's JSON bodies, core's GET
 * `message` decoding and @scep/intune's parsing of Entra ID, Graph and Intune
 * answers (examples/interop/stress/parser-fuzz.ts); every input
 * ends in a valid result or a typed refusal (ConfigFileError with its code,
 * an HTTP 4xx), never an untyped throw or a 5xx. `pnpm stress:fuzz-parsers`
 * runs 100,000 per target (see docs/security.md).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminJsonTarget, configFileTarget, configSeeds, getMessageTarget, intuneResponseTarget, openKit, runParserFuzz } from "../../interop/stress/parser-fuzz.js";

let opened: Awaited<ReturnType<typeof openKit>>;
beforeAll(async () => {
  opened = await openKit();
});
afterAll(() => opened?.close());

describe("parsers under fuzzing (issue 12 item 1)", () => {
  it("the configuration file: every input is a Config or a ConfigFileError with its code", async () => {
    expect(configSeeds().length).toBeGreaterThanOrEqual(2);
    const r = await runParserFuzz(configFileTarget(), 400, 20261129);
    expect(r.crashes).toEqual([]);
    expect(r.inputs).toBe(400);
    // Both ends are reached: some mutated files still load, most are refused.
    expect(r.valid).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
  });

  it("the admin API's JSON bodies: every POST route answers 2xx or 4xx, never 5xx or a throw", async () => {
    const r = await runParserFuzz(adminJsonTarget(opened.kit), 400, 20261129);
    expect(r.crashes).toEqual([]);
    expect(r.valid + r.refused).toBe(400);
    expect(r.refused).toBeGreaterThan(0);
  });

  it("GET PKIOperation message decoding: every message gets a CertRep or a 4xx, never 5xx or a throw", async () => {
    const r = await runParserFuzz(getMessageTarget(opened.kit), 400, 20261129);
    expect(r.crashes).toEqual([]);
    expect(r.valid).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
  });

  it("Intune's answers (token, discovery, validateRequest), mutated one at a time: a code or an ERR_INTUNE_* error", async () => {
    const r = await runParserFuzz(intuneResponseTarget(), 400, 20261129);
    expect(r.crashes).toEqual([]);
    expect(r.valid).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
  });
});
