/** Base64-encodes `der` as a PEM block with 64-column lines and a trailing newline. */
export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of the first `label` block in `text`, or `undefined` if there is none. */
export function firstPemBlock(text: string, label: string): Uint8Array<ArrayBuffer> | undefined {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`);
  const match = re.exec(text);
  if (!match?.[1]) return undefined;
  const der = Buffer.from(match[1].replace(/\s+/g, ""), "base64");
  return der.length === 0 ? undefined : new Uint8Array(der);
}

/** The DER of every `label` block in `text`, in order. */
export function allPemBlocks(text: string, label: string): Uint8Array<ArrayBuffer>[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, "g");
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (const match of text.matchAll(re)) {
    const der = Buffer.from((match[1] ?? "").replace(/\s+/g, ""), "base64");
    if (der.length > 0) out.push(new Uint8Array(der));
  }
  return out;
}

/** `AB:CD:…` like `openssl x509 -fingerprint`. */
export function colonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** Lower-case hex without separators. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
