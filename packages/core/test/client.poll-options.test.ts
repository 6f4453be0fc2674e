/**
 * `enroll`'s polling options are checked before anything is sent. With `pollIntervalMs: 0` (the CLI's
 * `--poll-interval 0`) or a negative interval, the loop `waited += interval` never reached `maxPollMs`: a CA that stays
 * PENDING (a request awaiting an operator's approval, RFC 8894 §3.3.3) was polled back to back without end, the
 * process never returned. A NaN interval or budget, a fractional interval (a timer rounds it) and an interval past the
 * longest timer (which fires at once) are refused the same way; `maxPollMs: Infinity` (poll until the CA answers)
 * stays allowed.
 */
import { describe, expect, it } from "vitest";
import { ScepClient } from "../src/index.js";
import { staticScep } from "./support/server-pki.js";

const s = await staticScep({ caName: "Poll Options CA", deviceCn: "poll-options", challenge: "pw", profile: { issue: async () => ({ status: "PENDING" }) } });

/** Our always-PENDING server; counts requests and gives up (throws) after 50 PKIOperations, so a loop cannot hang the suite. */
function counting(): { fetch: typeof fetch; pki: () => number } {
  let pki = 0;
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (new URL(request.url).searchParams.get("operation") === "PKIOperation" && ++pki > 50) throw new Error(`polled ${pki} times`);
    return s.server.fetch(request);
  }) as typeof fetch;
  return { fetch: f, pki: () => pki };
}

describe("ScepClient.enroll: polling options that would poll without end are ERR_INVALID_ARGUMENT, nothing sent", () => {
  it.for([
    [{ pollIntervalMs: 0, maxPollMs: 60_000 }, "pollIntervalMs must be an integer from 1 to 2147483647, got 0"],
    [{ pollIntervalMs: -1000, maxPollMs: 60_000 }, "pollIntervalMs must be an integer from 1 to 2147483647, got -1000"],
    [{ pollIntervalMs: 0.5, maxPollMs: 60_000 }, "pollIntervalMs must be an integer from 1 to 2147483647, got 0.5"],
    [{ pollIntervalMs: Number.NaN, maxPollMs: 60_000 }, "pollIntervalMs must be an integer from 1 to 2147483647, got NaN"],
    [{ pollIntervalMs: 2 ** 31, maxPollMs: 2 ** 32 }, "pollIntervalMs must be an integer from 1 to 2147483647, got 2147483648"],
    [{ pollIntervalMs: 1000, maxPollMs: Number.NaN }, "maxPollMs must be a number >= 0 (Infinity: no limit), got NaN"],
    [{ pollIntervalMs: 1000, maxPollMs: -1 }, "maxPollMs must be a number >= 0 (Infinity: no limit), got -1"],
  ] as const)("%o → %s", async ([polling, message]) => {
    const { fetch, pki } = counting();
    const sleeps: number[] = [];
    const error = await new ScepClient({ url: "http://ca.test/scep", fetch })
      .enroll({ csr: s.device.csr, signer: s.device.signer, ...polling, sleep: async (ms) => void sleeps.push(ms) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message });
    expect([pki(), sleeps.length]).toEqual([0, 0]);
  });

  it("a valid interval still polls maxPollMs worth and returns PENDING", async () => {
    const { fetch, pki } = counting();
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch }).enroll({ csr: s.device.csr, signer: s.device.signer, pollIntervalMs: 1, maxPollMs: 3, sleep: async () => undefined });
    expect([rep.status, pki()]).toEqual(["PENDING", 4]);
  });

  it("an interval is not read when nothing polls (maxPollMs 0, the default): the first PENDING reply, no error", async () => {
    const { fetch, pki } = counting();
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch }).enroll({ csr: s.device.csr, signer: s.device.signer, pollIntervalMs: 0, sleep: async () => undefined });
    expect([rep.status, pki()]).toEqual(["PENDING", 1]);
  });
});
