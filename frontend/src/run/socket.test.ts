import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { RunSocket, runSocketUrl } from "./socket";
import type { ServerMessage } from "./types";

/** A stand-in WebSocket the test drives by hand. */
class FakeSocket {
  static made: FakeSocket[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(message: ServerMessage) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
}

describe("RunSocket", () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  function start(state: { seq: number; finished: boolean }) {
    const messages: ServerMessage[] = [];
    const connections: string[] = [];
    const socket = new RunSocket({
      runId: 9,
      onMessage: (m) => messages.push(m),
      onConnection: (c) => connections.push(c),
      resumeAfter: () => state.seq,
      isFinished: () => state.finished,
      url: (id, after) => runSocketUrl(id, after, { protocol: "https:", host: "example.test" }),
      createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
      backoffMs: [100, 1000],
    });
    socket.start();
    return { socket, messages, connections };
  }

  it("reconnects after a drop mid-run, resuming after the last applied seq", () => {
    const state = { seq: 0, finished: false };
    const { messages, connections } = start(state);
    expect(FakeSocket.made[0].url).toBe("wss://example.test/ws/runs/9/");
    FakeSocket.made[0].open();
    FakeSocket.made[0].receive({ type: "events", events: [] });
    expect(messages).toHaveLength(1);

    state.seq = 42;
    FakeSocket.made[0].drop();
    expect(connections.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(100);
    expect(FakeSocket.made[1].url).toBe("wss://example.test/ws/runs/9/?after=42");
    FakeSocket.made[1].open();
    expect(connections.at(-1)).toBe("live");
  });

  it("stays closed when the run is over or access is denied", () => {
    const state = { seq: 5, finished: true };
    const { connections } = start(state);
    FakeSocket.made[0].drop(1000);
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.made).toHaveLength(1);
    expect(connections.at(-1)).toBe("closed");

    const denied = start({ seq: 0, finished: false });
    FakeSocket.made[1].drop(4404);
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.made).toHaveLength(2);
    expect(denied.connections.at(-1)).toBe("denied");
  });

  it("reconnects on request, resuming after the watermark", () => {
    const state = { seq: 7, finished: false };
    const { socket } = start(state);
    FakeSocket.made[0].open();
    socket.reconnect();
    expect(FakeSocket.made[0].closed).toBe(true);
    expect(FakeSocket.made[1].url).toBe("wss://example.test/ws/runs/9/?after=7");
    FakeSocket.made[0].drop(1000); // the old socket's late close starts nothing
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it("stops for good when the page closes it", () => {
    const { socket } = start({ seq: 0, finished: false });
    FakeSocket.made[0].open();
    socket.stop();
    expect(FakeSocket.made[0].closed).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.made).toHaveLength(1);
  });
});
