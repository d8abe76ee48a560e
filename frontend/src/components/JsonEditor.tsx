/**
 * A JSON field as a code editor (CodeMirror 6 with its JSON language):
 * highlighting, bracket matching, syntax errors marked where they are. With
 * `jsonSchema`, the value is also checked against the JSON Schema
 * meta-schema, so a mistyped `"type": "strin"` is caught as it is typed, in
 * the same words wherever a schema is edited (llm json_schema, validate
 * schema, a human step's form, the workflow's inputs).
 */
import { closeBrackets } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { bracketMatching, syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { linter } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { useEffect, useRef, useState } from "react";

import { schemaProblem } from "../forms/schemaCheck";

interface Props {
  id: string;
  label: string;
  value: unknown;
  /** The parsed value (undefined when emptied); not called while the text is not JSON. */
  onChange: (value: unknown) => void;
  /** Check the value as a JSON Schema too. */
  jsonSchema?: boolean;
  disabled?: boolean;
}

export function asJsonText(value: unknown): string {
  return value === undefined || value === null ? "" : JSON.stringify(value, null, 2);
}

/** What is wrong with the text, in a sentence, or null. */
export function jsonTextProblem(text: string, jsonSchema: boolean): string | null {
  if (!text.trim()) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (exc) {
    return `Not JSON yet: ${(exc as Error).message}`;
  }
  return jsonSchema ? schemaProblem(value) : null;
}

export function JsonEditor({ id, label, value, onChange, jsonSchema = false, disabled = false }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef({ onChange, jsonSchema });
  latest.current = { onChange, jsonSchema };
  const emitted = useRef(JSON.stringify(value ?? null));
  const [problem, setProblem] = useState<string | null>(() => jsonTextProblem(asJsonText(value), jsonSchema));

  useEffect(() => {
    const state = EditorState.create({
      doc: asJsonText(value),
      extensions: [
        history(),
        closeBrackets(),
        bracketMatching(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        json(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        linter(jsonParseLinter(), { delay: 300 }),
        EditorView.lineWrapping,
        EditorState.readOnly.of(disabled),
        EditorView.editable.of(!disabled),
        EditorView.contentAttributes.of({ "aria-label": label, id, "aria-describedby": `${id}-problem` }),
        EditorView.updateListener.of((u) => {
          if (!u.docChanged) return;
          const text = u.state.doc.toString();
          const found = jsonTextProblem(text, latest.current.jsonSchema);
          setProblem(found);
          if (!text.trim()) {
            emitted.current = "null";
            latest.current.onChange(undefined);
          } else if (!found?.startsWith("Not JSON")) {
            const parsed: unknown = JSON.parse(text);
            emitted.current = JSON.stringify(parsed);
            latest.current.onChange(parsed);
          }
        }),
      ],
    });
    view.current = new EditorView({ state, parent: host.current! });
    return () => view.current?.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [disabled]);

  // An outside change (undo, another node picked) replaces the text; the echo of what was typed does not.
  useEffect(() => {
    const v = view.current;
    if (!v || JSON.stringify(value ?? null) === emitted.current) return;
    emitted.current = JSON.stringify(value ?? null);
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: asJsonText(value) } });
    setProblem(jsonTextProblem(asJsonText(value), latest.current.jsonSchema));
  }, [value]);

  return (
    <div className="json-editor-wrap">
      <div ref={host} className="json-editor" data-testid={`json-${id}`} />
      <p id={`${id}-problem`} className={problem ? "form-error small" : "sr-only"} role={problem ? "alert" : undefined} data-testid="json-problem">
        {problem ?? ""}
      </p>
    </div>
  );
}
