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
  profiles: [{ ...profile, challenge: { type: "custom", validate: (ctx) => intune.validate(ctx) } }],
});
// After issuing and before delivering: await intune.notifySuccess({ transactionId, csr: csr.der, certificate });
