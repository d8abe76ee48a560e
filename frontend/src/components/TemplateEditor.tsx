/**
 * A code editor for template and expression fields (CodeMirror 6): `{{ }}`
 * is highlighted, and typing a name offers what is in scope at this node.
 * In a template field completion applies inside `{{ … }}`; an expression
 * field is all expression.
 */
import { autocompletion, closeBrackets, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { EditorState } from "@codemirror/state";
import { Decoration, EditorView, MatchDecorator, ViewPlugin, keymap, placeholder as placeholderExt, type DecorationSet, type ViewUpdate } from "@codemirror/view";
import { useEffect, useRef } from "react";

import type { ScopeEntry } from "../graph/scope";

const braces = new MatchDecorator({ regexp: /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, decoration: Decoration.mark({ class: "cm-template-expr" }) });
const highlightBraces = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = braces.createDeco(view);
    }
    update(update: ViewUpdate) {
      this.decorations = braces.updateDeco(update, this.decorations);
    }
  },
  { decorations: (v) => v.decorations },
);

function completeFrom(scope: () => ScopeEntry[], expression: boolean) {
  return (context: CompletionContext): CompletionResult | null => {
    const word = context.matchBefore(/[A-Za-z_][\w.]*/);
    if (!expression) {
      const before = context.state.sliceDoc(0, context.pos);
      const open = before.lastIndexOf("{{");
      if (open < 0 || before.lastIndexOf("}}") > open) return null;
    }
    if (!word && !context.explicit) return null;
    return {
      from: word ? word.from : context.pos,
      options: scope().map((e) => ({ label: e.label, detail: e.detail, type: "variable" })),
      validFor: /^[\w.]*$/,
    };
  };
}

interface Props {
  id: string;
  value: string;
  onChange: (value: string) => void;
  scope: ScopeEntry[];
  expression?: boolean;
  label: string;
  placeholder?: string;
  onBlur?: () => void;
}

export function TemplateEditor({ id, value, onChange, scope, expression = false, label, placeholder, onBlur }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef({ onChange, scope, onBlur });
  latest.current = { onChange, scope, onBlur };

  useEffect(() => {
    const state = EditorState.create({
      doc: value,
      extensions: [
        history(),
        closeBrackets(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        highlightBraces,
        autocompletion({ override: [completeFrom(() => latest.current.scope, expression)], activateOnTyping: true }),
        EditorView.lineWrapping,
        placeholderExt(placeholder ?? (expression ? "an expression, e.g. nodes.check.output == 'yes'" : "Text with {{ variables }}")),
        EditorView.contentAttributes.of({ "aria-label": label, id }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) latest.current.onChange(u.state.doc.toString());
        }),
        EditorView.domEventHandlers({ blur: () => latest.current.onBlur?.() }),
      ],
    });
    view.current = new EditorView({ state, parent: host.current! });
    return () => view.current?.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [expression]);

  // Outside changes (undo in the canvas, another node picked) replace the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  return <div ref={host} className={`template-editor ${expression ? "is-expression" : ""}`} data-testid={`template-${id}`} />;
}
