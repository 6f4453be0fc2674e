/** This package's name and version, sent as Intune's `callerInfo` and user agent unless configured. */
export const PROVIDER = "scep-sdk @scep/intune/0.1.0";
