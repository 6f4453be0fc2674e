// Measures what GroupAppender's batches cost the process in CPU with each way of making them durable: a write on an
// O_DSYNC descriptor (one thread-pool job a batch, the default on Linux) against a write and then an fdatasync (two
// jobs, `syncWrites: false`, the default elsewhere). Both run in this process, in alternating rounds, on the same kind
// of record (an index line with an RSA-2048 certificate, ~2.8 KB). Eight appenders each do ~0.3 ms of synchronous
// work before every append, as a server's requests do between their index lines, so libuv's threads sleep between
// jobs as they do under a server's load; a round of that work alone, without appends, is measured too and taken off.
// A script, not a timed test, from examples/embedded-ca:
// `node --import tsx bench/group-append.ts [appends per round] [rounds] [directory]` (default 2000, 6, os.tmpdir()).
// The directory must be on a disk: on tmpfs neither way syncs anything.
//
// Per side it prints the batches (writes) a round made and the CPU (all threads) per append and per batch beyond the
// appenders' own work, as medians over the rounds, and the difference per append.
//
// Measured 2026-12-06 on the 2-vCPU development machine: docs/performance.md, the session of 10:45 UTC.
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupAppender } from "../src/lib/durable-fs.js";

const perRound = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 6);
const dir = mkdtempSync(join(process.argv[4] ?? tmpdir(), "group-append-"));
const CONCURRENCY = 8;
const WORK_MS = 0.3;
const record = Buffer.from(`{"serial":"${"7".repeat(40)}","certificate":"${"A".repeat(2700)}"}\n`);

/** CPU time of this process (user + system, all threads), in µs. */
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

// Every FileHandle write is counted: one per batch.
let writes = 0;
const probe = await open(join(dir, "probe"), "w");
const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
await probe.close();
const realWrite = proto.write;
proto.write = function (this: unknown, ...args: unknown[]) {
  writes++;
  return realWrite.apply(this, args);
};

/** CPU per append of `n` appends by CONCURRENCY appenders, each after WORK_MS of work; without `syncWrites`, the work alone. */
async function round(syncWrites: boolean | undefined, n: number): Promise<{ cpu: number; batches: number }> {
  const path = join(dir, `index-${syncWrites}.jsonl`);
  rmSync(path, { force: true });
  const appender = syncWrites === undefined ? undefined : new GroupAppender(path, { syncWrites });
  let started = 0;
  writes = 0;
  const before = cpuUs();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < n) {
        started++;
        const until = performance.now() + WORK_MS;
        while (performance.now() < until); // the request's own work, on the event loop
        await new Promise((resolve) => setImmediate(resolve));
        await appender?.append(record);
      }
    }),
  );
  return { cpu: (cpuUs() - before) / n, batches: writes };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  await round(true, 500); // warm-up
  await round(false, 500);
  await round(undefined, 500);
  const sides = { dsync: [] as { cpu: number; batches: number }[], fdatasync: [] as { cpu: number; batches: number }[] };
  const work: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Which side goes first alternates; the work alone runs between them.
    const order = r % 2 === 0 ? (["dsync", "fdatasync"] as const) : (["fdatasync", "dsync"] as const);
    sides[order[0]].push(await round(order[0] === "dsync", perRound));
    work.push((await round(undefined, perRound)).cpu);
    sides[order[1]].push(await round(order[1] === "dsync", perRound));
    const beyond = (side: "dsync" | "fdatasync"): string => (sides[side].at(-1)!.cpu - work.at(-1)!).toFixed(1);
    console.log(`round ${r + 1}: beyond the work (${work.at(-1)!.toFixed(1)} µs), O_DSYNC ${beyond("dsync")} µs, write + fdatasync ${beyond("fdatasync")} µs of CPU per append`);
  }
  const beyondWork = (side: "dsync" | "fdatasync"): number[] => sides[side].map((x, i) => x.cpu - work[i]!);
  for (const side of ["dsync", "fdatasync"] as const) {
    const batches = median(sides[side].map((x) => x.batches));
    const perAppend = median(beyondWork(side));
    console.log(
      `${side === "dsync" ? "O_DSYNC write" : "write + fdatasync"}: ${batches} batches of ${perRound} appends (${(perRound / batches).toFixed(1)} a batch); ` +
        `${perAppend.toFixed(1)} µs of CPU per append, ${((perAppend * perRound) / batches).toFixed(1)} µs per batch, beyond the appenders' own work`,
    );
  }
  const diff = median(beyondWork("fdatasync").map((f, i) => f - beyondWork("dsync")[i]!));
  console.log(`median over ${rounds} rounds: write + fdatasync − O_DSYNC = ${diff.toFixed(1)} µs of CPU per append`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
