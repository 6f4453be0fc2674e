/**
 * RFC 5280 §5.2.3: a CRL number is unique and increasing for a CA. Replicas of one CA that share only Redis (each
 * with a data directory of its own, the README's several-machines layout) must never sign two different CRLs with
 * one number, also after Redis lost the counter (FLUSHDB, or a restart without persistence): a replica that numbers
 * above its own last CRL raises the shared counter (`nextCrlNumber({ atLeast })`), and a flushed counter starts at
 * Redis' own clock (`TIME`, ms × 1000), so a replica whose data directory knows no earlier CRL does not repeat a number either.
 * A user's report: X numbered 3 after the flush while Redis stayed at 1, then Y signed a different CRL numbered 3.
 * Three FileCa (X, Y, and Z opened after the first flush) with their own data directories and the same CA key, on
 * one real redis-server on loopback; every CRL any of them signs is recorded, in both orders after each flush.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCsr, generateRsaKeyPair } from "@scep/core";
import { RedisRevocationStore, redisClientOptions } from "@scep/redis";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";

const dir = mkdtempSync(join(tmpdir(), "scep-crl-number-flush-"));
let redis: RedisServer;
const clients: Redis[] = [];
// The stores' clock (revision and CRL number bases): moved on by a millisecond per flush, as time passes in between.
let storeMs = Date.parse("2026-03-01T10:00:00.000Z");

/** A replica with its own data directory `name`, the CA of data directory `x` (created by the first replica). */
async function replica(name: string): Promise<FileCa> {
  const client = new Redis({ ...redisClientOptions, ...redis.connection });
  clients.push(client);
  const ca = name === "x" ? {} : { caCertPath: join(dir, "x", "ca.pem"), caKeyPath: join(dir, "x", "ca.key") };
  return openFileCa({ dataDir: join(dir, name), ...ca, crlValiditySeconds: 3600, revocations: new RedisRevocationStore(client, { keyPrefix: "flush:", now: () => new Date(storeMs) }) });
}

beforeAll(async () => {
  redis = await startRedisServer();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("CRL numbers of replicas with data directories of their own, across a Redis FLUSHDB (RFC 5280 §5.2.3)", () => {
  it("no two different CRLs share a number and no replica's number goes back, whichever replica signs first after each flush", async () => {
    /** Every CRL signed, by number (DER as hex); and each replica's numbers in the order it served them. */
    const byNumber = new Map<bigint, { der: string; by: string }>();
    const served: Record<string, bigint[]> = {};
    const clashes: string[] = [];
    const crl = async (name: string, ca: FileCa): Promise<bigint> => {
      const signed = await ca.crl();
      const der = Buffer.from(signed.der).toString("hex");
      const seen = byNumber.get(signed.crlNumber);
      if (seen && seen.der !== der) clashes.push(`${name} signed CRL ${signed.crlNumber} (${signed.revokedCount} entries), ${seen.by} another one`);
      if (!seen) byNumber.set(signed.crlNumber, { der, by: name });
      (served[name] ??= []).push(signed.crlNumber);
      return signed.crlNumber;
    };
    const revokeNew = async (ca: FileCa, subject: string): Promise<void> => {
      const issued = await ca.issue({ csrDer: await generateCsr({ keys: await generateRsaKeyPair(), subject: `CN=${subject}` }) });
      await ca.revoke(issued.serialNumber, "superseded");
    };
    const flush = async (): Promise<void> => {
      await redis.command("FLUSHDB");
      storeMs += 1;
    };

    const x = await replica("x");
    const y = await replica("y");
    await crl("x", x);
    await revokeNew(x, "x-1");
    await crl("x", x);
    await crl("y", y);

    // The user's order: X signs first after the flush (above its own last CRL), then Y, then Y's revocation.
    await flush();
    await crl("x", x);
    await crl("y", y);
    await revokeNew(y, "y-1");
    await crl("y", y);
    await crl("x", x);

    // The other order, and a replica whose data directory knows no CRL at all (Z, new) signing first.
    await flush();
    const z = await replica("z");
    await crl("z", z);
    await crl("y", y);
    await crl("x", x);
    await revokeNew(z, "z-1");
    await crl("z", z);
    await crl("x", x);
    await crl("y", y);

    // Y first after a third flush, then X.
    await flush();
    await crl("y", y);
    await revokeNew(x, "x-2");
    await crl("x", x);
    await crl("y", y);
    await crl("z", z);

    expect(clashes).toEqual([]);
    for (const [name, numbers] of Object.entries(served)) expect(numbers, name).toEqual([...numbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(byNumber.size).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
