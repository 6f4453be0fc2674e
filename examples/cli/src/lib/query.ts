/**
 * The exchange `getcert` and `getcrl` share (RFC 8894 §3.3.4, §3.3.5): GetCACert, the requester's signing identity
 * (the given certificate and key, or a throwaway self-signed one: any requester may ask), one PKIOperation, and the
 * CertRep's FAILURE turned into one line and exit 2.
 *
 * @module
 */
import { type BuiltRequest, type Certificate, type CertRep, LocalKey, ScepClient, createSelfSignedSigner, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
import type { CliPin } from "./ca-pin.js";
import type { Context } from "./context.js";
import { CliError, ExitCode, UsageError } from "./exit.js";
import { failureLine } from "./failure.js";
import { readInput } from "./files.js";
import { isRsa, loadKeyPair } from "./keys.js";
import { scepFetch } from "./scep-fetch.js";

/** Options `getcert` and `getcrl` take for the requester's identity. */
export const SIGNER_HELP = `  --key FILE          the requester's private key, PEM; with --cert it signs the
                      request (default: a throwaway self-signed key, which
                      RFC 8894 allows: any requester may ask)`;

/** Reads the certificates of a PEM file; exit 66 when there is none. */
export function readCertificateFile(ctx: Context, file: string, what: string, parse: (pem: string) => Certificate[]): Certificate[] {
  const pem = readInput(ctx, file, what);
  let certs: Certificate[];
  try {
    certs = parse(pem);
  } catch (error) {
    throw new CliError(`cannot read ${what} ${file}: ${(error as Error).message}`, ExitCode.NO_INPUT);
  }
  if (certs.length === 0) throw new CliError(`cannot read ${what} ${file}: no PEM CERTIFICATE block`, ExitCode.NO_INPUT);
  return certs;
}

/** The signer of the request: `cert` with `keyFile`, or a fresh self-signed RSA 2048 key (nothing written). */
export async function requesterSigner(ctx: Context, command: string, cert: Certificate | undefined, keyFile: string | undefined, certFile: string | undefined): Promise<LocalKey> {
  if (keyFile === undefined) {
    const keys = await generateRsaKeyPair(2048);
    return createSelfSignedSigner({ keys, subject: `CN=scep-cli ${command}` });
  }
  if (cert === undefined) throw new UsageError(`${command}: --key needs --cert (the certificate of that key)`);
  const { keys, pem } = await loadKeyPair(ctx, keyFile);
  if (!isRsa(keys)) {
    throw new CliError(
      `cannot sign the ${command} request with ${keyFile}: it is not an RSA key, and the signer certificate receives the CA's reply by RSA key transport (RFC 8894 §3.3.2); leave out --cert and --key to ask with a throwaway RSA key`,
      ExitCode.NO_INPUT,
    );
  }
  try {
    return LocalKey.fromPem(cert.toPem(), pem);
  } catch (error) {
    throw new CliError(`cannot use ${keyFile} with ${certFile}: ${(error as Error).message}`, ExitCode.NO_INPUT);
  }
}

/**
 * Sends one GetCert/GetCRL built by `build` (after GetCACert, checked against the pin) and returns its SUCCESS CertRep;
 * a FAILURE ends with exit 2 and {@link failureLine}, with the command's `meaning` of a failInfo.
 */
export async function query(
  options: { url: string; timeoutMs: number; caIdentifier?: string; pin: CliPin; signer: LocalKey; operation: "GetCert" | "GetCRL"; explain?: Parameters<typeof failureLine>[1] },
  build: (recipient: Certificate, caCertificates: Certificate[]) => Promise<BuiltRequest>,
): Promise<{ rep: CertRep; caCertificates: Certificate[] }> {
  const client = new ScepClient({ url: options.url, timeoutMs: options.timeoutMs, ...(options.caIdentifier === undefined ? {} : { caIdentifier: options.caIdentifier }), ...options.pin, fetch: scepFetch });
  const caCertificates = await client.getCaCert();
  const request = await build(selectRecipient(caCertificates), caCertificates);
  const rep = await readCertRep(await client.pkiOperation(request.der), { decrypter: options.signer, caCertificates, request });
  if (rep.status === "FAILURE") throw new CliError(failureLine(rep, options.explain), ExitCode.FAILURE);
  if (rep.status !== "SUCCESS") throw new CliError(`the CA answered ${options.operation} with ${rep.status}, which RFC 8894 §3.3 does not allow for it`, ExitCode.ERROR);
  return { rep, caCertificates };
}
