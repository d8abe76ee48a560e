/** Small builders for graph tests. */
import type { EdgeDoc, NodeDoc, WorkflowDoc } from "./format";
import type { NodeTypeDescription } from "./nodeTypes";

export function describeType(type: string, overrides: Partial<NodeTypeDescription> = {}): NodeTypeDescription {
  return {
    type,
    label: type[0].toUpperCase() + type.slice(1),
    category: "flow",
    description: "",
    config_schema: { type: "object" },
    template_fields: [],
    expression_fields: [],
    has_input: type !== "start",
    executable: true,
    output_ports: ["out"],
    dynamic_ports: false,
    ...overrides,
  };
}

export const TYPES: NodeTypeDescription[] = [
  describeType("start", { has_input: false }),
  describeType("output", { output_ports: [] }),
  describeType("llm", { category: "ai" }),
  describeType("condition", { output_ports: ["true", "false"] }),
  describeType("switch", { output_ports: null, dynamic_ports: true }),
  describeType("loop", { output_ports: ["next", "done"] }),
  describeType("fanout"),
  describeType("join"),
  describeType("note", { category: "canvas", executable: false, has_input: false, output_ports: [] }),
];

/** A document from `{target: [sources]}`; a source may carry a port as "source.port". Every node is an llm unless typed. */
export function docFromEdges(
  incoming: Record<string, string[]>,
  types: Record<string, string> = {},
  positioned = false,
): WorkflowDoc {
  const ids = new Set<string>(Object.keys(incoming));
  Object.values(incoming).flat().forEach((s) => ids.add(s.split(".")[0]));
  const nodes: NodeDoc[] = [...ids].map((id, i) => ({
    id,
    type: types[id] ?? (id === "start" ? "start" : "llm"),
    ...(positioned ? { position: { x: 0, y: i * 120 } } : {}),
  }));
  const edges: EdgeDoc[] = Object.entries(incoming).flatMap(([target, sources]) =>
    sources.map((s) => {
      const [source, port] = s.split(".");
      return port ? { source, source_port: port, target } : { source, target };
    }),
  );
  return { format: "orchestrator.workflow/v1", name: "test", nodes, edges };
}
