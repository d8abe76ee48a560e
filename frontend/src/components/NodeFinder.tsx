/**
 * Ctrl+F on the canvas: find a node by its name, id or type. Arrows and
 * Enter (or a click) select the node and centre the view on it; Escape
 * closes.
 */
import { useMemo } from "react";

import { displayName, type WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import { useSearchList } from "../hooks/useSearchList";

interface Props {
  doc: WorkflowDoc;
  types: TypeIndex;
  onFound: (id: string) => void;
  onClose: () => void;
}

export function NodeFinder({ doc, types, onFound, onClose }: Props) {
  const { query, active, setActive, inputProps } = useSearchList(() => matches.length, (i) => choose(i), onClose);
  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    return doc.nodes.filter((n) => !q || `${displayName(n)} ${n.id} ${types.get(n.type)?.label ?? n.type}`.toLowerCase().includes(q)).slice(0, 50);
  }, [doc, types, query]);
  const choose = (i: number) => {
    const node = matches[i];
    if (node) onFound(node.id);
  };

  return (
    <div className="node-finder" role="dialog" aria-label="Find a node" data-testid="node-finder">
      <div className="finder-row">
        <input
          autoFocus
          type="search"
          placeholder="Find a node by name…"
          aria-label="Find a node by name"
          {...inputProps}
        />
        <button type="button" className="small ghost" aria-label="Close the finder" onClick={onClose}>
          ✕
        </button>
      </div>
      <ul role="listbox" aria-label="Matching nodes">
        {matches.map((n, i) => (
          <li key={n.id} role="option" aria-selected={i === active}>
            <button type="button" className={i === active ? "is-active" : ""} onMouseEnter={() => setActive(i)} onClick={() => onFound(n.id)}>
              <span className="finder-name">{displayName(n)}</span> <code className="muted">{n.id}</code>{" "}
              <span className="muted small">{types.get(n.type)?.label ?? n.type}</span>
            </button>
          </li>
        ))}
        {!matches.length && <li className="muted small">No node matches “{query}”.</li>}
      </ul>
    </div>
  );
}
