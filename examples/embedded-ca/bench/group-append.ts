// Measures what one GroupAppender batch costs the process in CPU with each way of making it durable: a write on an
// O_DSYNC descriptor (one thread-pool job, the default where the platform has O_DSYNC) against a write and then an
// fdatasync (two jobs, `syncWrites: false`). Both run in this process, in alternating rounds, on the same kind of
// record (an index line with an RSA-2048 certificate, ~2.8 KB). Eight appenders each do ~0.3 ms of synchronous work
// before every append, as a server's requests do between their index lines, so libuv's threads sleep between jobs as
// they do under a server's load. A script, not a timed test:
// `node --import tsx bench/group-append.ts [appends per round] [rounds]` from examples/embedded-ca (default 2000, 6).
//
// It prints the process CPU (all threads) per append of each side, their difference and ratio (median over the
// rounds).
//
// Measured 2026-12-06 on the 2-vCPU development machine (docs/performance.md): see the session of that day.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupAppender } from "../src/lib/durable-fs.js";

const perRound = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 6);
const CONCURRENCY = 8;
const WORK_MS = 0.3;
const dir = mkdtempSync(join(tmpdir(), "group-append-"));
const record = Buffer.from(`{"serial":"${"7".repeat(40)}","certificate":"${"A".repeat(2700)}"}\n`);

/** CPU time of this process (user + system, all threads), in µs. */
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function round(syncWrites: boolean, n: number): Promise<number> {
  const path = join(dir, `index-${syncWrites ? "dsync" : "fdatasync"}.jsonl`);
  rmSync(path, { force: true });
  const appender = new GroupAppender(path, 0o644, 1000, undefined, syncWrites);
  let started = 0;
  const before = cpuUs();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < n) {
        started++;
        const until = performance.now() + WORK_MS;
        while (performance.now() < until); // the request's own work, on the event loop
        await new Promise((resolve) => setImmediate(resolve));
        await appender.append(record);
      }
    }),
  );
  return (cpuUs() - before) / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  await round(true, 500); // warm-up
  await round(false, 500);
  const dsync: number[] = [];
  const fdatasync: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Which side goes first alternates.
    for (const side of r % 2 === 0 ? [true, false] : [false, true]) (side ? dsync : fdatasync).push(await round(side, perRound));
    console.log(`round ${r + 1}: O_DSYNC ${dsync.at(-1)!.toFixed(1)} µs, write + fdatasync ${fdatasync.at(-1)!.toFixed(1)} µs of CPU per append`);
  }
  const ratios = dsync.map((d, i) => d / fdatasync[i]!);
  console.log(
    `median over ${rounds} rounds of ${perRound} appends (each with ${WORK_MS} ms of the caller's own work): O_DSYNC ${median(dsync).toFixed(1)} µs, ` +
      `write + fdatasync ${median(fdatasync).toFixed(1)} µs of CPU per append; difference ${median(fdatasync.map((f, i) => f - dsync[i]!)).toFixed(1)} µs, ratio ${median(ratios).toFixed(3)}`,
  );
  rmSync(dir, { recursive: true, force: true });
}

await main();
