/**
 * A CertRep carried by an HTTP error status, rebuilt against our `ScepClient` over real loopback HTTP
 * (RFC 8894 §3.3.2, §4.3).
 *
 * AWS Private CA's Connector for SCEP answers a PKIOperation it refuses for a SCEP reason with HTTP 400 and "the SCEP
 * response as a binary in the message" (its user guide, "Troubleshoot HTTP errors from Connector for SCEP",
 * https://docs.aws.amazon.com/privateca/latest/userguide/c4scep-troubleshoot-http-error.html). Our client threw
 * `ERR_TRANSPORT` "HTTP 400" and dropped that body, so the caller never learnt the failInfo and failInfoText the CA
 * signed (a wrong challenge looked like a broken network path). Now the CertRep is the reply: `enroll` returns the
 * FAILURE, verified as a 200's would be; an error body that is no CertRep, or a CertRep that is not the answer to this
 * request, changes nothing.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, generateCsr, peekCertRepStatus } from "../src/index.js";
import { CHALLENGE, close, createFixture, listen, type Fixture } from "./support/adapter-fixture.js";

let fixture: Fixture;
let http: Server;
let base: string;
/** The last FAILURE CertRep the AWS-like front passed on, for the replay case. */
let lastFailure: Buffer | undefined;

beforeAll(async () => {
  fixture = await createFixture();
  // In front of our server: `/aws` answers a FAILURE CertRep with 400 (as the Connector for SCEP does); `/text400`
  // answers every PKIOperation with a plain-text 400; `/replay` answers with the previous FAILURE CertRep under 400.
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      const u = new URL(req.url!, "http://front");
      const front = u.pathname.split("/")[1]!;
      const isPki = u.searchParams.get("operation") === "PKIOperation";
      if (isPki && front === "text400") return void res.writeHead(400, { "content-type": "text/plain" }).end("ValidationException\n");
      if (isPki && front === "replay" && lastFailure) return void res.writeHead(400, { "content-type": "application/x-pki-message" }).end(lastFailure);
      const url = `/scep${u.search}`;
      fixture.server.handle({ method: req.method!, url, headers: req.headers, body: Buffer.concat(chunks) }).then((r) => {
        const body = Buffer.from(r.body);
        const failure = isPki && peekCertRepStatus(body)?.status === "FAILURE";
        if (failure) lastFailure = body;
        res.writeHead(failure ? 400 : r.status, { ...r.headers, "content-length": body.length }).end(body);
      });
    });
  });
  base = await listen(http);
});

afterAll(async () => {
  await close(http);
});

async function enrollWith(path: string, challengePassword: string) {
  const r = fixture.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=aws-like, O=scep-sdk tests", challengePassword });
  return new ScepClient({ url: `${base}${path}` }).enroll({ csr, signer: r.signer });
}

describe("RFC 8894 §3.3.2: a CertRep is the reply whatever HTTP status carries it (AWS Connector for SCEP's 400)", () => {
  it("a wrong challenge answered 400 + FAILURE CertRep → enroll returns FAILURE badRequest with the CA's failInfoText", async () => {
    const rep = await enrollWith("/aws", "not-the-challenge");
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
    expect(rep.failInfoText).toMatch(/challenge/i);
  });

  it("the right challenge through the same front → SUCCESS (200, unchanged)", async () => {
    const rep = await enrollWith("/aws", CHALLENGE);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificate).toBeDefined();
  });

  it("a 400 whose body is no CertRep (a text error) → ERR_TRANSPORT with status 400, as before", async () => {
    const error = await enrollWith("/text400", CHALLENGE).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", status: 400, operation: "PKIOperation" });
    expect((error as Error).message).toBe("PKIOperation: HTTP 400 (ValidationException)");
  });

  it("a 400 carrying another request's FAILURE CertRep is not taken for this one's answer: ERR_CERTREP", async () => {
    await enrollWith("/aws", "not-the-challenge");
    expect(lastFailure).toBeDefined();
    await expect(enrollWith("/replay", "not-the-challenge-either")).rejects.toMatchObject({ code: "ERR_CERTREP" });
  });
});
