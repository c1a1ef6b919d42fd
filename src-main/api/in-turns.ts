import { TRPCError } from '@trpc/server';
import { z, ZodRealError } from 'zod';

/** How many items one turn of the thread validates before it lets other work in. */
export const ITEMS_PER_TURN = 100;

/** Resolves on a later turn, once what waits (I/O, timers) has had its go. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A list's outer shape checked at once (an array, within its bounds), for an input whose items
 * are then validated by `parseInTurns`: the type is the full schema's input, as the client sees it.
 */
export function shallowList<S extends z.ZodType>(item: S, min: number, max: number) {
  const outer = z.array(z.unknown()).min(min).max(max);
  // What parse throws is taken by tRPC as a bad request, as for any other input.
  return (raw: unknown): z.input<S>[] => outer.parse(raw) as z.input<S>[];
}

/**
 * Each item validated by `schema`, ITEMS_PER_TURN at a time with a turn between, so a list of
 * thousands never holds up the thread (IPC, the tray, other requests; issue 18). Fails as the
 * whole list's validation would, with each problem's path starting at its item's index, once a
 * run of items has any.
 */
export async function parseInTurns<S extends z.ZodType>(schema: S, items: readonly unknown[]): Promise<z.output<S>[]> {
  const out: z.output<S>[] = [];
  for (let from = 0; from < items.length; from += ITEMS_PER_TURN) {
    if (from > 0) await nextTurn();
    const issues: z.core.$ZodIssue[] = [];
    for (let i = from; i < Math.min(items.length, from + ITEMS_PER_TURN); i++) {
      const r = schema.safeParse(items[i]);
      if (r.success) out.push(r.data);
      else for (const issue of r.error.issues) issues.push({ ...issue, path: [i, ...issue.path] });
    }
    // ZodRealError, as zod's parse throws: an Error, so tRPC keeps it as the cause (describeError reads it).
    if (issues.length > 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'invalid request', cause: new ZodRealError(issues) });
  }
  return out;
}
