/**
 * RFC 9110 §9.2.1 and §9.3.2: HEAD is a safe method, sent by clients, caches and link checkers that expect no effect.
 * A PKIOperation GET spends a one-time challenge and issues a certificate, so a HEAD of the same target is refused with
 * 405 (Allow: GET, POST) and changes nothing: no issue hook is asked, and the GET that follows still enrolls.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, type IssueContext, type ScepServer } from "../src/index.js";
import { NOW, ORIGIN, b64, baseProfile, createDevice, createTestCa, eventLog, issuingHook, readReply, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "head-is-safe";

let ca: TestCa;
let device: Device;

beforeAll(async () => {
  ca = await createTestCa("HEAD CA");
  device = await createDevice({ cn: "head-device", challengePassword: CHALLENGE });
});

describe("RFC 9110 §9.3.2: HEAD of a PKIOperation", () => {
  let server: ScepServer;
  const calls: IssueContext[] = [];
  const log = eventLog();

  beforeAll(() => {
    server = createScepServer({ profiles: [{ ...baseProfile(ca, CHALLENGE), issue: issuingHook(ca, calls) }], onEvent: log.onEvent, now: () => NOW });
  });

  it("is refused with 405 and Allow: GET, POST, asks no issue hook, and the same GET afterwards enrolls", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: "HEAD-PKIOP-1" });
    const target = `${ORIGIN}/scep?operation=PKIOperation&message=${encodeURIComponent(b64(built.der))}`;

    const head = await server.fetch(new Request(target, { method: "HEAD" }));
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET, POST");
    expect(await head.arrayBuffer()).toHaveProperty("byteLength", 0);
    expect(log.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "method_not_allowed", status: 405 });
    expect(calls).toHaveLength(0);

    const parts = await server.handle({ method: "HEAD", url: target.slice(ORIGIN.length) });
    expect(parts.status).toBe(405);
    expect(parts.body).toHaveLength(0);
    expect(calls).toHaveLength(0);

    const rep = await readReply(await server.fetch(new Request(target)), built, { decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(calls).toHaveLength(1);
  });

  it("GetCACaps and GetCACert still answer HEAD with 200", async () => {
    for (const op of ["GetCACaps", "GetCACert"]) {
      const res = await server.fetch(new Request(`${ORIGIN}/scep?operation=${op}`, { method: "HEAD" }));
      expect(res.status).toBe(200);
    }
  });
});
