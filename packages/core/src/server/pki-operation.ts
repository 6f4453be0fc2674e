/**
 * PKIOperation (RFC 8894 §4.3): read the message, decode it, and dispatch by
 * messageType: PKCSReq/RenewalReq to the enrollment pipeline, CertPoll,
 * GetCert/GetCRL.
 *
 * @module
 */
import { MessageType } from "../message/types.js";
import { poll } from "./cert-poll.js";
import type { ServerContext } from "./context.js";
import { decode } from "./enrollment/decode.js";
import { enroll } from "./enrollment/pipeline.js";
import type { ScepOperation } from "./events.js";
import { getCertOrCrl } from "./get-cert.js";
import type { ResolvedProfile } from "./profile.js";
import { readPkiMessage } from "./read-request.js";
import { Reply } from "./replies.js";

/** Answers one PKIOperation request. @group Server */
export async function pkiOperation(ctx: ServerContext, p: ResolvedProfile, request: Request, url: string): Promise<Reply> {
  const message = await readPkiMessage(request, url, ctx.maxBody);
  if (message instanceof Reply) return message;
  const req = await decode(ctx, p, message);
  if (req instanceof Reply) return req;
  let reply: Reply;
  switch (req.messageType) {
    case MessageType.PKCSReq:
    case MessageType.RenewalReq:
      reply = await enroll(ctx, p, req);
      break;
    case MessageType.CertPoll:
      reply = await poll(ctx, p, req);
      break;
    default:
      reply = await getCertOrCrl(ctx, p, req);
  }
  // (The CSR's subject only when the reply does not name one: formatting a DN is not free.)
  const subject = reply.extra.subject === undefined && req.csr ? { subject: req.csr.subject } : {};
  return new Reply(reply.response, reply.outcome, reply.reason, { operation: req.messageTypeName as ScepOperation, transactionId: req.transactionId, ...subject, ...reply.extra });
}
