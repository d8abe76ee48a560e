/** The keyboard shortcuts, in a dialog opened with "?" or the Help button. */
export const SHORTCUTS: [string, string][] = [
  ["Ctrl+S", "Save a new version"],
  ["Ctrl+Z", "Undo"],
  ["Ctrl+Shift+Z / Ctrl+Y", "Redo"],
  ["Ctrl+C / Ctrl+X / Ctrl+V", "Copy, cut, paste nodes (as workflow JSON; works across tabs)"],
  ["Ctrl+D", "Duplicate the selected nodes"],
  ["Ctrl+A", "Select every node"],
  ["Delete / Backspace", "Delete the selection (nodes and edges)"],
  ["Shift+drag", "Box-select (or drag on empty canvas)"],
  ["Shift+click", "Add a node to the selection"],
  ["F2 / double-click", "Rename the focused node"],
  ["L", "Auto-layout"],
  ["F", "Fit the workflow in view"],
  ["Z", "Zoom to the selected nodes (also the last button under the zoom controls)"],
  ["Ctrl+F", "Find a node by name: Enter selects it and centres the view on it"],
  ["N", "Add a sticky note"],
  ["Click a palette entry (or Enter on it)", "Add that node below the selected one, connected to it (nothing selected: in the middle of the view)"],
  ["Drag from a port to empty canvas", "Pick a node to add there, already connected"],
  ["Escape", "Clear the selection, close dialogs"],
  ["Scroll / middle- or right-drag", "Pan the canvas (read-only: any drag); Ctrl+scroll or pinch zooms"],
  ["?", "This help"],
];

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="help-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="help-title">Keyboard shortcuts</h2>
        <table className="shortcuts">
          <tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <tr key={keys}>
                <td>
                  <kbd>{keys}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="form-actions">
          <button type="button" onClick={onClose} autoFocus>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
