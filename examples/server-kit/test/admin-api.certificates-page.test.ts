/**
 * `GET /admin/scep/certificates` reads one page of the embedded CA's index (FileCa.listPage), not the whole index per
 * request: on a ~4 MB index a page of 50 reads about 50 lines' bytes (counted by the kernel: /proc/self/io rchar), and
 * the answers are those of the whole-index listing it replaces (every page, filter and total alike). The revocation
 * store is asked about the page's serials (one get each), never listed whole: on Redis that was an HGETALL of every
 * revocation the CA ever made, per page.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCsr, generateRsaKeyPair, normalizeSerialNumber, type RevocationStore, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "certificates-page-admin-token";
const LINES = 3_000;
let dir: string;
let ca: FileCa;
let indexPath: string;

const serialOf = (n: number): string => "40" + n.toString(16).padStart(32, "0");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-pages-"));
  ca = await openFileCa({ dataDir: dir, certificateFiles: false });
  const keys = await generateRsaKeyPair();
  await ca.issue({ csrDer: await generateCsr({ keys, subject: "CN=seed" }) });
  indexPath = join(dir, "index.jsonl");
  const seed = JSON.parse(readFileSync(indexPath, "utf8")) as Record<string, string>;
  const lines: string[] = [];
  for (let n = 0; n < LINES; n += 1) lines.push(JSON.stringify({ ...seed, serial: serialOf(n), subject: `CN=device-${n % 700}, O=${n % 3 === 0 ? "Lab" : "Example"}` }));
  lines.splice(10, 0, "torn{", JSON.stringify({ ...seed, serial: "80c0ffee01", subject: "CN=high" }), JSON.stringify({ ...seed, serial: serialOf(5), subject: "CN=duplicate" }));
  writeFileSync(indexPath, lines.join("\n") + "\n");
  for (const n of [7, 2_999, 1_500]) await ca.revoke(serialOf(n), "keyCompromise");
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const api = () => createAdminApi({ token: TOKEN, server: { profiles: () => [{ profile: "/scep" }] } as unknown as ScepServer, defaultProfile: "/scep", log: () => {}, ca });
const get = async (query: string): Promise<{ status: number; body: unknown }> => {
  const res = await api().fetch(new Request(`http://127.0.0.1/admin/scep/certificates${query}`, { headers: { authorization: `Bearer ${TOKEN}` } }));
  return { status: res.status, body: await res.json() };
};

/** The answer of the listing this replaced: every valid index line, filtered, newest first, then sliced. */
async function expected(query: string): Promise<unknown> {
  const q = new URLSearchParams(query);
  const page = Number(q.get("page") ?? 1);
  const pageSize = Number(q.get("pageSize") ?? 50);
  const subject = q.get("subject")?.toLowerCase();
  const serialText = q.get("serial");
  const canonical = (s: string): string => {
    try {
      return normalizeSerialNumber(s);
    } catch {
      return s;
    }
  };
  const revoked = new Map((await ca.revocations.list()).map((r) => [r.serialNumber, r]));
  const records = readFileSync(indexPath, "utf8")
    .split("\n")
    .flatMap((l) => {
      try {
        const r = JSON.parse(l) as Record<string, string>;
        return typeof r.serial === "string" ? [{ ...r, serial: canonical(r.serial) } as Record<string, string> & { serial: string }] : [];
      } catch {
        return [];
      }
    });
  const matching = records
    .filter((r) => (subject === undefined || r.subject!.toLowerCase().includes(subject)) && (!serialText || r.serial === normalizeSerialNumber(serialText) || r.serial.includes(serialText.replace(/[:\s]/g, "").toLowerCase())))
    .reverse();
  return {
    certificates: matching.slice((page - 1) * pageSize, page * pageSize).map((r) => {
      const rev = revoked.get(r.serial);
      return { serialNumber: r.serial, subject: r.subject, notBefore: r.notBefore, notAfter: r.notAfter, issuedAt: r.issuedAt, revoked: rev ? { reason: rev.reason, revokedAt: rev.revokedAt.toISOString() } : null };
    }),
    page,
    pageSize,
    total: matching.length,
  };
}

/** Bytes this process has read through read(2) and friends so far (Linux). */
const rchar = (): number => Number(/^rchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))![1]);

describe("GET /admin/scep/certificates: one page read, not the index", () => {
  it("answers as the whole-index listing did: pages, subject and serial filters (any spelling, a part), totals, revocations, a page past the end", async () => {
    for (const query of ["", "?page=2", "?page=3&pageSize=7", "?pageSize=500&page=6", "?page=999", "?subject=device-69", "?subject=O%3DLAB&page=2&pageSize=100", "?serial=4e2", "?serial=00:80:C0:FF:EE:01", "?serial=" + serialOf(5), "?serial=" + serialOf(7) + "&subject=example", "?subject=no-such"]) {
      expect({ query, ...(await get(query)) }).toEqual({ query, status: 200, body: await expected(query) });
    }
    expect(await get("?serial=xyz")).toEqual({ status: 400, body: { error: "serial must be hex digits" } });
  });

  it.skipIf(!existsSync("/proc/self/io"))("a page of 50 reads its lines (and the appended tail), not the ~4 MB index", async () => {
    const size = readFileSync(indexPath).length;
    expect(size).toBeGreaterThan(3_000_000);
    await get("?page=1"); // the first listing reads the index once, to learn where each line is
    const keys = await generateRsaKeyPair();
    const issued = await ca.issue({ csrDer: await generateCsr({ keys, subject: "CN=after" }) });
    const before = rchar();
    const page = await get("?page=1&pageSize=50");
    const read = rchar() - before;
    expect((page.body as { certificates: { serialNumber: string }[] }).certificates[0]!.serialNumber).toBe(issued.serialNumber);
    expect(read).toBeLessThan(size / 10); // ~65 KB of lines (+ the appended line); the whole-index listing read all of it
    const second = rchar();
    await get("?page=40&pageSize=50&serial=4");
    expect(rchar() - second).toBeLessThan(size / 10);
  });

  it("asks the revocation store about the page's serials only (get per serial), never for the whole list", async () => {
    const calls = { list: 0, get: [] as string[] };
    const counting: RevocationStore = new Proxy(ca.revocations, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === "list") return (...args: unknown[]) => (calls.list++, (value as (...a: unknown[]) => unknown).apply(target, args));
        if (property === "get") return (serial: string) => (calls.get.push(serial), target.get(serial));
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const counted = new Proxy(ca, {
      get(target, property) {
        if (property === "revocations") return counting;
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value; // FileCa has #private fields
      },
    });
    const countedApi = createAdminApi({ token: TOKEN, server: { profiles: () => [{ profile: "/scep" }] } as unknown as ScepServer, defaultProfile: "/scep", log: () => {}, ca: counted });
    const query = "?pageSize=20"; // newest first: the index's last lines, serialOf(2_999) (revoked) among them
    const res = await countedApi.fetch(new Request(`http://127.0.0.1/admin/scep/certificates${query}`, { headers: { authorization: `Bearer ${TOKEN}` } }));
    const body = (await res.json()) as { certificates: { serialNumber: string; revoked: unknown }[] };
    expect(body).toEqual(await expected(query));
    expect(body.certificates.some((c) => c.serialNumber === serialOf(2_999) && c.revoked !== null)).toBe(true);
    expect(calls.list).toBe(0);
    expect(calls.get.sort()).toEqual(body.certificates.map((c) => c.serialNumber).sort());
  });
});
