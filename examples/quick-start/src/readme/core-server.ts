import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { LocalKey, MemoryTransactionStore, buildCertificate, createScepServer, endEntityExtensions, type ScepProfile } from "@scep/core";

const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
const blocked = new Set(["CN=lost-laptop-7"]); // your inventory

export const profile: ScepProfile = {
  name: "corp", // what approve, reject, pending, events and stats call it (default: the path)
  path: "/scep/corp", // GET/POST /scep/corp?operation=…, and /scep/corp/pkiclient.exe
  caCertificate: ca.certificate,
  signer: ca, // signs CertReps, and decrypts requests unless `decrypters` names an RA key
  challenge: { type: "static", password: process.env.SCEP_CHALLENGE! },
  csrPolicy: { minRsaBits: 2048, sanTypes: ["dns"], sanPatterns: { dns: [/\.corp\.example$/] }, maxValidityDays: 90 },
  transactions: new MemoryTransactionStore(), // PENDING requests (the default; RedisTransactionStore from @scep/redis for replicas)
  issue: async ({ csr, notAfterMax, approved, renewal, allowSid }) => {
    if (blocked.has(csr.subject)) return { status: "FAILURE", failInfo: "badRequest", failInfoText: "device blocked" };
    if (!renewal && !approved) return { status: "PENDING" }; // until server.approve() or server.reject()
    const certificate = await buildCertificate({
      issuer: ca, subject: csr.subjectDer, publicKey: csr.spki, serialNumber: randomBytes(16),
      notAfter: notAfterMax, extensions: endEntityExtensions({ csr, issuer: ca, allowSid }),
    });
    return { status: "SUCCESS", certificate }; // chain: [...] (default: the profile's caChain)
  },
};

export const server = createScepServer({ profiles: [profile] });
