import type { TaskSubmission } from '../../../contracts/task.js';
import { ManagerError } from '../errors.js';

const where = (i: number, n: number): string => (n > 1 ? `task ${i + 1} of ${n}` : 'the task');

/**
 * The batch's own graph: each line's refs resolved to the lines they name. Refused, naming the
 * line: a ref given twice, a ref no line has, a line that waits on itself, and a cycle.
 * Returns, for each line, the lines it waits on (per dependency item, in order); an empty list
 * when no line names or uses a ref (a plain batch costs nothing here).
 */
export function batchRefs(subs: readonly TaskSubmission[]): number[][][] {
  if (!subs.some((s) => s.ref !== undefined || s.dependsOn?.some((d) => d.refs?.length))) return [];
  const byRef = new Map<string, number>();
  subs.forEach((s, i) => {
    if (s.ref === undefined) return;
    const first = byRef.get(s.ref);
    if (first !== undefined) throw new ManagerError('INVALID_INPUT', `${where(i, subs.length)}: ref "${s.ref}" is already the ref of task ${first + 1}`, i);
    byRef.set(s.ref, i);
  });
  const edges = subs.map((s, i) =>
    (s.dependsOn ?? []).map((d) =>
      (d.refs ?? []).map((r) => {
        const j = byRef.get(r);
        if (j === undefined)
          throw new ManagerError(
            'INVALID_INPUT',
            `${where(i, subs.length)}: depends on ref "${r}", which no task of this batch has (give that task "ref": "${r}")`,
            i,
          );
        if (j === i) throw new ManagerError('INVALID_INPUT', `${where(i, subs.length)} depends on itself (ref "${r}")`, i);
        return j;
      }),
    ),
  );
  findCycle(edges, subs);
  return edges;
}

/** Depth-first, iteratively (a long chain must not overflow the stack); throws on the first cycle. */
function findCycle(edges: readonly number[][][], subs: readonly TaskSubmission[]): void {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const colour = new Uint8Array(edges.length);
  const next = edges.map((e) => e.flat());
  for (let root = 0; root < edges.length; root++) {
    if (colour[root] !== WHITE) continue;
    const stack: { node: number; at: number }[] = [{ node: root, at: 0 }];
    colour[root] = GREY;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const to = next[top.node]![top.at++];
      if (to === undefined) {
        colour[top.node] = BLACK;
        stack.pop();
        continue;
      }
      if (colour[to] === GREY) {
        const path = stack.slice(stack.findIndex((f) => f.node === to)).map((f) => subs[f.node]!.ref ?? `task ${f.node + 1}`);
        throw new ManagerError(
          'INVALID_INPUT',
          `${where(top.node, subs.length)}: its dependencies make a cycle (${[...path, path[0]].join(' → ')}); no task of it could ever start`,
          top.node,
        );
      }
      if (colour[to] === WHITE) {
        colour[to] = GREY;
        stack.push({ node: to, at: 0 });
      }
    }
  }
}
