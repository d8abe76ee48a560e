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
  return api.post<StartedRun>(`/api/workflows/${workflowId}/runs/?trigger=manual`, { input });
}

/** Runs per page of the run history (the API's default page). */
export const RUNS_PAGE = 100;

/** The newest runs, or with `before` the page of runs older than that run id. */
export interface RunFilters {
  status?: string;
  /** A trigger type; ANY_TRIGGER for every run; unset: every run but an experiment's. */
  trigger?: string;
  version?: string;
  /** ISO dates (yyyy-mm-dd), both days included. */
  since?: string;
  until?: string;
  q?: string;
}

/** The trigger pick that shows experiment runs too. */
export const ANY_TRIGGER = "*";

/** The query string of a run history page. By default an experiment's runs
 * (dozens at a time) are left out so they do not bury the manual ones; they
 * show when "experiment" or "any trigger" is picked. */
export function runsQuery(before: number | undefined, filters: RunFilters): URLSearchParams {
  const query = new URLSearchParams({ limit: String(RUNS_PAGE) });
  if (before != null) query.set("before", String(before));
  const { trigger, ...rest } = filters;
  if (!trigger) query.set("exclude_trigger", "experiment");
  else if (trigger !== ANY_TRIGGER) query.set("trigger", trigger);
  for (const [k, v] of Object.entries(rest)) if (v) query.set(k, v);
  return query;
}

export function listRuns(workflowId: number, before?: number, filters: RunFilters = {}): Promise<RunSummary[]> {
  const query = runsQuery(before, filters);
  return api.get<RunSummary[]>(`/api/workflows/${workflowId}/runs/?${query}`);
}

export function cancelRun(runId: number): Promise<RunSummary> {
  return api.post<RunSummary>(`/api/runs/${runId}/cancel/`);
}

export function getVersion(workflowId: number, number: number): Promise<WorkflowVersion> {
  return api.get<WorkflowVersion>(`/api/workflows/${workflowId}/versions/${number}/`);
}

export interface SavedWorkflow {
  id: number;
  name: string;
  description: string;
  version: number;
  graph: WorkflowDoc;
  tags?: string[];
  warnings?: unknown[];
}

export interface ValidationProblem {
  code: string;
  message: string;
  node?: string | null;
  edge?: number | null;
  field?: string | null;
  severity: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationProblem[];
  warnings: ValidationProblem[];
}

/** The server's validation, the one source of truth; a 400 is an answer here, not a failure. */
export async function validateGraph(graph: WorkflowDoc): Promise<ValidationResult> {
  try {
    const ok = await api.post<{ valid: boolean; warnings?: ValidationProblem[] }>("/api/workflows/validate/", { graph });
    return { valid: true, errors: [], warnings: ok.warnings ?? [] };
  } catch (exc) {
    const body = (exc as { status?: number; body?: unknown }).body as { errors?: ValidationProblem[]; warnings?: ValidationProblem[]; error?: string } | null;
    if ((exc as { status?: number }).status === 400 && body) {
      return { valid: false, errors: body.errors?.length ? body.errors : [{ code: "invalid", message: body.error ?? "invalid", severity: "error" }], warnings: body.warnings ?? [] };
    }
    throw exc;
  }
}

export function getWorkflow(id: number): Promise<SavedWorkflow> {
  return api.get<SavedWorkflow>(`/api/workflows/${id}/`);
}

/** Replace the workflow's tags (no new version: tags are not in the graph). */
export function setWorkflowTags(id: number, tags: string[]): Promise<SavedWorkflow> {
  return api.patch<SavedWorkflow>(`/api/workflows/${id}/`, { tags });
}

export function createWorkflow(body: { name: string; description?: string; graph: WorkflowDoc; team?: number; message?: string }): Promise<SavedWorkflow> {
  return api.post<SavedWorkflow>("/api/workflows/", body);
}

export function saveWorkflow(id: number, body: { graph: WorkflowDoc; name?: string; description?: string; message?: string; base_version: number | null }): Promise<SavedWorkflow> {
  return api.put<SavedWorkflow>(`/api/workflows/${id}/`, body);
}

export function listVersions(id: number): Promise<Omit<WorkflowVersion, "graph">[]> {
  return api.get<Omit<WorkflowVersion, "graph">[]>(`/api/workflows/${id}/versions/`);
}

export function importWorkflow(doc: unknown): Promise<SavedWorkflow> {
  return api.post<SavedWorkflow>("/api/workflows/import/", doc);
}

/** Re-run from a node on `version` (default: the run's own), reusing unchanged upstream outputs. */
export function rerunFrom(runId: number, fromNode: string, version?: number | null): Promise<StartedRun> {
  return api.post<StartedRun>(`/api/runs/${runId}/rerun/`, version == null ? { from_node: fromNode } : { from_node: fromNode, version });
}

export interface StepRecord {
  node_id: string;
  key: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  node_type?: string;
  input?: unknown;
  output?: unknown;
  error?: string;
  usage?: { tokens_in: number; tokens_out: number; cost_usd: number };
  duration_ms?: number | null;
  reused?: boolean;
  reused_from?: string | null;
  seq?: number;
}

export interface RunRecord extends RunSummary {
  steps: StepRecord[];
}

/** A run with all its steps. */
export function getRunRecord(runId: number): Promise<RunRecord> {
  return api.get<RunRecord>(`/api/runs/${runId}/`);
}

export function getRunSteps(runId: number): Promise<StepRecord[]> {
  return api.get<StepRecord[]>(`/api/runs/${runId}/steps/`);
}

export interface HumanAnswer {
  node: string;
  key: string;
  decision: "approve" | "reject";
  answer?: Record<string, unknown>;
  comment?: string;
}

/** Answer a run's waiting `human` step; the run resumes on the worker. */
export function answerStep(runId: number, body: HumanAnswer): Promise<unknown> {
  return api.post(`/api/runs/${runId}/answer/`, body);
}

/** What "Test this node" returns: one node run alone, nothing recorded. */
export interface NodeTestResult {
  node: string;
  run: number;
  /** The step whose scope it ran with ("" when the node never ran in that run). */
  key: string;
  status: "succeeded" | "failed";
  input: unknown;
  output: unknown;
  ports: string[];
  error: string;
  usage: { tokens_in: number; tokens_out: number; cost_usd: number };
  model: string;
  demo: boolean;
  duration_ms: number;
}

/** Run `node` of the draft `graph` alone with its scope at step `key` of finished run `runId`. */
export function testNode(workflowId: number, body: { node: string; run: number; key?: string; graph: WorkflowDoc }): Promise<NodeTestResult> {
  return api.post<NodeTestResult>(`/api/workflows/${workflowId}/test-node/`, body);
}
