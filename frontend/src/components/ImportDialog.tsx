/** Import a workflow file (format v1, as Export writes it) or pasted JSON as a new workflow. */
import { useState } from "react";

export function ImportDialog({ onImport, onClose }: { onImport: (text: string) => void; onClose: () => void }) {
  const [text, setText] = useState("");
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="import-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="import-title">Import a workflow</h2>
        <p className="muted small">A format v1 JSON file (as Export writes it) becomes a new workflow in your team.</p>
        <label htmlFor="import-file">From a file</label>
        <input id="import-file" type="file" accept="application/json,.json" onChange={async (e) => e.target.files?.[0] && onImport(await e.target.files[0].text())} />
        <label htmlFor="import-text">Or paste the JSON</label>
        <textarea id="import-text" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
        <div className="form-actions">
          <button type="button" className="primary" disabled={!text.trim()} onClick={() => onImport(text)}>
            Import pasted JSON
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}
