/**
 * How the CLI reads a failed fetch's cause chain (exit.ts): the socket error fetch puts two levels down names the
 * failure (ECONNREFUSED, undici's "bad port"), a chain is read at most 5 deep (a circular one ends), and a
 * PKIOperation counts as possibly processed (RFC 8894 §3.3.3: re-send with the same key) unless the chain shows the
 * request was never sent, or its status (503, 429) that it was not processed. Built from real error shapes, without a
 * network.
 */
import { describe, expect, it } from "vitest";
import { TransportError } from "@scep/core";
import { describeError, pkiOperationUnanswered } from "../src/lib/exit.js";

/** `error` wrapped in `depth` plain Errors, as fetch wraps a socket's error ("fetch failed" → cause). */
function wrapped(error: Error, depth: number): Error {
  let e = error;
  for (let i = 0; i < depth; i++) e = new Error(`level ${depth - i}`, { cause: e });
  return e;
}

function refused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED", address: "127.0.0.1", port: 9 });
}

const URL_OPTION = new URL("http://127.0.0.1:9/scep");

/** A PKIOperation's TransportError as ScepClient makes it: its message, its `operation` field, the fetch error as cause. */
function pkiOperationFailed(cause: Error): TransportError {
  const error = new TransportError("PKIOperation: fetch failed", { cause });
  error.operation = "PKIOperation";
  return error;
}

describe("a fetch failure's cause chain", () => {
  it("names the socket error two levels down (fetch failed → cause → socket)", () => {
    const error = new TransportError("GetCACaps: fetch failed", { cause: wrapped(refused(), 1) });
    expect(describeError(error, URL_OPTION)).toEqual({ message: "GetCACaps: connection refused by 127.0.0.1:9 (ECONNREFUSED): is the SCEP server running at http://127.0.0.1:9/scep?", exitCode: 4 });
  });

  it("reads at most 5 errors of it: a socket error deeper than that is not named", () => {
    const deep = new TransportError("GetCACaps: fetch failed", { cause: wrapped(refused(), 5) });
    // The fifth error read ("level 5") is the deepest named.
    expect(describeError(deep, URL_OPTION).message).toBe("GetCACaps: level 1 (level 5): check --url and the network");
    const within = new TransportError("GetCACaps: fetch failed", { cause: wrapped(refused(), 4) });
    expect(describeError(within, URL_OPTION).message).toMatch(/^GetCACaps: connection refused by 127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });

  it("a circular chain ends (no hang)", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    // b, a, b, a, b: the fifth is the first again, so nothing deeper is named.
    expect(describeError(new TransportError("GetCACaps: fetch failed", { cause: b }), URL_OPTION)).toEqual({ message: "GetCACaps: fetch failed", exitCode: 4 });
  });

  it("a PKIOperation refused before it was sent (ECONNREFUSED, undici's bad port, anywhere in the chain) is not one the CA may have processed", () => {
    expect(pkiOperationUnanswered(pkiOperationFailed(wrapped(refused(), 2)))).toBe(false);
    expect(pkiOperationUnanswered(pkiOperationFailed(wrapped(new Error("bad port"), 2)))).toBe(false);
    // Past the 5 errors read, the chain says nothing: the request may have been sent.
    expect(pkiOperationUnanswered(pkiOperationFailed(wrapped(new Error("bad port"), 5)))).toBe(true);
    const reset = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });
    expect(pkiOperationUnanswered(pkiOperationFailed(wrapped(reset, 1)))).toBe(true);
    // Decided on the operation field (d6421e7), not the text: the same message without it is no PKIOperation's.
    expect(pkiOperationUnanswered(new TransportError("PKIOperation: fetch failed", { cause: wrapped(reset, 1) }))).toBe(false);
  });

  it("a PKIOperation answered 503 or 429 was not processed (RFC 9110 §15.6.4, RFC 6585 §4); any other 5xx may have been", () => {
    const answered = (status: number): TransportError => Object.assign(new TransportError(`PKIOperation: HTTP ${status} (x)`), { operation: "PKIOperation" as const, status });
    expect([500, 502, 503, 504, 429, 400].map((status) => [status, pkiOperationUnanswered(answered(status))])).toEqual([
      [500, true],
      [502, true],
      [503, false],
      [504, true],
      [429, false],
      [400, false],
    ]);
    expect(describeError(answered(503), URL_OPTION)).toEqual({
      message: "PKIOperation: HTTP 503 (x): the server did not process the request: run the same command again later",
      exitCode: 4,
    });
  });

  it("a 503 or 429 to GetCert, GetCRL or CertPoll: the server's reason, and the wait its Retry-After names (none: no guess)", () => {
    const answered = (operation: "GetCert" | "GetCRL" | "CertPoll", status: number, retryAfterSeconds?: number): TransportError =>
      Object.assign(new TransportError(`${operation}: HTTP ${status} (store unavailable, retry later)`), { operation, status }, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
    expect(describeError(answered("GetCRL", 503, 30), URL_OPTION).message).toBe("GetCRL: HTTP 503 (store unavailable, retry later): run the same command again in 30 s");
    expect(describeError(answered("GetCert", 429, 5), URL_OPTION).message).toBe("GetCert: HTTP 429 (store unavailable, retry later): run the same command again in 5 s");
    expect(describeError(answered("CertPoll", 503), URL_OPTION).message).toBe("CertPoll: HTTP 503 (store unavailable, retry later)");
  });
});
