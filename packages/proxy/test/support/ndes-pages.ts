/**
 * NDES admin pages (`/certsrv/mscep_admin/`) for tests, generated here rather
 * than captured. The English sentences are the ones NDES (Windows Server
 * 2016–2022, en-US) prints, as reported from the field (Fleet's SCEP proxy
 * matches the same three sentences: fleetdm/fleet ee/server/service/scep/scep_proxy.go).
 * The markup is a reconstruction of NDES's page shape as Fleet's en-US test
 * pages show it (fleetdm/fleet ee/server/service/scep/sceptest/testdata/
 * mscep_admin_password.html @9a430703, mscep_admin_cache_full.html @0f675934,
 * mscep_admin_insufficient_permissions.html @a25cf33d; not copied, rebuilt):
 * upper-case tags, `<Meta HTTP-Equiv=Content-Type … charset=UTF-8>` even when
 * IIS sends the page as UTF-16LE, the localisation ids `LocID ID=locMSCertSrv`,
 * `ID=locPageTitle`, `ID=locPageDesc`, the thumbprint and the password each in
 * a `<B>`, the cache-full page's remedies in a `<UL>`. Encodings are produced
 * by `encodePage`.
 *
 * The German, French and Japanese pages (`LOCALIZED`) put OUR OWN translations
 * of those sentences into the same markup: no localized NDES page could be
 * sourced (searched: Fleet, PSNDESEnrollment, zentral, public NDES guides), so
 * the wording is not Microsoft's, and the parser must not depend on it: it
 * reads such a challenge page by its structure (ndes-page.ts); its error pages
 * are unknown pages (their shape is every NDES message's).
 */

/** The sentences of one language, and its `<Title>`. */
export interface PageWords {
  title: string;
  service: string;
  description: string;
  intro: string;
  thumbprint: string;
  password: string;
  once: string;
  refresh: string;
  cacheFull: readonly [string, string, string, readonly [string, string, string]];
  noPermission: string;
  help: string;
}

const ENGLISH: PageWords = {
  title: "Network Device Enrollment Service",
  service: "Network Device Enrollment Service",
  description: "Network Device Enrollment Service allows you to obtain certificates for routers or other network devices using the Simple Certificate Enrollment Protocol (SCEP).",
  intro: "To complete certificate enrollment for your network device you will need the following information:",
  thumbprint: "The thumbprint (hash value) for the CA certificate is:",
  password: "The enrollment challenge password is:",
  once: "This password can be used only once and will expire within 60 minutes.",
  refresh: "Each enrollment requires a new challenge password. You can refresh this web page to obtain a new challenge password.",
  cacheFull: [
    "The password cache is full.",
    "Network Device Enrollment Service stores unused password for later use. By default, passwords are stored for 60 minutes.",
    "Use one of the existing passwords. If you cannot use an existing password:",
    ["Wait until one or more existing passwords expire.", "Restart Internet Information Services (IIS).", "Configure the service to cache more than 5 passwords."],
  ],
  noPermission: "You do not have sufficient permission to enroll with SCEP.  Please contact your system administrator.",
  help: "For more information see Using Network Device Enrollment Service.",
};

/** Our translations (not Microsoft's wording: see the header). */
export const LOCALIZED: Readonly<Record<"de-DE" | "fr-FR" | "ja-JP", PageWords>> = {
  "de-DE": {
    title: "Registrierungsdienst für Netzwerkgeräte",
    service: "Registrierungsdienst für Netzwerkgeräte",
    description: "Mit dem Registrierungsdienst für Netzwerkgeräte können Sie Zertifikate für Router und andere Netzwerkgeräte über das Simple Certificate Enrollment Protocol (SCEP) anfordern.",
    intro: "Für die Zertifikatregistrierung Ihres Netzwerkgeräts benötigen Sie folgende Angaben:",
    thumbprint: "Der Fingerabdruck (Hashwert) des Zertifizierungsstellenzertifikats lautet:",
    password: "Das Kennwort für die Registrierungsanforderung lautet:",
    once: "Dieses Kennwort kann nur einmal verwendet werden und läuft nach 60 Minuten ab.",
    refresh: "Jede Registrierung erfordert ein neues Kennwort. Aktualisieren Sie diese Seite, um ein neues Kennwort zu erhalten.",
    cacheFull: [
      "Der Kennwortcache ist voll.",
      "Der Registrierungsdienst für Netzwerkgeräte speichert nicht verwendete Kennwörter. Standardmäßig werden Kennwörter 60 Minuten lang gespeichert.",
      "Verwenden Sie eines der vorhandenen Kennwörter. Wenn das nicht möglich ist:",
      ["Warten Sie, bis vorhandene Kennwörter ablaufen.", "Starten Sie die Internetinformationsdienste (IIS) neu.", "Lassen Sie den Dienst mehr als 5 Kennwörter speichern."],
    ],
    noPermission: "Sie verfügen nicht über die Berechtigung zur Registrierung mit SCEP. Wenden Sie sich an Ihren Systemadministrator.",
    help: "Weitere Informationen finden Sie unter Verwenden des Registrierungsdiensts für Netzwerkgeräte.",
  },
  "fr-FR": {
    title: "Service d’inscription de périphériques réseau",
    service: "Service d’inscription de périphériques réseau",
    description: "Le service d’inscription de périphériques réseau vous permet d’obtenir des certificats pour des routeurs ou d’autres périphériques réseau à l’aide du protocole SCEP (Simple Certificate Enrollment Protocol).",
    intro: "Pour terminer l’inscription du certificat de votre périphérique réseau, vous aurez besoin des informations suivantes :",
    thumbprint: "L’empreinte numérique (valeur de hachage) du certificat de l’autorité de certification est :",
    password: "Le mot de passe de stimulation d’inscription est :",
    once: "Ce mot de passe n’est utilisable qu’une fois et expire dans 60 minutes.",
    refresh: "Chaque inscription nécessite un nouveau mot de passe. Actualisez cette page pour en obtenir un nouveau.",
    cacheFull: [
      "Le cache des mots de passe est plein.",
      "Le service conserve les mots de passe inutilisés. Par défaut, ils sont conservés 60 minutes.",
      "Utilisez l’un des mots de passe existants. Si ce n’est pas possible :",
      ["Attendez l’expiration d’un ou plusieurs mots de passe.", "Redémarrez les services Internet (IIS).", "Configurez le service pour conserver plus de 5 mots de passe."],
    ],
    noPermission: "Vous ne disposez pas des autorisations suffisantes pour vous inscrire avec SCEP. Contactez votre administrateur système.",
    help: "Pour plus d’informations, voir Utilisation du service d’inscription de périphériques réseau.",
  },
  "ja-JP": {
    title: "ネットワーク デバイス登録サービス",
    service: "ネットワーク デバイス登録サービス",
    description: "ネットワーク デバイス登録サービスを使うと、SCEP (Simple Certificate Enrollment Protocol) でルーターなどのネットワーク デバイスの証明書を取得できます。",
    intro: "ネットワーク デバイスの証明書の登録には、次の情報が必要です:",
    thumbprint: "CA 証明書の拇印 (ハッシュ値):",
    password: "登録チャレンジ パスワード:",
    once: "このパスワードは 1 回だけ使用でき、60 分で期限切れになります。",
    refresh: "登録ごとに新しいパスワードが必要です。このページを更新すると新しいパスワードを取得できます。",
    cacheFull: [
      "パスワード キャッシュがいっぱいです。",
      "未使用のパスワードは保存されます。既定では 60 分間保存されます。",
      "既存のパスワードを使用してください。使用できない場合:",
      ["既存のパスワードの期限が切れるまで待ちます。", "インターネット インフォメーション サービス (IIS) を再起動します。", "6 個以上のパスワードをキャッシュするようにサービスを構成します。"],
    ],
    noPermission: "SCEP で登録するための十分なアクセス許可がありません。システム管理者に問い合わせてください。",
    help: "詳細については、ネットワーク デバイス登録サービスの使用に関するページを参照してください。",
  },
};

/** The challenge the test pages carry (NDES prints 16 upper-case hex digits). */
export const PAGE_CHALLENGE = "8CE317021F690069";

/** The CA thumbprint as NDES prints it: groups of 8 hex digits. */
export const PAGE_THUMBPRINT = "1B2C3D4E 5F607182 93A4B5C6 D7E8F901";

function head(w: PageWords): string {
  return (
    `<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-8"><Title>${w.title}</Title></Head>` +
    '<Body BgColor=#FFFFFF><Font ID=locPageFont Face="Arial"><Table Border=0 CellSpacing=0 CellPadding=4 Width=100% BgColor=#008080><TR><TD>' +
    `<Font ID=locPageTitleFont Face="Arial" Size=-1 Color=#FFFFFF><LocID ID=locMSCertSrv>${w.service}</LocID></Font></TD></TR></Table>` +
    `<P ID=locPageTitle> ${w.description} </P>`
  );
}
const tail = (w: PageWords): string => `<P ID=locPageDesc> <A HREF=http://go.microsoft.com/fwlink/?LinkId=67852>${w.help}</A> </P></Font></Body></HTML>`;

/** The challenge page in the language of `w`. */
export function challengePageIn(w: PageWords, challenge: string = PAGE_CHALLENGE): string {
  return (
    head(w) +
    `<P> ${w.intro} ` +
    `<P> ${w.thumbprint} <B> ${PAGE_THUMBPRINT} </B> ` +
    `<P> ${w.password} <B> ${challenge} </B> ` +
    `<P> ${w.once} ` +
    `<P> ${w.refresh} </P> ` +
    tail(w)
  );
}

/** The cache-full page in the language of `w`. */
export function cacheFullPageIn(w: PageWords): string {
  const [full, stores, use, remedies] = w.cacheFull;
  return head(w) + `<P> ${full} <P> ${stores}<P>${use} <UL> ${remedies.map((r) => `<LI> ${r} </LI>`).join(" ")} </UL> </P> ` + tail(w);
}

/** The no-permission page in the language of `w`. */
export const noPermissionPageIn = (w: PageWords): string => head(w) + `<P> ${w.noPermission} </P> ` + tail(w);

/** An NDES page in the language of `w` that says `body` (markup between the title and the help link): another message than the three above. */
export const messagePageIn = (w: PageWords, body: string): string => head(w) + body + " " + tail(w);

/** The English NDES page shape with a message of NDES's that the parser does not know (`body`, markup). */
export const englishMessagePage = (body: string): string => messagePageIn(ENGLISH, body);

/** The page NDES shows with a fresh challenge. */
export const challengePage = (challenge: string = PAGE_CHALLENGE): string => challengePageIn(ENGLISH, challenge);

/** The page NDES shows when its password cache (5 unused challenges by default) is full. */
export const CACHE_FULL_PAGE = cacheFullPageIn(ENGLISH);

/** The page NDES shows to an account without Enroll permission. */
export const NO_PERMISSION_PAGE = noPermissionPageIn(ENGLISH);

/** A page that is none of NDES's (an access gateway's login form). */
export const LOGIN_PAGE = '<html><head><title>Sign in</title></head><body><form method="post"><input name="username"></form></body></html>';

/** How a page goes on the wire. */
export type PageEncoding = "utf-8" | "utf-8-bom" | "utf-16le" | "utf-16le-bom";

/** The bytes of `html` in `encoding`. */
export function encodePage(html: string, encoding: PageEncoding): Uint8Array {
  switch (encoding) {
    case "utf-8":
      return new TextEncoder().encode(html);
    case "utf-8-bom":
      return new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(html)]);
    case "utf-16le":
      return new Uint8Array(Buffer.from(html, "utf16le"));
    case "utf-16le-bom":
      return new Uint8Array([0xff, 0xfe, ...Buffer.from(html, "utf16le")]);
  }
}

/** Every real page variant, for seeding fuzzers. */
export const REAL_PAGES: readonly string[] = [
  challengePage(),
  CACHE_FULL_PAGE,
  NO_PERMISSION_PAGE,
  LOGIN_PAGE,
  ...Object.values(LOCALIZED).flatMap((w) => [challengePageIn(w), cacheFullPageIn(w), noPermissionPageIn(w)]),
];
