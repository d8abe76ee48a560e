/**
 * Every node type from the server, grouped by category and searchable, with
 * its description. Drag one onto the canvas (or onto an edge to insert it),
 * or press Enter on it to add it in the middle of the view.
 */
import { useMemo, useState, type CSSProperties } from "react";

import { categoryColor, type NodeTypeDescription } from "../graph/nodeTypes";
import { PALETTE_MIME } from "./EditorCanvas";

const CATEGORY_NAMES: Record<string, string> = { flow: "Flow", ai: "AI", data: "Data", io: "Input & output", human: "People", canvas: "Canvas" };

export function Palette({ types, onAdd, disabled }: { types: readonly NodeTypeDescription[]; onAdd: (type: string) => void; disabled: boolean }) {
  const [query, setQuery] = useState("");
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const shown = types.filter((t) => !q || `${t.label} ${t.type} ${t.description} ${t.category}`.toLowerCase().includes(q));
    const byCategory = new Map<string, NodeTypeDescription[]>();
    for (const t of shown) byCategory.set(t.category, [...(byCategory.get(t.category) ?? []), t]);
    return [...byCategory.entries()];
  }, [types, query]);

  return (
    <section className="panel palette" aria-labelledby="palette-heading" data-testid="palette">
      <h2 id="palette-heading" className="panel-title">
        Nodes
      </h2>
      <label className="sr-only" htmlFor="palette-search">
        Search node types
      </label>
      <input id="palette-search" type="search" placeholder="Search nodes…" value={query} onChange={(e) => setQuery(e.target.value)} />
      {!groups.length && <p className="muted small">No node type matches “{query}”.</p>}
      {groups.map(([category, list]) => (
        <div key={category} className="palette-group" role="group" aria-label={CATEGORY_NAMES[category] ?? category}>
          <h3 className="subhead">{CATEGORY_NAMES[category] ?? category}</h3>
          <ul>
            {list.map((t) => (
              <li key={t.type}>
                <button
                  type="button"
                  className="palette-item"
                  style={{ "--cat": categoryColor(t.category) } as CSSProperties}
                  draggable={!disabled}
                  disabled={disabled}
                  data-testid={`palette-${t.type}`}
                  aria-label={`Add ${t.label}: ${t.description}`}
                  title={`${t.description}\nDrag onto the canvas, or press Enter to add.`}
                  onDragStart={(e) => {
                    e.dataTransfer.setData(PALETTE_MIME, t.type);
                    e.dataTransfer.effectAllowed = "copy";
                  }}
                  onClick={() => onAdd(t.type)}
                >
                  <span className="palette-label">{t.label}</span>
                  <span className="palette-desc">{t.description}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}
