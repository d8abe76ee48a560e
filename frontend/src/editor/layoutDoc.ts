/** Auto-layout of a whole document with the canvas's own rules (loops read downwards, notes aside). */
import type { Position, WorkflowDoc } from "../graph/format";
import { layoutPositions } from "../graph/layout";
import { isCanvasOnly, outputPortsOf, type TypeIndex } from "../graph/nodeTypes";
import { findBackEdges } from "../graph/structure";

export function autoLayout(doc: WorkflowDoc, types: TypeIndex): Map<string, Position> {
  return layoutPositions(doc, {
    backEdges: findBackEdges(doc),
    isNote: (n) => isCanvasOnly(types.get(n.type), n.type),
    portOrder: (n) => outputPortsOf(n, types.get(n.type)),
  });
}
