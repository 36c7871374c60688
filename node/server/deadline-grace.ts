/**
 * Deadlines that do not blame a client for the server's own stall. Node checks the header and request deadlines
 * (`--header_timeout_ms`, `--request_timeout_ms`) on a timer, and after this server's thread has stalled (a loaded
 * machine, a long synchronous step) timers run before the bytes waiting in a socket are read: a client whose
 * request sat in the socket buffer all along would get 408. Measured: in the hostile bench's burst of 8 large
 * requests on a starved server, some were refused this way (bench/RESULTS.md, "Hostile clients").
 *
 * So a connection Node reports as late is judged after this turn of the event loop has read what is waiting
 * (setImmediate runs after the poll phase). With bytes waiting it is given grace: Node stops watching a connection
 * once it has reported it, so from then on this module checks it every {@link GRACE_CHECK_MS}, and it must have
 * delivered {@link MIN_PROGRESS_BYTES} since the previous check, until its request has fully arrived, for at most
 * {@link MAX_GRACE_MS}. A slow client (slowloris, a body a byte at a time) has nothing waiting, or delivers far
 * less, and is refused.
 */
import type { Socket } from 'node:net';

/** Bytes a connection in grace must deliver between checks. */
export const MIN_PROGRESS_BYTES = 16 * 1024;
/** How often a connection in grace is checked. */
export const GRACE_CHECK_MS = 1_000;
/** The longest grace past a deadline. */
export const MAX_GRACE_MS = 60_000;

/** Node's HTTP parser state on a server socket (internal, stable since Node 12): the message being received. */
type ServerSocket = Socket & { parser?: { incoming?: { complete?: boolean } | null } | null };

/**
 * Decides about a connection Node reported past a deadline: calls `refuse()` now or later, or nothing if its
 * request arrives in its grace.
 */
export function judgeLateConnection(socket: Socket, refuse: () => void, isSettled: () => boolean): void {
  const s = socket as ServerSocket;
  // A message already complete when the deadline fired is an earlier one (keep-alive): the late one has not begun.
  const earlier = s.parser?.incoming?.complete ? s.parser.incoming : null;
  const arrived = () => {
    const m = s.parser?.incoming;
    return !!m && m !== earlier && m.complete === true;
  };
  const since = performance.now();
  let bytes = socket.bytesRead;
  let needed = 1; // at the first look, anything waiting shows the stall was the server's
  let timer: NodeJS.Timeout | undefined;
  socket.once('close', () => clearTimeout(timer));
  const look = () =>
    setImmediate(() => {
      if (socket.destroyed || isSettled() || arrived()) return;
      const progress = socket.bytesRead - bytes;
      bytes = socket.bytesRead;
      if (progress < needed || performance.now() - since > MAX_GRACE_MS) return refuse();
      needed = MIN_PROGRESS_BYTES;
      timer = setTimeout(look, GRACE_CHECK_MS);
    });
  look();
}
