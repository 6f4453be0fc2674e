/**
 * A/B benchmark of the codec: the working tree's `packages/core/src` (B) against the same directory at a git
 * revision (A, `BENCH_BASE`, default `HEAD`), both loaded in one process and run on the same PKCSReqs, interleaved
 * in chunks of 50 messages (A first in even rounds, B first in odd ones), so that load from other processes weighs
 * on both alike. Per message: `decodePkiMessage` and a SUCCESS `buildCertRep`, as `pnpm bench` times them.
 *
 * It prints the CPU time per message of each side, and the median and quartiles over the rounds of B/A. Measured on
 * the 2-core development machine at load average 5–7 (2026-12-01): A/A runs (`BENCH_BASE=HEAD`, a clean tree) gave
 * medians of 1.0003 and 1.0015, a run of this session's code against its start 1.0033 and 1.0125: a difference of
 * ~1 % (~7 µs) or more shows, where two separate `pnpm bench` runs under such load differ by 5–10 %. For a codec
 * change too small for `pnpm bench`'s ratio to show; run it twice.
 *
 * `BENCH_PRIVATE=precomputed` takes the two private-key operations out of both sides (each answers at once with what
 * it computed for that request beforehand), so B − A stands against the ~150 µs of the codec's other work instead of
 * ~700 µs. Its chunks are short, so use `BENCH_ROUNDS=400` and read B − A, the means: A/A runs on the loaded machine
 * (2026-12-01) gave −0.6 and +0.9 µs.
 *
 * Run: `pnpm bench:ab` (`BENCH_BASE=<rev>`, `BENCH_ROUNDS`: rounds of 2 × 50 messages, default 100). The revision's
 * sources are written under `packages/core/bench/.ab-base/` (git-ignored, replaced on each run) so that they import
 * the same dependencies as the working tree.
 */
import * as crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as B from "../src/index.js";
import { x509 } from "../src/lib/x509.js";

type Codec = typeof B;
const BASE = process.env.BENCH_BASE ?? "HEAD";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 100);
const PRECOMPUTED = process.env.BENCH_PRIVATE === "precomputed";
const CHUNK = 50;
const NOW = new Date("2026-01-15T12:00:00Z");
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BASE_DIR = fileURLToPath(new URL("./.ab-base/", import.meta.url));
const log = (s: string): void => void process.stdout.write(s + "\n");

// A: packages/core/src at BASE, extracted next to this file.
rmSync(BASE_DIR, { recursive: true, force: true });
mkdirSync(BASE_DIR, { recursive: true });
const rev = execFileSync("git", ["-C", REPO, "rev-parse", "--short", BASE], { encoding: "utf8" }).trim();
execFileSync("sh", ["-c", `git -C "${REPO}" archive ${rev} packages/core/src | tar -x -C "${BASE_DIR}"`]);
const A = (await import(new URL("./.ab-base/packages/core/src/index.ts", import.meta.url).href)) as Codec;
const dirty = execFileSync("git", ["-C", REPO, "status", "--porcelain", "packages/core/src"], { encoding: "utf8" }).trim() !== "";
log(`private-key operations: ${PRECOMPUTED ? "precomputed (BENCH_PRIVATE=precomputed: the codec's other work only)" : "real"}`);
log(`A: packages/core/src at ${rev}; B: the working tree${dirty ? " (uncommitted changes)" : " (no uncommitted change: an A/A run if HEAD is A)"}`);

// One CA key, one certificate; each side its own LocalKey over it.
const caKeys = await B.generateRsaKeyPair(2048);
const caB = await B.createSelfSignedSigner({ keys: caKeys, subject: "CN=Bench CA,O=scep-sdk", now: NOW, days: 3650 });
const pkcs8 = crypto.KeyObject.from(caKeys.privateKey).export({ format: "pem", type: "pkcs8" }) as string;
const caA = A.LocalKey.from(caB.certificate.der, pkcs8);

// 200 PKCSReqs from 20 RSA-2048 requesters, AES-128 and 3DES alternating, as `pnpm bench` builds them.
const requests: { der: Uint8Array; issued: Uint8Array }[] = [];
for (let i = 0; i < 20; i++) {
  const keys = await B.generateRsaKeyPair(2048);
  const signer = await B.createSelfSignedSigner({ keys, subject: `CN=bench-device-${i}`, now: NOW, days: 30 });
  const issued = await x509.X509CertificateGenerator.create({
    serialNumber: (0x1000 + i).toString(16),
    subject: `CN=bench-device-${i}`,
    issuer: caB.certificate.subject,
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 365 * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  });
  for (let j = 0; j < 10; j++) {
    const csr = await B.generateCsr({ keys, subject: `CN=bench-device-${i},OU=request-${j}`, challengePassword: `challenge-${j}`, san: { dns: [`device-${i}.bench.example`] } });
    const built = await B.buildPkcsReq({ csr, signer, recipient: caB.certificate, cipher: j % 2 === 0 ? "aes128" : "des3", digest: "sha256", now: NOW });
    requests.push({ der: built.der, issued: new Uint8Array(issued.rawData) });
  }
}

type Key = Pick<B.LocalKey, "certificate" | "sign" | "decrypt">;

/**
 * BENCH_PRIVATE=precomputed: a key whose two private operations answer at once with what they would compute (each
 * request's content key, found once by a real decryption; one RSA-2048 signature's worth of bytes), so that B − A is
 * measured against the ~150 µs of the codec's other work instead of ~700 µs: about three times the resolution. The
 * replies' signatures are then not valid; only the codec's cost is measured.
 */
async function precomputed(codec: Codec, ca: B.LocalKey): Promise<Key> {
  const contentKeys: Uint8Array[] = [];
  for (const r of requests) {
    let cek: Uint8Array | undefined;
    const spy: Key = { certificate: ca.certificate, sign: (d, a) => ca.sign(d, a), decrypt: async (k, p) => (cek = await ca.decrypt(k, p)) };
    await codec.decodePkiMessage(r.der, { decrypters: [spy] });
    contentKeys.push(cek!);
  }
  const signature = crypto.randomBytes(256);
  return { certificate: ca.certificate, sign: async () => signature, decrypt: async () => contentKeys[current]! };
}
// The request being decoded (the precomputed key answers with its content key).
let current = 0;

function side(codec: Codec, ca: Key) {
  const issued = requests.map((r) => new codec.Certificate(r.issued));
  return async (n: number, offset: number): Promise<number> => {
    let length = 0;
    for (let i = 0; i < n; i++) {
      const k = (offset + i) % requests.length;
      current = k;
      const req = await codec.decodePkiMessage(requests[k]!.der, { decrypters: [ca] });
      length += (await codec.buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [issued[k]!], now: NOW })).length;
    }
    return length;
  };
}
const runA = PRECOMPUTED ? side(A, await precomputed(A, caA)) : side(A, caA);
const runB = PRECOMPUTED ? side(B, await precomputed(B, caB)) : side(B, caB);
// Both sides answer alike (lengths: the replies differ in their random parts only).
if ((await runA(4, 0)) !== (await runB(4, 0))) log("note: A's and B's replies differ in length (a codec change that writes other bytes)");
log("warm-up: 4,000 messages each…");
await runA(4_000, 0);
await runB(4_000, 0);

const cpu = async (run: (n: number, o: number) => Promise<number>, offset: number): Promise<number> => {
  const c0 = process.cpuUsage();
  await run(CHUNK, offset);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / CHUNK;
};
let sumA = 0;
let sumB = 0;
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let a: number;
  let b: number;
  if (r % 2 === 0) {
    a = await cpu(runA, r * CHUNK);
    b = await cpu(runB, r * CHUNK);
  } else {
    b = await cpu(runB, r * CHUNK);
    a = await cpu(runA, r * CHUNK);
  }
  sumA += a;
  sumB += b;
  ratios.push(b / a);
}
ratios.sort((x, y) => x - y);
const q = (p: number): number => ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))]!;
log(`A (${rev}): ${(sumA / ROUNDS).toFixed(1)} µs CPU per message; B: ${(sumB / ROUNDS).toFixed(1)} µs; B − A ${((sumB - sumA) / ROUNDS).toFixed(1)} µs`);
log(`B / A, median of ${ROUNDS} rounds of ${CHUNK} messages each: ${q(0.5).toFixed(4)} (quartiles ${q(0.25).toFixed(4)}–${q(0.75).toFixed(4)})`);
rmSync(BASE_DIR, { recursive: true, force: true });
