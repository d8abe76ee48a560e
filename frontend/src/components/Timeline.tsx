/**
 * The run as a Gantt chart: one bar per step on a shared time axis, so what
 * ran in parallel (fan-out items, independent branches) is seen at a glance.
 * Reads the recorded steps (GET /api/runs/{id}/steps/), again while the run moves.
 */
import { useEffect, useMemo, useState } from "react";

import { getRunSteps, type StepRecord } from "../api/endpoints";
import { formatDuration } from "../format";
import { describeKey } from "../run/keys";
import { buildTimeline } from "../run/timeline";

interface Props {
  runId: number | null;
  /** Changes when the run moves on (new steps, new status): the steps are fetched again. */
  version: string;
  nodeName: (id: string) => string;
  onPick: (node: string, key: string) => void;
}

export function Timeline({ runId, version, nodeName, onPick }: Props) {
  const [steps, setSteps] = useState<StepRecord[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (runId == null) return;
    let live = true;
    const timer = setTimeout(() => {
      getRunSteps(runId)
        .then((s) => live && (setSteps(s), setError(null)))
        .catch((exc) => live && setError((exc as Error).message));
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [runId, version]);
  const timeline = useMemo(() => buildTimeline(steps), [steps]);
  if (runId == null) return <p className="muted">Run the workflow to see its timeline.</p>;
  return (
    <section className="panel timeline" aria-labelledby="timeline-heading" data-testid="timeline">
      <h2 id="timeline-heading" className="panel-title">
        Timeline
      </h2>
      {error && <p className="form-error small">{error}</p>}
      <p className="muted small">
        {timeline.bars.length} steps over {formatDuration(timeline.totalMs)}; at most {timeline.maxParallel} at once.
      </p>
      <ol className="gantt" aria-label="Steps over time">
        {timeline.bars.map((bar) => (
          <li key={bar.id} className="gantt-row">
            <button type="button" className="gantt-label link" title={bar.key} onClick={() => onPick(bar.node, bar.key)}>
              {nodeName(bar.node)} <span className="muted">{describeKey(bar.key)}</span>
            </button>
            <span className="gantt-track">
              <span
                className={`gantt-bar status-${bar.status}`}
                style={{ left: `${bar.left * 100}%`, width: `${bar.width * 100}%` }}
                title={`${bar.node} ${bar.key}: ${formatDuration(bar.endMs - bar.startMs)} from +${formatDuration(bar.startMs)}`}
              />
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
