import { createScepServer, type ScepProfile } from "@scep/core";

declare const profile: ScepProfile;
const server = createScepServer({
  profiles: [profile],
  onError: (error, event) => console.error(`${event.operation} answered ${event.status} (${event.reason}):`, error),
});
