import { RUNNING_HORIZON_SEC } from '../../projects/projects.js';
import type { Ranker } from './types.js';

/**
 * Fair share within a priority: the project furthest below its share goes first. A project's
 * standing is its decayed usage plus what its running tasks (this cycle's placements included)
 * will use over the next RUNNING_HORIZON_SEC, per unit of weight. Usage decays while a project
 * waits, so none waits for ever; and a task held back by resources long enough still has them
 * kept for it (reservation.ts).
 */
export const fairShare: Ranker = (project, { input, pool }) => {
  const limits = input.projects?.(project);
  const rate = pool.perProject.get(project)?.rate ?? 0;
  return ((limits?.usage ?? 0) + rate * RUNNING_HORIZON_SEC) / (limits?.weight ?? 1);
};
