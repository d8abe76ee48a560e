/** A sticky note on the canvas: never runs, never connects. */
import type { NodeProps } from "@xyflow/react";

import type { NoteFlowNode } from "../graph/toFlow";
import { Markdown } from "./Markdown";

const NOTE_COLORS = new Set(["yellow", "blue", "green", "pink", "purple", "gray", "grey", "orange"]);

export function NoteNode({ data }: NodeProps<NoteFlowNode>) {
  const color = NOTE_COLORS.has(data.color) ? data.color : "yellow";
  return (
    <div className={`note note-${color}`} aria-label="Note">
      {data.node.name && <div className="note-title">{data.node.name}</div>}
      <Markdown className="note-text" text={data.text ?? ""} />
    </div>
  );
}
