/**
 * The node picker shown where a dragged edge was dropped on empty canvas:
 * type to filter, arrows and Enter (or a click) to add the node there,
 * already connected to the port the edge came from. Escape or a click
 * elsewhere closes it.
 */
import { useMemo, type CSSProperties } from "react";

import { categoryColor, type NodeTypeDescription } from "../graph/nodeTypes";
import { useSearchList } from "../hooks/useSearchList";

interface Props {
  types: readonly NodeTypeDescription[];
  /** Where to show it, in pixels within the canvas. */
  at: { x: number; y: number };
  from: string;
  onPick: (type: string) => void;
  onClose: () => void;
}

export function NodePicker({ types, at, from, onPick, onClose }: Props) {
  const { query, active, setActive, inputProps } = useSearchList(() => choices.length, (i) => pick(i), onClose);
  const choices = useMemo(() => {
    const q = query.trim().toLowerCase();
    // Only what can take an edge in: not start, not sticky notes.
    return types.filter((t) => t.has_input !== false && (!q || `${t.label} ${t.type} ${t.description}`.toLowerCase().includes(q)));
  }, [types, query]);
  const pick = (i: number) => choices[i] && onPick(choices[i].type);

  return (
    <div className="picker-backdrop" onMouseDown={onClose}>
      <div
        className="node-picker"
        role="dialog"
        aria-label={`Add a node after ${from}`}
        data-testid="node-picker"
        style={{ left: at.x, top: at.y }}
        onMouseDown={(e) => e.stopPropagation()}
      >
        <input
          autoFocus
          type="search"
          placeholder={`Add after ${from}…`}
          aria-label="Search node types to add"
          {...inputProps}
        />
        <ul role="listbox" aria-label="Node types">
          {choices.map((t, i) => (
            <li key={t.type} role="option" aria-selected={i === active}>
              <button
                type="button"
                className={i === active ? "is-active" : ""}
                style={{ "--cat": categoryColor(t.category) } as CSSProperties}
                onMouseEnter={() => setActive(i)}
                onClick={() => onPick(t.type)}
                title={t.description}
              >
                {t.label}
              </button>
            </li>
          ))}
          {!choices.length && <li className="muted small">No node type matches “{query}”.</li>}
        </ul>
      </div>
    </div>
  );
}
