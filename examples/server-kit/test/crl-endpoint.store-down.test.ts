/**
 * GET /scep/ca.crl while the revocation store is down (a StoreUnavailableError, as the Redis store throws): the
 * client gets 503 + Retry-After without the cause, and the operator's log one `crl-failed` line with it. The store is
 * a stand-in that fails the way a disconnected Redis store does; the CA is a real embedded CA.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryRevocationStore, StoreUnavailableError, type RevocationStore } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { CRL_PATH, createCrlEndpoint } from "../src/crl-endpoint.js";

let dir: string;
let ca: FileCa;
let up = true;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-crl-down-"));
  const memory = new MemoryRevocationStore();
  const down = (): never => {
    throw new StoreUnavailableError("Redis failed revision: connect ECONNREFUSED 127.0.0.1:6379");
  };
  const revocations: RevocationStore = {
    revoke: async (o) => (up ? memory.revoke(o) : down()),
    get: async (serial) => (up ? memory.get(serial) : down()),
    list: async () => (up ? memory.list() : down()),
    nextCrlNumber: async () => (up ? memory.nextCrlNumber() : down()),
    revision: async () => (up ? memory.revision() : down()),
  };
  ca = await openFileCa({ dataDir: dir, revocations });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the CRL endpoint with its revocation store down", () => {
  it("503 + Retry-After to the client, and one crl-failed line naming the path and the store's error", async () => {
    const lines: Record<string, unknown>[] = [];
    const endpoint = createCrlEndpoint(ca, (l) => lines.push(l));
    const get = () => endpoint.fetch(new Request(`http://127.0.0.1${CRL_PATH}`));
    const ok = await get();
    expect([ok.status, ok.headers.get("content-type")]).toEqual([200, "application/pkix-crl"]);
    expect(lines).toEqual([]);
    up = false;
    const res = await get();
    expect([res.status, res.headers.get("retry-after"), await res.text()]).toEqual([503, "30", "the revocation store is unavailable; try again\n"]);
    expect(lines).toEqual([
      { type: "crl-failed", path: CRL_PATH, status: 503, code: "ERR_STORE_UNAVAILABLE", error: "Redis failed revision: connect ECONNREFUSED 127.0.0.1:6379" },
    ]);
  });
});
