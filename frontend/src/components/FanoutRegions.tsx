/**
 * Fan-out regions drawn behind their nodes: a tinted frame around a fan-out,
 * everything that runs once per item, and its join — so a reader sees at a
 * glance what runs in parallel. Frames follow the nodes as they move.
 */
import { useNodes, ViewportPortal } from "@xyflow/react";
import { useMemo } from "react";

import type { WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import { fanoutRegions } from "../graph/structure";

const PAD = 18;

export function FanoutRegions({ doc, types }: { doc: WorkflowDoc; types: TypeIndex }) {
  const nodes = useNodes();
  const regions = useMemo(() => fanoutRegions(doc, types), [doc, types]);
  const boxes = useMemo(() => {
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const result: { id: string; x: number; y: number; width: number; height: number; label: string; depth: number }[] = [];
    for (const region of regions.values()) {
      const members = [region.fanout, ...region.members, ...(region.join ? [region.join] : [])];
      let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
      for (const id of members) {
        const node = byId.get(id);
        if (!node) continue;
        const width = node.measured?.width ?? 200;
        const height = node.measured?.height ?? 60;
        left = Math.min(left, node.position.x);
        top = Math.min(top, node.position.y);
        right = Math.max(right, node.position.x + width);
        bottom = Math.max(bottom, node.position.y + height);
      }
      if (left === Infinity) continue;
      const nested = [...regions.values()].filter((r) => r.members.has(region.fanout)).length;
      result.push({ id: region.fanout, x: left - PAD + nested * 6, y: top - PAD - 10, width: right - left + 2 * PAD - nested * 12,
                    height: bottom - top + 2 * PAD + 10, label: `runs once per item of ${region.fanout}`, depth: nested });
    }
    return result;
  }, [nodes, regions]);
  if (!boxes.length) return null;
  return (
    <ViewportPortal>
      {boxes.map((box) => (
        <div
          key={box.id}
          className="fanout-region"
          data-testid={`fanout-region-${box.id}`}
          aria-hidden="true"
          style={{ transform: `translate(${box.x}px, ${box.y}px)`, width: box.width, height: box.height }}
        >
          <span>{box.label}</span>
        </div>
      ))}
    </ViewportPortal>
  );
}
