/**
 * A run's steps as a Gantt chart: one bar per step from its start to its end
 * (a running step reaches `now`), on a shared time axis, and how many steps
 * ran at the same time at the busiest moment.
 */
export interface TimedStep {
  node_id: string;
  key: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Bar {
  id: string;
  node: string;
  key: string;
  status: string;
  startMs: number;
  endMs: number;
  /** Offsets on the axis, as fractions of the whole run (0 … 1). */
  left: number;
  width: number;
}

export interface Timeline {
  bars: Bar[];
  totalMs: number;
  maxParallel: number;
}

export function buildTimeline(steps: readonly TimedStep[], now: number = Date.now()): Timeline {
  const timed = steps
    .filter((s) => s.started_at)
    .map((s) => {
      const start = Date.parse(s.started_at!);
      const end = s.finished_at ? Date.parse(s.finished_at) : now;
      return { s, start, end: Math.max(end, start) };
    })
    .sort((a, b) => a.start - b.start || a.end - b.end);
  if (!timed.length) return { bars: [], totalMs: 0, maxParallel: 0 };
  const t0 = timed[0].start;
  const t1 = Math.max(...timed.map((t) => t.end));
  const total = Math.max(1, t1 - t0);
  const bars = timed.map(({ s, start, end }) => ({
    id: `${s.node_id}|${s.key}`,
    node: s.node_id,
    key: s.key,
    status: s.status,
    startMs: start - t0,
    endMs: end - t0,
    left: (start - t0) / total,
    width: Math.max((end - start) / total, 0.004),
  }));
  // Sweep the start and end points: the most bars open at once.
  const points = timed.flatMap(({ start, end }) => [
    [start, 1],
    [end, -1],
  ]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let maxParallel = 0;
  for (const [, d] of points) {
    open += d;
    maxParallel = Math.max(maxParallel, open);
  }
  return { bars, totalMs: t1 - t0, maxParallel };
}
