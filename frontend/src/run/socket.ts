/**
 * The run WebSocket, `/ws/runs/{id}/`, kept open while a run can still change.
 * If it drops mid-run it reconnects with `?after=<seq>` (the reducer's
 * watermark) and backs off; the reducer drops whatever it had already applied.
 * No React here: the owner passes callbacks.
 */
import type { ServerMessage } from "./types";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "closed" | "denied";

export interface RunSocketOptions {
  runId: number;
  onMessage: (message: ServerMessage) => void;
  onConnection?: (state: ConnectionState, detail?: string) => void;
  /** The seq to resume after on a reconnect (0 on the first connect). */
  resumeAfter: () => number;
  /** True once the run can no longer change: a drop then needs no reconnect. */
  isFinished: () => boolean;
  /** Overridable for tests. */
  url?: (runId: number, after: number) => string;
  createSocket?: (url: string) => WebSocket;
  backoffMs?: readonly number[];
}

const DEFAULT_BACKOFF = [300, 1000, 2000, 4000, 8000] as const;

// Closing codes the consumer uses for "not signed in" and "no such run for you".
const DENIED_CODES: Record<number, string> = {
  4401: "You are signed out. Sign in again to follow this run.",
  4403: "You may not see this run.",
  4404: "This run does not exist or is not visible to you.",
};

export function runSocketUrl(runId: number, after: number, location: Pick<Location, "protocol" | "host"> = window.location): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = after > 0 ? `?after=${after}` : "";
  return `${scheme}://${location.host}/ws/runs/${runId}/${query}`;
}

export class RunSocket {
  private socket: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopped = false;
  private readonly options: RunSocketOptions;

  constructor(options: RunSocketOptions) {
    this.options = options;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Closes for good; no reconnect follows. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000, "closed by the page");
  }

  /** Drops the connection and opens a new one at once, resuming after the watermark. */
  reconnect(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null; // its close event is then ignored
    if (socket && socket.readyState <= 1) socket.close(1000, "resuming");
    this.open();
  }

  private open(): void {
    const { runId, url = runSocketUrl, createSocket = (u: string) => new WebSocket(u) } = this.options;
    const after = this.options.resumeAfter();
    this.options.onConnection?.(this.failures || after ? "reconnecting" : "connecting");
    const socket = createSocket(url(runId, after));
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      this.options.onConnection?.("live");
    };
    socket.onmessage = (event: MessageEvent) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return; // not ours to interpret; the protocol only sends JSON
      }
      this.options.onMessage(message);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (DENIED_CODES[event.code]) {
        this.options.onConnection?.("denied", DENIED_CODES[event.code]);
        return;
      }
      if (this.options.isFinished()) {
        this.options.onConnection?.("closed");
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    const backoff = this.options.backoffMs ?? DEFAULT_BACKOFF;
    const delay = backoff[Math.min(this.failures, backoff.length - 1)];
    this.failures += 1;
    this.options.onConnection?.("reconnecting", `Connection lost; retrying in ${Math.round(delay / 100) / 10} s`);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.open();
    }, delay);
  }
}
