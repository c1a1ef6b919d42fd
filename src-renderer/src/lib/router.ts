import { useEffect, useState } from 'react';

/** Views are addressed by the hash: #/queue, #/queue/array/12, #/task/12, #/resources, #/agents, #/settings. */
export type Route =
  | { view: 'queue'; array?: number }
  | { view: 'gallery' }
  | { view: 'task'; id: number }
  | { view: 'resources' }
  | { view: 'agents'; agent?: string }
  | { view: 'settings' }
  | { view: 'quick' };

export function parseRoute(hash: string): Route {
  // "&token=…" and other parameters after the route are not part of it.
  const parts = hash.replace(/^#\/?/, '').replace(/&.*$/, '').split('/');
  switch (parts[0]) {
    case 'task': {
      const id = Number(parts[1]);
      return Number.isInteger(id) && id > 0 ? { view: 'task', id } : { view: 'queue' };
    }
    case 'resources':
      return { view: 'resources' };
    case 'gallery':
      return { view: 'gallery' };
    case 'agents':
      return parts[1] ? { view: 'agents', agent: decodeURIComponent(parts[1]) } : { view: 'agents' };
    case 'settings':
      return { view: 'settings' };
    case 'quick':
      return { view: 'quick' };
    case 'queue': {
      const array = parts[1] === 'array' ? Number(parts[2]) : NaN;
      return Number.isInteger(array) && array > 0 ? { view: 'queue', array } : { view: 'queue' };
    }
    default:
      return { view: 'queue' };
  }
}

export function href(r: Route): string {
  if (r.view === 'task') return `#/task/${r.id}`;
  if (r.view === 'agents' && r.agent) return `#/agents/${encodeURIComponent(r.agent)}`;
  if (r.view === 'queue' && r.array !== undefined) return `#/queue/array/${r.array}`;
  return `#/${r.view}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
