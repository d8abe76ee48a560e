/** The server's validation of the document, debounced as the user edits, and its problems by node and edge. */
import { useEffect, useMemo, useState } from "react";

import { validateGraph, type ValidationResult } from "../api/endpoints";
import type { WorkflowDoc } from "../graph/format";
import { messageOf } from "./usePersistence";

const VALIDATE_DEBOUNCE_MS = 350;

export function useValidation(doc: WorkflowDoc) {
  const [validation, setValidation] = useState<ValidationResult | null>(null);
  const [validationError, setValidationError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      validateGraph(doc)
        .then((r) => live && (setValidation(r), setValidationError(null)))
        .catch((exc) => live && setValidationError(`Cannot check the workflow: ${messageOf(exc)}`));
    }, VALIDATE_DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [doc]);
  const { nodeProblems, edgeProblems, generalProblems, nodeWarnings } = useMemo(() => {
    const byNode = new Map<string, string[]>();
    const byEdge = new Map<number, string>();
    const general: string[] = [];
    for (const p of validation?.errors ?? []) {
      if (p.node && doc.nodes.some((n) => n.id === p.node)) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.message]);
      else if (p.edge != null) byEdge.set(p.edge, p.message);
      else general.push(p.message);
    }
    const warnings = new Map<string, string[]>();
    for (const p of validation?.warnings ?? []) {
      if (p.node && doc.nodes.some((n) => n.id === p.node)) warnings.set(p.node, [...(warnings.get(p.node) ?? []), p.message]);
      else general.push(p.message);
    }
    return { nodeProblems: byNode, edgeProblems: byEdge, generalProblems: general, nodeWarnings: warnings };
  }, [validation, doc.nodes]);
  const valid = validation?.valid ?? false;
  return { validation, validationError, nodeProblems, edgeProblems, generalProblems, nodeWarnings, valid };
}
