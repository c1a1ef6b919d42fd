// Runs TypeScript agents on any Node the Manager supports (20.11+): `node --import <this> agent.ts`.
// The Manager adds the --import itself when an agent's command runs a .ts or .mts file with node,
// so a manifest says just ["node", "./agent.ts"]. Types are stripped (no type checking at run time:
// `tsc --noEmit` in the agent's folder does that), by Node's own stripper where it has one, else
// by TypeScript's transpiler from the Manager's install.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
