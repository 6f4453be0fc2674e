/**
 * Raw loopback connections that behave like slow clients (slow-loris): shared
 * by the slow-client tests and `pnpm stress:slowloris`.
 */
import { connect, type Socket } from "node:net";

/** A raw connection that records what it received and when the server closed it. */
export interface Slow {
  socket: Socket;
  received: string;
  closed: Promise<void>;
  /** The drip of {@link trickle}, stopped on close. */
  timer: NodeJS.Timeout | undefined;
}

export function openSocket(port: number): Promise<Slow> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const slow: Slow = { socket, received: "", timer: undefined, closed: new Promise((done) => socket.once("close", () => (clearInterval(slow.timer), done()))) };
    socket.setEncoding("utf8").on("data", (d: string) => (slow.received += d));
    socket.on("error", () => undefined); // a reset by the server counts as closed
    socket.once("connect", () => resolve(slow)).once("error", reject);
  });
}

/** Writes `head` at once, then one character of `drip` every `everyMs` (none if `drip` is empty) until the server closes the connection. */
export async function trickle(port: number, head: string, drip: string, everyMs: number): Promise<Slow> {
  const slow = await openSocket(port);
  slow.socket.write(head);
  let i = 0;
  if (drip) slow.timer = setInterval(() => void (slow.socket.writable && slow.socket.write(drip[i++ % drip.length]!)), everyMs);
  return slow;
}

export const firstLine = (s: string): string => s.split("\r\n")[0] ?? "";

/** Sends one request on a new connection (Connection: close) and resolves with the whole answer ("" when the server closed it unanswered). */
export async function rawRequest(port: number, request: string): Promise<string> {
  const s = await openSocket(port);
  s.socket.end(request);
  await s.closed;
  return s.received;
}

