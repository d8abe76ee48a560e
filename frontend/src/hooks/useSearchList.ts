/**
 * A search box over a short list, driven from the keyboard: typing filters
 * and goes back to the first match, arrows move the highlight, Enter chooses
 * it, Escape closes. Shared by the node finder (Ctrl+F) and the node picker
 * (an edge dropped on empty canvas).
 */
import { useState, type ChangeEvent, type KeyboardEvent } from "react";

/** `count` is read when a key is pressed: the list is filtered by this hook's own query. */
export function useSearchList(count: () => number, choose: (index: number) => void, close: () => void) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const onChange = (e: ChangeEvent<HTMLInputElement>) => {
    setQuery(e.target.value);
    setActive(0);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    e.stopPropagation(); // the canvas's own shortcuts must not see what is typed here
    if (e.key === "Escape") close();
    else if (e.key === "ArrowDown") (e.preventDefault(), setActive((i) => Math.min(i + 1, count() - 1)));
    else if (e.key === "ArrowUp") (e.preventDefault(), setActive((i) => Math.max(i - 1, 0)));
    else if (e.key === "Enter") (e.preventDefault(), choose(active));
  };
  return { query, active, setActive, inputProps: { value: query, onChange, onKeyDown } };
}
