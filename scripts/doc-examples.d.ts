// Free variables that TSDoc examples may use without declaring them, with
// their types, for scripts/check-doc-examples.mjs. Keep this short: an example
// that declares what it uses is better documentation than an entry here.
import type { ScepProfile, ScepServer } from "@scep/core";

declare global {
  /** A server profile, as built in createScepServer's example. */
  const profile: ScepProfile;
  /** A SCEP server from createScepServer. */
  const server: ScepServer;
}
