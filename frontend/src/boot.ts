/**
 * What the Django page hands the app: templates/workflow.html renders it with
 * `json_script` as <script id="boot">; editor/pages.py builds it.
 */
import type { WorkflowDoc } from "./graph/format";
import type { NodeTypeDescription } from "./graph/nodeTypes";
import type { RunStatus } from "./run/types";

export interface WorkflowInfo {
  /** null on /workflows/new/: the first save creates it. */
  id: number | null;
  name: string;
  description: string;
  team: number;
  team_name: string;
  version: number | null;
  /** The version every trigger runs; null when nothing is published. */
  published_version?: number | null;
  graph: WorkflowDoc | null;
  template_slug?: string | null;
  created_at?: string;
  updated_at?: string;
  last_run?: { id: number; status: RunStatus; created_at: string } | null;
}

export interface Boot {
  workflow: WorkflowInfo;
  nodeTypes: NodeTypeDescription[];
  canRun: boolean;
  /** The caller's role in the workflow's team, and its owners: whom a viewer should ask. */
  role?: string | null;
  owners?: string[];
  runId: number | null;
  demoMode: boolean;
}

export function readBoot(doc: Document = document): Boot {
  const element = doc.getElementById("boot");
  if (!element?.textContent) throw new Error("The page has no boot data (<script id=\"boot\">); reload it.");
  return JSON.parse(element.textContent) as Boot;
}
