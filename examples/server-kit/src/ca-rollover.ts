// CA rollover material: the next CA certificate(s) the server announces through GetNextCACert (RFC 8894 §4.7)
// before the switch, read from a PEM file (`--next-ca-cert` / SCEP_NEXT_CA_CERT) at start and on each SIGHUP.
import { readFile } from "node:fs/promises";
import { Certificate } from "@scep/core";
import { ConfigError } from "./config.js";
import { fileErrorReason } from "./file-error.js";
import { UnreadablePemCertificate, parsePemCertificates } from "./pem-certificates.js";

/**
 * The certificates of a PEM file, in file order (the next CA first, then any RA certificates for it).
 *
 * @param from - what named the file, as the user gave it (`--next-ca-cert` or `SCEP_NEXT_CA_CERT`): the errors
 *   start with it.
 * @throws ConfigError (one line naming the option and the file, no usage) when it cannot be read, holds no
 * certificate, or one cannot be parsed.
 */
export async function readNextCa(path: string, from = "--next-ca-cert/SCEP_NEXT_CA_CERT"): Promise<Certificate[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${from}: cannot read ${path}: ${fileErrorReason(e)}`, { showUsage: false });
  }
  let certs: Certificate[];
  try {
    certs = parsePemCertificates(text, (der) => Certificate.from(der));
  } catch (e) {
    if (e instanceof UnreadablePemCertificate) throw new ConfigError(`${from}: ${path}: ${e.message}`, { showUsage: false });
    throw e;
  }
  if (certs.length === 0) throw new ConfigError(`${from}: ${path} holds no certificate`, { showUsage: false });
  return certs;
}
