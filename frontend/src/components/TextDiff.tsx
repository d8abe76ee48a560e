/** Two values side by side with what changed marked: removed text on the left, added text on the right. */
import { useMemo } from "react";

import type { FieldChange } from "../graph/diff";
import { textDiff } from "../compare/text";

export function TextDiff({ before, after, labels = ["Before", "After"] }: { before: unknown; after: unknown; labels?: [string, string] }) {
  const parts = useMemo(() => textDiff(before, after), [before, after]);
  return (
    <div className="text-diff" data-testid="text-diff">
      <div className="text-diff-side">
        <span className="text-diff-label muted small">{labels[0]}</span>
        <pre data-testid="diff-before">
          {parts.filter((p) => p.kind !== "added").map((p, i) => (p.kind === "removed" ? <del key={i}>{p.text}</del> : <span key={i}>{p.text}</span>))}
        </pre>
      </div>
      <div className="text-diff-side">
        <span className="text-diff-label muted small">{labels[1]}</span>
        <pre data-testid="diff-after">
          {parts.filter((p) => p.kind !== "removed").map((p, i) => (p.kind === "added" ? <ins key={i}>{p.text}</ins> : <span key={i}>{p.text}</span>))}
        </pre>
      </div>
    </div>
  );
}

/** Each changed field of a node, old and new side by side. */
export function FieldDiffs({ changes, labels }: { changes: FieldChange[]; labels?: [string, string] }) {
  if (!changes.length) return null;
  return (
    <ul className="field-diffs" data-testid="field-diffs">
      {changes.map((c) => (
        <li key={c.field}>
          <code className="field-diff-name">{c.field}</code>
          <TextDiff before={c.before} after={c.after} labels={labels} />
        </li>
      ))}
    </ul>
  );
}
