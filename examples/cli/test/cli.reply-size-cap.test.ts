/**
 * A GetCACert reply larger than the CLI reads: the CLI's own look at the body (scep-fetch.ts: is it certificates, or a
 * page?) read it whole through `res.clone().arrayBuffer()`, with no limit, before ScepClient's capped read
 * (`maxResponseBytes`, 32 MiB) saw it, so a hostile or broken server made the CLI buffer any amount (all of the 96 MiB
 * below; one that never ends, until --timeout). Now that look reads at most {@link MAX_REPLY_BYTES}, and a larger
 * reply ends as ScepClient ends one: `ERR_TRANSPORT` "the response is larger than 33554432 bytes (maxResponseBytes)",
 * exit 4, the rest not read. The server streams the body as it is read (one 64 KiB chunk, reused), on loopback.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { TransportError } from "@scep/core";
import { MAX_REPLY_BYTES, scepFetch } from "../src/lib/scep-fetch.js";
import { listenLoopback, runInProcess } from "./support/in-process.js";
import { it, type Own } from "./support/test-owned.js";

const root = mkdtempSync(join(tmpdir(), "scep-cli-reply-cap-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Three times the cap: far more than loopback socket buffers hold once the client stops reading. */
const TOTAL = 3 * MAX_REPLY_BYTES;

/**
 * A server answering every request 200 application/x-x509-ca-ra-cert with a body of {@link TOTAL} bytes that opens as a
 * DER SEQUENCE (what the CLI takes for certificates under that type), written as the client reads it. `finished`:
 * whether all of it was written (the client read it all).
 */
async function streamingServer(owned: Own): Promise<{ base: string; state: { written: number; finished: boolean } }> {
  const state = { written: 0, finished: false };
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const first = Buffer.from(chunk);
  first.set([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]);
  const http = await owned(
    listenLoopback((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-x509-ca-ra-cert" });
      const pump = (): void => {
        while (state.written < TOTAL) {
          const more = res.write(state.written === 0 ? first : chunk);
          state.written += chunk.length;
          if (!more) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
        state.finished = true;
      };
      pump();
    }),
  );
  return { base: http.base, state };
}

describe("a GetCACert reply over the size ScepClient reads is not read further by the CLI", () => {
  it("scepFetch: ERR_TRANSPORT naming the limit, as ScepClient's own, and the rest of the body is never read", async ({ owned }) => {
    const { base, state } = await streamingServer(owned);
    const error = await scepFetch(`${base}/scep?operation=GetCACert`, { signal: AbortSignal.timeout(60_000) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", operation: "GetCACert", message: "GetCACert: the response is larger than 33554432 bytes (maxResponseBytes)" });
    expect((error as TransportError).status).toBeUndefined();
    expect(state.finished).toBe(false);
  });

  it("scep getcacert: exit 4 with ScepClient's line for a reply over maxResponseBytes; the server could not send it all", async ({ owned }) => {
    const { base, state } = await streamingServer(owned);
    const r = await runInProcess(["getcacert", "--url", `${base}/scep`], root);
    expect([r.code, r.out, r.err]).toEqual([4, [], ["scep: GetCACert: the response is larger than 33554432 bytes (maxResponseBytes)"]]);
    expect(state.finished).toBe(false);
  });
});
