/**
 * Windows SIDs a certificate request may try to get certified (strong
 * certificate mapping, Microsoft KB5014754): the SID extension
 * (szOID_NTDS_CA_SECURITY_EXT, 1.3.6.1.4.1.311.25.2), an otherName of type
 * szOID_NTDS_OBJECTSID (1.3.6.1.4.1.311.25.2.1) in the subjectAltName, and
 * the URI SAN tag Intune adds (`tag:microsoft.com,2022-09-14:sid:<SID>`).
 * A domain controller maps a certificate carrying one to that account, so a
 * CA that copies a requested SID lets any enrollee claim any account (SID
 * spoofing): the CSR policy refuses them and `endEntityExtensions` never
 * copies them unless a profile explicitly allows SIDs.
 *
 * @module
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import { findExtension, type Extension } from "./extensions.js";

/** The URI SAN prefix of a SID (compared case-insensitively, as a tag URI's authority is). */
export const SID_URI_PREFIX = "tag:microsoft.com,2022-09-14:sid:";

/** A SID in its string form: `S-1-<authority>-<sub-authority>…` (at most 15 sub-authorities). */
const SID = /^S-1-\d{1,14}(-\d{1,10}){1,15}$/;

/** Whether a URI SAN is a SID tag. */
export function isSidUri(uri: string): boolean {
  return uri.toLowerCase().startsWith(SID_URI_PREFIX);
}

/** Whether a SID tag URI names a well-formed SID. */
export function isWellFormedSidUri(uri: string): boolean {
  return isSidUri(uri) && SID.test(uri.slice(SID_URI_PREFIX.length));
}

/** Whether a raw GeneralName (DER) is an otherName of type szOID_NTDS_OBJECTSID. */
export function isSidOtherName(generalName: Uint8Array): boolean {
  try {
    const t = der.parse(generalName);
    if (t.tag !== 0xa0) return false;
    const [typeId] = der.children(t);
    return typeId !== undefined && der.readOid(typeId) === oids.id_ms_ntds_objectsid;
  } catch {
    return false;
  }
}

/** What SID-bearing parts a request has: the SID extension, SID URI SANs, SID otherName SANs. */
export interface RequestedSids {
  extension: boolean;
  uris: string[];
  otherNames: number;
}

/** The SID-bearing parts of a request's extensions and parsed SANs. */
export function requestedSids(extensions: readonly Extension[], sans: { uri: readonly string[]; other: readonly Uint8Array[] }): RequestedSids {
  return {
    extension: findExtension(extensions, oids.id_ms_ntds_ca_security_ext) !== undefined,
    uris: sans.uri.filter(isSidUri),
    otherNames: sans.other.filter(isSidOtherName).length,
  };
}
