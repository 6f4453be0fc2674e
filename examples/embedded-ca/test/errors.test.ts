import { describe, expect, it } from "vitest";
import { EMBEDDED_CA_ERROR_CODES, EmbeddedCaError, isEmbeddedCaError } from "../src/index.js";

describe("EmbeddedCaError", () => {
  it("carries name, code, message and cause", () => {
    const cause = new Error("EACCES");
    const error = new EmbeddedCaError("STORAGE_FAILED", "cannot write", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("EmbeddedCaError");
    expect(error.code).toBe("STORAGE_FAILED");
    expect(error.message).toBe("cannot write");
    expect(error.cause).toBe(cause);
    expect("cause" in new EmbeddedCaError("CSR_INVALID", "x")).toBe(false);
  });

  it("isEmbeddedCaError recognises errors without instanceof, and checks the code", () => {
    const foreign = Object.assign(new Error("from another copy"), { name: "EmbeddedCaError", code: "CA_KEY_MISMATCH" });
    expect(isEmbeddedCaError(foreign)).toBe(true);
    expect(isEmbeddedCaError(foreign, "CA_KEY_MISMATCH")).toBe(true);
    expect(isEmbeddedCaError(foreign, "CSR_INVALID")).toBe(false);
    expect(isEmbeddedCaError(new EmbeddedCaError("CSR_INVALID", "x"), "CSR_INVALID")).toBe(true);
    expect(isEmbeddedCaError({ name: "EmbeddedCaError", code: "NOPE" })).toBe(false);
    expect(isEmbeddedCaError(new Error("x"))).toBe(false);
    expect(isEmbeddedCaError(null)).toBe(false);
    expect(isEmbeddedCaError("CSR_INVALID")).toBe(false);
  });

  it("lists every code", () => {
    expect(EMBEDDED_CA_ERROR_CODES).toEqual([
      "INVALID_OPTIONS",
      "CA_LOAD_FAILED",
      "CA_KEY_PASSPHRASE",
      "CA_KEY_MISMATCH",
      "CA_CREATE_FAILED",
      "CSR_INVALID",
      "STORAGE_FAILED",
      "SERIAL_SPACE_EXHAUSTED",
      "UNKNOWN_SERIAL",
      "KEY_COMPROMISED",
      "CA_EXPIRED",
    ]);
  });
});
