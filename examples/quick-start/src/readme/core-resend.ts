import { readFileSync } from "node:fs";
import { LocalKey, MemoryTransactionStore, createScepServer, type IssueHook } from "@scep/core";

declare const issue: IssueHook; // yours, as above
const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
const server = createScepServer({
  profiles: [{
    path: "/scep", caCertificate: ca.certificate, signer: ca, challenge: { type: "static", password: "secret" }, issue,
    transactions: new MemoryTransactionStore(), // the default; one RedisTransactionStore for several replicas
    transactionRetentionMs: 3 * 86_400_000, // a re-sent PKCSReq gets the same certificate for 3 days (default 1)
  }],
  onEvent: (e) => {
    if (e.reason === "issued_resent") console.log(`${e.transactionId}: re-sent, answered with ${e.serial} again`);
  },
});
