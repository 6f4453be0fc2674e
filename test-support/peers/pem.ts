/**
 * PEM/DER conversions for peer input and output. The peers disagree on
 * formats: strongSwan `pki` writes DER by default, micromdm and certmonger
 * write PEM, OpenSSL reads both.
 *
 * @module
 */

/** One PEM block: its label (`CERTIFICATE`, `PKCS7`, …) and DER bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order (headers such as `Proc-Type` are rejected). */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? "";
    const body = match[2] ?? "";
    if (body.includes(":")) {
      throw new Error(`PEM block "${label}" has headers (encrypted?); decrypt it first`);
    }
    blocks.push({ label, der: new Uint8Array(Buffer.from(body.replace(/\s+/g, ""), "base64")) });
  }
  return blocks;
}

/** DER of the first PEM block (optionally of a given label); throws if none. */
export function pemToDer(pem: string, label?: string): Uint8Array {
  const block = pemBlocks(pem).find((b) => label === undefined || b.label === label);
  if (!block) throw new Error(`no PEM block${label ? ` labelled "${label}"` : ""} found`);
  return block.der;
}

/** Wraps DER in a PEM block with 64-column base64 lines and a final newline. */
export function derToPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** True when the bytes start like a PEM file (ASCII dashes). */
export function looksLikePem(data: string | Uint8Array): boolean {
  const head = typeof data === "string" ? data.slice(0, 64) : Buffer.from(data.subarray(0, 64)).toString("latin1");
  return head.trimStart().startsWith("-----BEGIN ");
}

/** PEM or DER input to DER (the first block when PEM). */
export function toDer(data: string | Uint8Array, label?: string): Uint8Array {
  if (typeof data === "string") return pemToDer(data, label);
  return looksLikePem(data) ? pemToDer(Buffer.from(data).toString("latin1"), label) : data;
}

/** PEM or DER input to PEM text. */
export function toPem(data: string | Uint8Array, label = "CERTIFICATE"): string {
  if (typeof data === "string") return data;
  return looksLikePem(data) ? Buffer.from(data).toString("latin1") : derToPem(data, label);
}
