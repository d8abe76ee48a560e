/**
 * What a run adds on top of the drawn graph: each node's run summary and the
 * selection. Kept apart from the xyflow nodes, so the graph's own node state
 * (positions, later: edits) does not change on every streamed token.
 */
import { createContext, useContext } from "react";

import type { NodeRun } from "../run/selectors";

export interface RunOverlay {
  nodes: ReadonlyMap<string, NodeRun>;
  selected: string | null;
  runActive: boolean;
  onSelect: (nodeId: string) => void;
  /** The editor's additions: connectable handles, problems from validation, diff marks, renaming in place. */
  editable?: boolean;
  problems?: ReadonlyMap<string, string[]>;
  /** Validation warnings: shown on the node, but they do not block a run. */
  warnings?: ReadonlyMap<string, string[]>;
  marks?: ReadonlyMap<string, "added" | "changed">;
  onRename?: (nodeId: string, name: string) => void;
}

export const RunOverlayContext = createContext<RunOverlay>({
  nodes: new Map(),
  selected: null,
  runActive: false,
  onSelect: () => {},
});

export function useRunOverlay(): RunOverlay {
  return useContext(RunOverlayContext);
}
