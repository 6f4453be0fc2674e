import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  LocalKey, ScepClient, buildCertRep, buildCertificate, createSelfSignedSigner, decodePkiMessage,
  endEntityExtensions, generateCsr, generateRsaKeyPair,
} from "@scep/core";

// Server: a PKIOperation body in, a CertRep out (serve it as application/x-pki-message).
const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
export async function pkiOperation(body: Uint8Array): Promise<Uint8Array> {
  const req = await decodePkiMessage(body, { decrypters: [ca] });
  if (req.csr?.challengePassword !== "secret") return buildCertRep({ request: req, signer: ca, status: "FAILURE", failInfo: "badRequest" });
  const issued = await buildCertificate({
    issuer: ca, subject: req.csr.subjectDer, publicKey: req.csr.spki, serialNumber: randomBytes(16),
    notAfter: new Date(Date.now() + 365 * 86_400_000), // notBefore: now − 5 min (backdateMs)
    extensions: endEntityExtensions({ csr: req.csr, issuer: ca }),
  });
  return buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [issued, ca.certificate] });
}

// Client: enroll against any SCEP server.
const keys = await generateRsaKeyPair();
const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret" });
const rep = await new ScepClient({ url: "http://127.0.0.1:8080/scep" }).enroll({ csr, signer });
if (rep.certificate) console.log(rep.certificate.toPem()); // the issued certificate, found by its key
else console.error(rep.status, rep.failInfo, rep.failInfoText); // PENDING, or FAILURE (badRequest: a wrong challenge)
