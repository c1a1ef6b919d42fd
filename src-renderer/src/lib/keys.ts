import { useEffect, useRef } from 'react';

// What is open, oldest first: Escape closes the newest (a menu over a dialog closes first).
const open: { current: () => void }[] = [];
let listening = false;
function onKey(e: KeyboardEvent): void {
  if (e.key !== 'Escape' || e.defaultPrevented || open.length === 0) return;
  e.preventDefault();
  open[open.length - 1]!.current();
}

/** While `active`, Escape runs `close` (a dialog, a menu). */
export function useEscape(active: boolean, close: () => void): void {
  const latest = useRef(close);
  latest.current = close;
  useEffect(() => {
    if (!active) return;
    const entry = latest;
    open.push(entry);
    if (!listening) {
      window.addEventListener('keydown', onKey);
      listening = true;
    }
    return () => {
      const i = open.indexOf(entry);
      if (i >= 0) open.splice(i, 1);
    };
  }, [active]);
}
