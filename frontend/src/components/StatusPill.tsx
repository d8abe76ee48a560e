/** A run or step status as a coloured pill. */
export function StatusPill({ status, testId }: { status: string; testId?: string }) {
  return (
    <span className={`pill ${status}`} data-testid={testId} data-status={status}>
      {status}
    </span>
  );
}

export function DemoBadge({ title = "Answered by the offline demo model, not a real LLM" }: { title?: string }) {
  return (
    <span className="badge demo" title={title} data-testid="demo-badge">
      demo model
    </span>
  );
}
