/**
 * Access to the golden vectors copied into `test/vectors/` (see its README for
 * where each file came from).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LocalKey } from "../../src/index.js";

const ROOT = fileURLToPath(new URL("../vectors/", import.meta.url));

/** Absolute path of a vector, e.g. `captured/ca.pem`. */
export function vectorPath(name: string): string {
  return ROOT + name;
}

/** Bytes of a vector. */
export function vector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(name)));
}

/** Text of a vector. */
export function vectorText(name: string): string {
  return readFileSync(vectorPath(name), "utf8");
}

/** The micromdm bench CA (its PEM key is encrypted with an empty passphrase). */
export function capturedCa(): LocalKey {
  return LocalKey.fromPem(vectorText("captured/ca.pem"), vectorText("captured/ca.key"), { passphrase: "" });
}

/** The CA the Apple iOS PKCSReq was encrypted to. */
export function appleCa(): LocalKey {
  return LocalKey.fromPem(vectorText("public/apple-ios.ca.pem"), vectorText("public/apple-ios.ca.key"));
}
