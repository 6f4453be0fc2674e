import type { RateLimiter, ReplayCache } from "@scep/intune";
import { rateLimiterConformance, replayCacheConformance } from "@scep/intune/testing";

// Your own stores (Postgres, DynamoDB…), deciding expiry with the clock they are given.
declare function myReplayCache(options: { now: () => Date }): ReplayCache;
declare function myRateLimiter(options: { now: () => Date }): RateLimiter;

// In a vitest test file:
replayCacheConformance({ name: "mine", create: ({ now }) => myReplayCache({ now }) });
rateLimiterConformance({ name: "mine", create: ({ now }) => myRateLimiter({ now }) });
