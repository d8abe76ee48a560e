/**
 * A run followed live: the reducer fed by the run WebSocket. Switching runs
 * closes the old socket and starts from an empty state.
 */
import { useEffect, useReducer, useRef, useState } from "react";

import { applyMessage, initialRunState, resumeSeq, type RunState } from "../run/reducer";
import { RunSocket, type ConnectionState } from "../run/socket";
import { isRunFinished, type RunSummary, type ServerMessage } from "../run/types";

const GAP_PATIENCE_MS = 2000;

type Action = { type: "open"; runId: number | null; summary?: Partial<RunSummary> | null } | { type: "message"; runId: number; message: ServerMessage };

function reduce(state: RunState, action: Action): RunState {
  if (action.type === "open") return initialRunState(action.runId, action.summary);
  // A message from a socket that belonged to another run is late; drop it.
  return action.runId === state.runId ? applyMessage(state, action.message) : state;
}

export interface Connection {
  state: ConnectionState | "idle";
  detail?: string;
}

export function useRun(runId: number | null, summary?: Partial<RunSummary> | null): { run: RunState; connection: Connection } {
  const [state, dispatch] = useReducer(reduce, null, () => initialRunState(runId, summary));
  const [connection, setConnection] = useState<Connection>({ state: "idle" });
  const stateRef = useRef(state);
  useEffect(() => {
    stateRef.current = state;
  }, [state]);

  const socketRef = useRef<RunSocket | null>(null);
  const summaryRef = useRef(summary);
  summaryRef.current = summary;

  useEffect(() => {
    dispatch({ type: "open", runId, summary: summaryRef.current });
    stateRef.current = initialRunState(runId, summaryRef.current);
    if (runId == null) {
      setConnection({ state: "idle" });
      return;
    }
    const socket = new RunSocket({
      runId,
      onMessage: (message) => dispatch({ type: "message", runId, message }),
      onConnection: (next, detail) => setConnection({ state: next, detail }),
      resumeAfter: () => (stateRef.current.runId === runId ? resumeSeq(stateRef.current) : 0),
      isFinished: () => stateRef.current.runId === runId && isRunFinished(stateRef.current.status),
    });
    socket.start();
    socketRef.current = socket;
    return () => {
      socket.stop();
      socketRef.current = null;
    };
  }, [runId]);

  // A hook for bench/editor.py: feed synthetic WebSocket messages through the
  // same reducer path a live run takes, to time the canvas under a flood.
  useEffect(() => {
    const w = window as unknown as { __orchestratorFeed?: (m: unknown) => void };
    if (runId != null) w.__orchestratorFeed = (message) => dispatch({ type: "message", runId, message: message as never });
  }, [runId]);

  // Events held back behind a missing seq for long mean a batch was lost on
  // the way: reconnecting replays the log from the watermark and fills the gap.
  const waiting = state.ahead.length > 0;
  useEffect(() => {
    if (!waiting) return;
    const timer = setTimeout(() => {
      if (stateRef.current.ahead.length) socketRef.current?.reconnect();
    }, GAP_PATIENCE_MS);
    return () => clearTimeout(timer);
  }, [waiting, state.watermark]);

  // Until the effect above has reset the state, show the new run as empty, not the old one.
  const visible = state.runId === runId ? state : initialRunState(runId, summary);
  return { run: visible, connection };
}
