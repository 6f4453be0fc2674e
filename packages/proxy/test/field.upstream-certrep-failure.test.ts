/**
 * RFC 8894 §3.3.2: a CA that refuses an enrollment answers HTTP 200 with a FAILURE CertRep. Fleet's SCEP proxy only
 * saw HTTP errors from its upstream and persisted nothing, so a Windows profile stayed "verified" while the device
 * never got a certificate (fleetdm/fleet#45550, https://github.com/fleetdm/fleet/issues/45550); the fix marks the
 * profile failed when the proxy observes the upstream's error (fleetdm/fleet#48842,
 * https://github.com/fleetdm/fleet/pull/48842). Windows' SCEP CSP acknowledges the MDM command before it enrolls, so
 * the proxy is the only part of the MDM that sees the CA's verdict.
 *
 * Ours said `outcome: "forwarded"` for a FAILURE CertRep as for a SUCCESS: the MDM could not tell them apart. The
 * event now carries the CertRep's pkiStatus and failInfo (`certRep`), read without a key, also from an NDES reply
 * whose SignedData leaves its signer certificate out. Real upstream: @scep/core's server on loopback.
 */
import { ScepClient, generateCsr } from "@scep/core";
import { beforeAll, describe, expect, it } from "vitest";
import { CHALLENGE } from "../../core/test/support/adapter-fixture.js";
import { coreServerUpstream } from "./support/core-server-upstream.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ProxyEvent } from "../src/index.js";
import { startUpstream } from "./support/upstream-server.js";
import { readFileSync } from "node:fs";

const upstream = coreServerUpstream();
let px: CustomCaProxy;
let base: string;
let n = 0;

beforeAll(() => {
  px = customCaProxy({ url: upstream.url });
  base = "http://proxy.test/mdm/scep";
});

/** Enrolls through a fresh one-time URL with the upstream challenge `challenge`; the CertRep status the client read. */
async function enroll(hostId: string, challenge: string): Promise<string> {
  const url = await px.oneTimeUrl(base, { hostId, profileId: "wifi" });
  const r = upstream.fx.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: challenge, san: { dns: [`${hostId}.${++n}.example.test`] } });
  const client = new ScepClient({ url, fetch: (input, init) => px.proxy.fetch(new Request(input, init)) });
  return (await client.enroll({ csr, signer: r.signer })).status;
}

describe("RFC 8894 §3.3.2: the upstream's CertRep status reaches the proxy's event (fleet#45550, fleet#48842)", () => {
  it("the CA refuses (its challenge is wrong): HTTP 200 to the device, event certRep FAILURE badRequest", async () => {
    expect(await enroll("win-1", "not-the-upstream-challenge")).toBe("FAILURE");
    const e = px.events.at(-1)!;
    expect(e).toMatchObject({ operation: "PKIOperation", outcome: "forwarded", status: 200, hostId: "win-1", certRep: { status: "FAILURE", failInfo: "badRequest" } });
  });

  it("the CA issues: event certRep SUCCESS (no failInfo); GetCACaps and GetCACert events carry none", async () => {
    expect(await enroll("win-2", CHALLENGE)).toBe("SUCCESS");
    const pki = px.events.filter((e) => e.hostId === "win-2" && e.operation === "PKIOperation");
    expect(pki.map((e) => e.certRep)).toEqual([{ status: "SUCCESS" }]);
    expect(px.events.filter((e) => e.hostId === "win-2" && e.operation !== "PKIOperation").map((e) => e.certRep)).toEqual([undefined, undefined]);
  });
});

describe("an NDES reply (its SignedData carries no certificates: the signer cannot be verified here)", () => {
  it("NDES's captured SUCCESS CertRep → certRep SUCCESS; micromdm's captured FAILURE → FAILURE badRequest; a reply that is no CertRep → none", async () => {
    const vectors = new URL("../../core/test/vectors/", import.meta.url);
    const ndes = readFileSync(new URL("public/ndes.certrep-success.oaep-aes128.der", vectors));
    const failure = readFileSync(new URL("captured/certrep-failure-badrequest.micromdm-scepserver.der", vectors));
    const replies = [ndes, failure, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x2a])];
    let next = 0;
    const up = await startUpstream((req, res) => {
      if (req.operation === "GetCACaps") res.writeHead(200, { "content-type": "text/plain" }).end("POSTPKIOperation\n");
      else res.writeHead(200, { "content-type": "application/x-pki-message" }).end(replies[next++]);
    });
    try {
      const events: ProxyEvent[] = [];
      const profiles = new MemoryProfileStore();
      await profiles.put({ hostId: "h", profileId: "p", caName: "ndes", status: "pending", challengeRetrievedAt: Date.now(), updatedAt: 0 });
      const proxy = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }]), onEvent: (e) => events.push(e) });
      const certReps: unknown[] = [];
      for (let i = 0; i < replies.length; i++) {
        const res = await proxy.fetch(new Request("http://proxy.test/scep/h,p,ndes?operation=PKIOperation", { method: "POST", body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]) }));
        expect(Buffer.from(await res.arrayBuffer())).toEqual(replies[i]); // forwarded unchanged
        certReps.push(events.at(-1)?.certRep);
      }
      expect(certReps).toEqual([{ status: "SUCCESS" }, { status: "FAILURE", failInfo: "badRequest" }, undefined]);
      expect(events.map((e) => e.outcome)).toEqual(["forwarded", "forwarded", "forwarded"]);
    } finally {
      await up.close();
    }
  });
});
