import { createScepServer, type ScepProfile } from "@scep/core";
import { IntuneValidator } from "@scep/intune";

declare const profile: Omit<ScepProfile, "challenge">; // path, caCertificate, signer, issue: as in the quick start

const intune = new IntuneValidator({
  tenant: process.env.INTUNE_TENANT_ID!,
  clientId: process.env.INTUNE_CLIENT_ID!,
  credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! }, // or { certificate, privateKey }, PEM
  onError: (e) => console.error(e.code, e.message), // Intune could not be asked; never holds a secret
});

export const server = createScepServer({
  profiles: [{
    ...profile,
    challenge: { type: "custom", validate: (ctx) => intune.validate(ctx) },
    issue: intune.withFailureNotification(profile.issue), // failureNotification when issuing fails
    confirm: intune.confirmHook(), // successNotification before delivery; if Intune is not told: FAILURE + onUndelivered
    onUndelivered: ({ certificate }) => console.error("revoke", certificate.serialNumberHex),
  }],
});
