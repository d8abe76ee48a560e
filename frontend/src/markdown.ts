/**
 * Markdown rendered safely: marked turns it into HTML, DOMPurify keeps only
 * inert markup (no script, no event handlers, no javascript: URLs, no style
 * attributes — which a strict CSP would refuse anyway), and links open in a
 * new tab without access to this page.
 */
import DOMPurify from "dompurify";
import { marked } from "marked";

let hooked = false;

export function renderMarkdown(text: string): string {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  const html = marked.parse(text ?? "", { async: false, gfm: true, breaks: true }) as string;
  return DOMPurify.sanitize(html, { FORBID_TAGS: ["style", "form", "input", "button", "iframe", "object", "embed"], FORBID_ATTR: ["style"] });
}
