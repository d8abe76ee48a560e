/**
 * Who else has this workflow open (and who is editing), live over
 * /ws/workflows/{id}/presence/; a teammate's save as it lands, with a way to
 * see their change and merge before a save is ever refused; and the user's
 * own role, changed by an owner while the page is open.
 */
import { useEffect, useRef, useState } from "react";

export interface PresentUser {
  id: number;
  username: string;
  role: string;
  editing: boolean;
  tabs?: number;
}

export interface SavedEvent {
  version: number;
  by: string | null;
  mine: boolean;
  message: string;
}

interface Options {
  /** Tell the others this page has unsaved edits. */
  editing: boolean;
  onRole: (role: string, canEdit: boolean) => void;
  onSaved: (event: SavedEvent) => void;
  /** The workflow is no longer visible to this user (removed from the team, moved away). */
  onGone: () => void;
  /** It moved to another team the user is also in. */
  onMoved?: (teamName: string) => void;
}

export function presenceUrl(workflowId: number, loc: Location = window.location): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws/workflows/${workflowId}/presence/`;
}

export function usePresence(workflowId: number | null, options: Options): { users: PresentUser[]; connected: boolean } {
  const [users, setUsers] = useState<PresentUser[]>([]);
  const [connected, setConnected] = useState(false);
  const latest = useRef(options);
  latest.current = options;
  const socketRef = useRef<WebSocket | null>(null);

  useEffect(() => {
    if (workflowId == null || typeof WebSocket === "undefined") return;
    let stopped = false;
    let retry = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const open = () => {
      const ws = new WebSocket(presenceUrl(workflowId));
      socketRef.current = ws;
      ws.onopen = () => {
        retry = 500;
        setConnected(true);
        if (latest.current.editing) ws.send(JSON.stringify({ type: "editing", editing: true }));
      };
      ws.onmessage = (message) => {
        const data = JSON.parse(String(message.data)) as Record<string, unknown>;
        if (data.type === "hello" || data.type === "presence") setUsers((data.users as PresentUser[]) ?? []);
        else if (data.type === "role") latest.current.onRole(String(data.role), Boolean(data.can_edit));
        else if (data.type === "saved") latest.current.onSaved(data as unknown as SavedEvent);
        else if (data.type === "moved") latest.current.onMoved?.(String(data.team_name));
      };
      ws.onclose = (event) => {
        setConnected(false);
        setUsers([]);
        if (stopped) return;
        if (event.code === 4404 || event.code === 4401) {
          latest.current.onGone();
          return;
        }
        timer = setTimeout(open, retry);
        retry = Math.min(retry * 2, 10_000);
      };
    };
    open();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socketRef.current?.close();
      socketRef.current = null;
    };
  }, [workflowId]);

  useEffect(() => {
    const ws = socketRef.current;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "editing", editing: options.editing }));
  }, [options.editing, connected]);

  return { users, connected };
}

export function PresenceBar({ users, connected }: { users: PresentUser[]; connected: boolean }) {
  if (!connected) return null;
  return (
    <span className="presence" aria-label="Who else has this workflow open" data-testid="presence">
      {users.length === 0 ? (
        <span className="muted small">only you here</span>
      ) : (
        users.map((u) => (
          <span key={u.id} className={`presence-user${u.editing ? " editing" : ""}`} title={`${u.username} (${u.role})${u.editing ? " is editing" : " is viewing"}`}>
            <span className="avatar" aria-hidden="true">
              {u.username.slice(0, 1).toUpperCase()}
            </span>
            {u.username}
            <span className="muted small">{u.editing ? " editing" : ` ${u.role}`}</span>
          </span>
        ))
      )}
    </span>
  );
}

export function SavedBanner({ event, onShow, onDismiss }: { event: SavedEvent; onShow: () => void; onDismiss: () => void }) {
  return (
    <div className="notice notice-info saved-banner" role="status" data-testid="teammate-saved">
      <strong>
        {event.by ?? "Someone"} saved v{event.version}
      </strong>
      {event.message ? `: “${event.message}”` : ""} — your edits are based on an older version.{" "}
      <button type="button" className="link small" onClick={onShow}>
        See their change and merge
      </button>{" "}
      <button type="button" className="link small" onClick={onDismiss} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}
