/** Markdown text rendered safely (see markdown.ts), with a switch to the raw text. */
import { useMemo, useState } from "react";

import { renderMarkdown } from "../markdown";

export function Markdown({ text, className = "" }: { text: string; className?: string }) {
  const [raw, setRaw] = useState(false);
  const html = useMemo(() => renderMarkdown(text), [text]);
  return (
    <div className={`markdown-box ${className}`}>
      <button type="button" className="link small markdown-toggle nodrag" onClick={(e) => (e.stopPropagation(), setRaw((r) => !r))} aria-pressed={raw} data-testid="markdown-toggle">
        {raw ? "rendered" : "raw"}
      </button>
      {raw ? <pre className="markdown-raw" data-testid="markdown-raw">{text}</pre> : <div className="markdown" data-testid="markdown" dangerouslySetInnerHTML={{ __html: html }} />}
    </div>
  );
}
