import { webhookChallenge } from "@scep/core";

// A profile's `challenge`: your endpoint decides; the `data` it answers reaches the issue hook as challengeData.
export const challenge = webhookChallenge({
  url: "https://mdm.example/scep/challenge", // POST {type:"scepchallenge", scepChallenge, scepTransactionID, profile, x509CertificateRequest:{raw, subject, sans…}}
  notifyUrl: "https://mdm.example/scep/notify", // POST {type:"notify", event:"issued"|"failed", x509Certificate:{serialNumber, sha1Thumbprint, notAfter…}}
  secret: process.env.SCEP_WEBHOOK_SECRET!, // X-Scep-Signature: hex HMAC-SHA256 of the exact body
  timeoutMs: 3000, // per call (default 5000); answers are capped at maxResponseBytes (64 KiB)
});
