import { ScepClient, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";

const keys = await generateRsaKeyPair();
const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret", san: { dns: ["device-42.corp.example"] } });
const rep = await new ScepClient({ url: "http://127.0.0.1:8080/scep/corp" }).enroll({
  csr, signer,
  pollIntervalMs: 10_000, // CertPoll every 10 s while PENDING (default 5000)
  maxPollMs: 3_600_000, // for up to an hour (default 0: return the first PENDING reply)
  onPending: (pending, ms) => console.log(`transaction ${pending.transactionId} is PENDING; polling again in ${ms} ms`),
});
if (rep.status === "SUCCESS") console.log(rep.certificate!.toPem());
else if (rep.status === "FAILURE") console.log(rep.failInfo, rep.failInfoText); // e.g. badRequest unknown device
else console.log("still PENDING: enroll again later with the same key and CSR (the server answers it as a CertPoll)");
