/**
 * The Triggers tab: publish / unpublish a version (what every trigger runs),
 * webhooks (URL with copy, a ready curl example, rotate), schedules (an
 * editor that shows the next fire times as you type) and the MCP switch with
 * the configuration to paste into an MCP client. README: "Calling workflows
 * from outside".
 */
import { type ReactNode, useCallback, useEffect, useState } from "react";

import { api } from "../api/client";
import { formatDateTime } from "../format";

export interface TriggerRecord {
  id: number;
  type: "webhook" | "schedule" | "mcp";
  enabled: boolean;
  url?: string | null;
  secret?: string;
  respond?: "output" | "accepted";
  timeout_s?: number;
  signing?: boolean;
  rate_limit_per_min?: number;
  cron?: string;
  timezone?: string;
  every_s?: number;
  input?: Record<string, unknown>;
  next_fires?: string[];
  last_fires?: { at: string; tick: string; run: number | null; error: string | null }[];
  tool?: string;
  mcp_url?: string;
}

/** Tells the header's badge that the published version changed. */
export const PUBLISHED_EVENT = "orchestrator:published";

export function PublishedBadge({ initial }: { initial: number | null | undefined }) {
  const [version, setVersion] = useState<number | null>(initial ?? null);
  useEffect(() => {
    const on = (e: Event) => setVersion((e as CustomEvent<number | null>).detail);
    window.addEventListener(PUBLISHED_EVENT, on);
    return () => window.removeEventListener(PUBLISHED_EVENT, on);
  }, []);
  if (version == null) return null;
  return (
    <span className="chip ok" data-testid="published-badge" title="Every trigger runs this version">
      published v{version}
    </span>
  );
}

/** An input for the example: each property's default, else a placeholder of its type. */
export function exampleInput(schema: unknown): Record<string, unknown> {
  const props = ((schema as { properties?: Record<string, { default?: unknown; type?: string }> } | null)?.properties) ?? {};
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(props)) {
    out[name] = p.default !== undefined ? p.default : p.type === "number" || p.type === "integer" ? 1 : p.type === "boolean" ? true : p.type === "array" ? [] : p.type === "object" ? {} : "…";
  }
  return out;
}

function curlExample(t: TriggerRecord, input: Record<string, unknown>): string {
  const body = JSON.stringify(input).replace(/'/g, "'\\''");
  const signed = t.signing
    ? `TS=$(date +%s); BODY='${body}'\nSIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')\n`
    : "";
  const headers = t.signing ? ` \\\n  -H "X-Orchestrator-Timestamp: $TS" -H "X-Orchestrator-Signature: sha256=$SIG"` : "";
  return `${signed}curl -sS -X POST '${t.url}' \\\n  -H 'Content-Type: application/json'${headers} \\\n  -d ${t.signing ? '"$BODY"' : `'${body}'`}`;
}

/** A trigger's buttons: its own actions, then Delete (last, in danger colour, on every kind). */
function TriggerActions({ children, onDelete }: { children: ReactNode; onDelete: () => void }) {
  return (
    <div className="row">
      {children}
      <button type="button" className="small danger" onClick={onDelete}>
        Delete
      </button>
    </div>
  );
}

function Copy({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setDone(true), () => setDone(false));
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}

function ScheduleEditor({ initial, onSave, saveLabel }: { initial?: TriggerRecord; onSave: (body: Record<string, unknown>) => void; saveLabel: string }) {
  const [mode, setMode] = useState<"cron" | "every">(initial?.every_s ? "every" : "cron");
  const [cron, setCron] = useState(initial?.cron ?? "*/15 * * * *");
  const [tz, setTz] = useState(initial?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  const [every, setEvery] = useState(String(initial?.every_s ?? 60));
  const [input, setInput] = useState(JSON.stringify(initial?.input ?? {}, null, 0));
  const [fires, setFires] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const body = mode === "cron" ? { cron, timezone: tz } : { every_s: Number(every) };

  useEffect(() => {
    const timer = setTimeout(() => {
      api
        .post<{ next_fires: string[] }>("/api/schedule-preview/", body)
        .then((r) => (setFires(r.next_fires), setProblem(null)))
        .catch((exc) => (setFires([]), setProblem((exc as Error).message)));
    }, 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [mode, cron, tz, every]);

  const save = () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input || "{}");
    } catch (exc) {
      setProblem(`input: not JSON (${(exc as Error).message})`);
      return;
    }
    onSave({ ...body, input: parsed });
  };

  return (
    <div className="stack" data-testid="schedule-editor">
      <div className="row">
        <label>
          <input type="radio" checked={mode === "cron"} onChange={() => setMode("cron")} /> cron
        </label>
        <label>
          <input type="radio" checked={mode === "every"} onChange={() => setMode("every")} /> every N seconds
        </label>
      </div>
      {mode === "cron" ? (
        <div className="row">
          <input aria-label="Cron expression" value={cron} onChange={(e) => setCron(e.target.value)} style={{ fontFamily: "monospace" }} />
          <input aria-label="Time zone" value={tz} onChange={(e) => setTz(e.target.value)} />
        </div>
      ) : (
        <input aria-label="Every (seconds)" type="number" min={5} value={every} onChange={(e) => setEvery(e.target.value)} />
      )}
      <label className="stack">
        <span className="muted small">Input (JSON)</span>
        <input aria-label="Schedule input" value={input} onChange={(e) => setInput(e.target.value)} style={{ fontFamily: "monospace" }} />
      </label>
      {problem ? (
        <p className="error" role="alert">{problem}</p>
      ) : (
        <div className="small" data-testid="next-fires">
          Next: {fires.map((f) => formatDateTime(f)).join(" · ")}
        </div>
      )}
      <button type="button" className="small primary" disabled={!!problem} onClick={save}>
        {saveLabel}
      </button>
    </div>
  );
}

export function TriggersPanel({ workflowId, canEdit, savedVersion, inputs }: { workflowId: number | null; canEdit: boolean; savedVersion: number | null; inputs?: unknown }) {
  const example = exampleInput(inputs);
  const [items, setItems] = useState<TriggerRecord[] | null>(null);
  const [publishedVersion, setPublished] = useState<number | null>(null);
  const [version, setVersion] = useState<string>("");
  const [error, setError] = useState<string | null>(null);
  const [secrets, setSecrets] = useState<Record<number, string>>({});
  const [newSchedule, setNewSchedule] = useState(false);
  const base = `/api/workflows/${workflowId}`;

  const load = useCallback(() => {
    if (workflowId == null) return;
    Promise.all([api.get<TriggerRecord[]>(`${base}/triggers/`), api.get<{ published_version: number | null }>(base + "/")])
      .then(([t, w]) => (setItems(t), setPublished(w.published_version), setError(null)))
      .catch((exc) => setError((exc as Error).message));
  }, [workflowId, base]);
  useEffect(load, [load]);

  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setError(null);
      load();
    } catch (exc) {
      setError((exc as Error).message);
    }
  };
  const setPub = (v: number | null) => {
    setPublished(v);
    window.dispatchEvent(new CustomEvent(PUBLISHED_EVENT, { detail: v }));
  };
  const publish = () =>
    act(async () => {
      const r = await api.post<{ published_version: number }>(`${base}/publish/`, version ? { version: Number(version) } : {});
      setPub(r.published_version);
    });
  const unpublish = () => act(async () => (await api.post(`${base}/unpublish/`), setPub(null)));
  const create = (body: Record<string, unknown>) =>
    act(async () => {
      const t = await api.post<TriggerRecord>(`${base}/triggers/`, body);
      if (t.secret) setSecrets((s) => ({ ...s, [t.id]: t.secret! }));
      setNewSchedule(false);
    });
  const rotate = (t: TriggerRecord) =>
    act(async () => {
      if (!window.confirm("Issue a new URL (and secret)? The old ones stop working at once.")) return;
      const r = await api.post<TriggerRecord>(`${base}/triggers/${t.id}/rotate/`);
      if (r.secret) setSecrets((s) => ({ ...s, [t.id]: r.secret! }));
    });
  const remove = (t: TriggerRecord) => act(() => api.del(`${base}/triggers/${t.id}/`));
  const patch = (t: TriggerRecord, body: Record<string, unknown>) => act(() => api.patch(`${base}/triggers/${t.id}/`, body));

  if (workflowId == null) return <p className="muted">Save the workflow first: triggers run a published version.</p>;
  const mcp = items?.find((t) => t.type === "mcp");
  const origin = window.location.origin;
  return (
    <div className="stack triggers-panel" data-testid="triggers-panel">
      <section className="card stack">
        <h3>Published version</h3>
        <p className="small">
          {publishedVersion != null ? (
            <>
              Triggers run <strong>version {publishedVersion}</strong>
              {savedVersion != null && savedVersion !== publishedVersion && <> — the latest saved is v{savedVersion}: publish it to put it in production.</>}
            </>
          ) : (
            <>Nothing is published: webhooks, schedules and MCP calls are refused (409) until you publish a version.</>
          )}
        </p>
        {canEdit && (
          <div className="row">
            <input aria-label="Version to publish" type="number" min={1} placeholder={`latest (v${savedVersion ?? "?"})`} value={version} onChange={(e) => setVersion(e.target.value)} style={{ width: 130 }} />
            <button type="button" className="small primary" onClick={() => void publish()}>
              Publish
            </button>
            {publishedVersion != null && (
              <button type="button" className="small" onClick={() => void unpublish()}>
                Unpublish
              </button>
            )}
          </div>
        )}
      </section>
      {error && <p className="error" role="alert">{error}</p>}

      <section className="card stack">
        <h3>Webhooks</h3>
        {items?.filter((t) => t.type === "webhook").map((t) => (
          <div key={t.id} className="stack" data-testid="webhook">
            {t.url ? (
              <>
                <div className="row">
                  <code className="small" data-testid="webhook-url" style={{ wordBreak: "break-all" }}>{t.url}</code>
                  <Copy text={t.url} label="Copy URL" />
                </div>
                <pre className="small" data-testid="curl">{curlExample(t, example)}</pre>
                <Copy text={curlExample(t, example)} label="Copy curl" />
              </>
            ) : (
              <p className="muted small">The URL is its credential: only owners and editors see it.</p>
            )}
            {secrets[t.id] && (
              <p className="small" data-testid="webhook-secret">
                Signing secret (shown once): <code>{secrets[t.id]}</code> <Copy text={secrets[t.id]} label="Copy secret" />
              </p>
            )}
            <div className="small muted">
              answers {t.respond === "output" ? `with the output (202 after ${t.timeout_s} s)` : "202 at once"} · {t.signing ? "signed (HMAC-SHA256)" : "unsigned"} · at most {t.rate_limit_per_min}/min
            </div>
            {canEdit && (
              <TriggerActions onDelete={() => void remove(t)}>
                <button type="button" className="small" onClick={() => void patch(t, { respond: t.respond === "output" ? "accepted" : "output" })}>
                  {t.respond === "output" ? "Answer 202 at once" : "Answer with the output"}
                </button>
                <button type="button" className="small" onClick={() => void patch(t, { signing: !t.signing })}>
                  {t.signing ? "Stop signing" : "Require a signature"}
                </button>
                <button type="button" className="small" onClick={() => void rotate(t)}>
                  Rotate
                </button>
              </TriggerActions>
            )}
          </div>
        ))}
        {canEdit && (
          <button type="button" className="small" onClick={() => void create({ type: "webhook" })}>
            Add a webhook
          </button>
        )}
      </section>

      <section className="card stack">
        <h3>Schedules</h3>
        {items?.filter((t) => t.type === "schedule").map((t) => (
          <div key={t.id} className="stack" data-testid="schedule">
            <div className="small">
              <strong>{t.cron ? `${t.cron} (${t.timezone})` : `every ${t.every_s} s`}</strong> {t.enabled ? "" : "(paused)"}
            </div>
            <div className="small muted">Next: {(t.next_fires ?? []).map((f) => formatDateTime(f)).join(" · ") || "—"}</div>
            {!!t.last_fires?.length && (
              <div className="small">
                Last:{" "}
                {t.last_fires.slice(0, 5).map((f) => (
                  <span key={f.tick} title={f.error ?? ""}>
                    {f.run ? <a href={`?run=${f.run}`}>#{f.run}</a> : <span className="error">✕</span>} {formatDateTime(f.tick)}{" "}
                  </span>
                ))}
              </div>
            )}
            {canEdit && (
              <TriggerActions onDelete={() => void remove(t)}>
                <button type="button" className="small" onClick={() => void patch(t, { enabled: !t.enabled })}>
                  {t.enabled ? "Pause" : "Resume"}
                </button>
              </TriggerActions>
            )}
          </div>
        ))}
        {canEdit &&
          (newSchedule ? (
            <ScheduleEditor onSave={(body) => void create({ type: "schedule", ...body })} saveLabel="Add the schedule" />
          ) : (
            <button type="button" className="small" onClick={() => setNewSchedule(true)}>
              Add a schedule
            </button>
          ))}
      </section>

      <section className="card stack">
        <h3>MCP tool</h3>
        <label className="row">
          <input
            type="checkbox"
            aria-label="Offer as an MCP tool"
            disabled={!canEdit}
            checked={!!mcp}
            onChange={() => void (mcp ? remove(mcp) : create({ type: "mcp" }))}
          />
          Offer this workflow as a tool on <code>{origin}/mcp/</code>
        </label>
        {mcp && (
          <>
            <p className="small">
              Tool name <code>{mcp.tool}</code>. Clients authenticate with an API token (<code>POST /api/auth/token/</code>). Paste into an MCP client:
            </p>
            <pre className="small" data-testid="mcp-config">
              {JSON.stringify({ mcpServers: { orchestrator: { type: "http", url: `${origin}/mcp/`, headers: { Authorization: "Bearer <your API token>" } } } }, null, 2)}
            </pre>
          </>
        )}
      </section>
    </div>
  );
}
