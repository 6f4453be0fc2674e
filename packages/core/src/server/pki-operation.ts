/**
 * PKIOperation (RFC 8894 §4.3): read the message, decode it, and dispatch by
 * messageType: PKCSReq/RenewalReq to the enrollment pipeline, CertPoll,
 * GetCert/GetCRL.
 *
 * @module
 */
import type { PkiRequest } from "../message/pki-message.js";
import { MessageType } from "../message/types.js";
import { poll } from "./cert-poll.js";
import type { ServerContext } from "./context.js";
import { decode, requireKeyTransport } from "./enrollment/decode.js";
import { enroll } from "./enrollment/pipeline.js";
import type { ScepEvent, ScepOperation } from "./events.js";
import { getCertOrCrl } from "./get-cert.js";
import type { ResolvedProfile } from "./profile.js";
import { type BodyReader, readPkiMessage } from "./read-request.js";
import { Reply } from "./replies.js";

/** The handler of the request's messageType. */
function dispatch(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  switch (req.messageType) {
    case MessageType.PKCSReq:
    case MessageType.RenewalReq:
      return enroll(ctx, p, req);
    case MessageType.CertPoll:
      return poll(ctx, p, req);
    default:
      return getCertOrCrl(ctx, p, req);
  }
}

/** Answers one PKIOperation request. */
export async function pkiOperation(ctx: ServerContext, p: ResolvedProfile, method: string, url: string, readBody: BodyReader): Promise<Reply> {
  const message = await readPkiMessage(method, url, readBody, ctx.maxBody);
  if (message instanceof Reply) return message;
  const req = await decode(ctx, p, message);
  if (req instanceof Reply) return req;
  let reply: Reply;
  try {
    reply = (await requireKeyTransport(ctx, p, req)) ?? (await dispatch(ctx, p, req));
  } catch (error) {
    // A hook or store that threw: its event (500, 503) names the request as a FAILURE's event does, so an operator can
    // tell which device's enrollment failed.
    throw new PkiOperationFailure(error, named(req, {}));
  }
  return reply.with(named(req, reply.extra));
}

/** The event fields that name a decoded request: messageType, transactionID, and the CSR's subject unless `extra` names one. */
function named(req: PkiRequest, extra: Partial<ScepEvent>): Partial<ScepEvent> {
  // (The CSR's subject only when the reply does not name one: formatting a DN is not free. decode() already refused a
  // CSR whose subject does not read, so this cannot throw.)
  const subject = extra.subject === undefined && req.csr ? { subject: req.csr.subject } : {};
  return { operation: req.messageTypeName as ScepOperation, transactionId: req.transactionId, ...subject };
}

/**
 * What a PKIOperation threw after its message was decoded (`error`, as thrown), with the event fields naming the
 * request. Internal: `serve` unwraps it, so `onError` gets the error itself.
 */
export class PkiOperationFailure {
  constructor(
    readonly error: unknown,
    readonly extra: Partial<ScepEvent>,
  ) {}
}
