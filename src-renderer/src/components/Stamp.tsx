import { when } from '../lib/format.js';

/** A timestamp: local time and how long ago, the full date and time on hover. */
export function Stamp({ at }: { at: Date }) {
  const w = when(at);
  return (
    <time dateTime={at.toISOString()} title={w.full}>
      {w.text}
    </time>
  );
}
