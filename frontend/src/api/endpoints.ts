/** The endpoints the run view calls, typed. */
import type { WorkflowDoc } from "../graph/format";
import type { RunStatus, RunSummary } from "../run/types";
import { api } from "./client";

export interface StartedRun {
  id: number;
  status: RunStatus;
  version: number;
}

export interface WorkflowVersion {
  number: number;
  message: string;
  author: string | null;
  created_at: string;
  graph: WorkflowDoc;
}

export function startRun(workflowId: number, input: Record<string, unknown>): Promise<StartedRun> {
  return api.post<StartedRun>(`/api/workflows/${workflowId}/runs/`, { input });
}

export function listRuns(workflowId: number): Promise<RunSummary[]> {
  return api.get<RunSummary[]>(`/api/workflows/${workflowId}/runs/`);
}

export function cancelRun(runId: number): Promise<RunSummary> {
  return api.post<RunSummary>(`/api/runs/${runId}/cancel/`);
}

export function getVersion(workflowId: number, number: number): Promise<WorkflowVersion> {
  return api.get<WorkflowVersion>(`/api/workflows/${workflowId}/versions/${number}/`);
}
