/** The open run's consumption against the workflow's budgets: tokens, cost, steps, time. */
import { useEffect, useState } from "react";

import { formatCost, formatDuration, formatTokens } from "../format";
import type { WorkflowDoc } from "../graph/format";
import type { RunState } from "../run/reducer";
import { isRunFinished } from "../run/types";

function Meter({ label, used, max, format }: { label: string; used: number; max: number | null | undefined; format: (n: number) => string }) {
  const share = max ? Math.min(1, used / max) : 0;
  return (
    <div className="meter">
      <span className="meter-label">{label}</span>
      <span className="meter-bar" aria-hidden="true">
        <span className={`meter-fill ${share > 0.9 ? "is-high" : ""}`} style={{ width: `${share * 100}%` }} />
      </span>
      <span className="meter-text">
        {format(used)}
        {max ? ` / ${format(max)}` : ""}
      </span>
    </div>
  );
}

export function BudgetMeters({ run, settings }: { run: RunState; settings: WorkflowDoc["settings"] }) {
  const [now, setNow] = useState(Date.now());
  const live = !isRunFinished(run.status);
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [live]);
  const started = run.run?.started_at ? Date.parse(run.run.started_at) : null;
  const ended = run.run?.finished_at ? Date.parse(run.run.finished_at) : null;
  const elapsed = run.durationMs ?? (started ? (ended ?? now) - started : 0);
  return (
    <section className="panel budgets" aria-label="Budgets consumed" data-testid="budgets">
      <Meter label="Tokens" used={run.usage.tokens} max={settings?.max_tokens} format={formatTokens} />
      <Meter label="Cost" used={run.usage.cost_usd} max={settings?.max_cost_usd} format={formatCost} />
      <Meter label="Steps" used={run.usage.steps} max={settings?.max_steps} format={(n) => String(n)} />
      <Meter label="Time" used={elapsed} max={settings?.timeout_s ? settings.timeout_s * 1000 : null} format={formatDuration} />
    </section>
  );
}
