/** The nodes and edges selected on the canvas; picking one node also inspects it. */
import { useCallback, useState } from "react";

export function useSelection(onPickOne: (node: string) => void) {
  const [selection, setSelection] = useState<Set<string>>(new Set());
  const [selectedEdges, setSelectedEdges] = useState<Set<number>>(new Set());
  const onSelectionChange = useCallback(
    (ids: Set<string>, edges: Set<number>) => {
      setSelection(ids);
      setSelectedEdges(edges);
      if (ids.size === 1) onPickOne([...ids][0]);
    },
    [onPickOne],
  );
  const clearSelection = useCallback(() => {
    setSelection(new Set());
    setSelectedEdges(new Set());
  }, []);
  return { selection, setSelection, selectedEdges, setSelectedEdges, onSelectionChange, clearSelection };
}

export type SelectionState = ReturnType<typeof useSelection>;
