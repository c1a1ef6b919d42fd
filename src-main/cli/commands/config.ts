import { SETTINGS_INFO, SettingsPatchSchema, TEXT_SETTINGS, type Settings, type SettingsPatch } from '../../../contracts/settings.js';
import { ProjectNameSchema } from '../../../contracts/task.js';
import { ProjectPatchSchema, type ProjectPatch, type ProjectView } from '../../../contracts/project.js';
import { taskIds } from '../args.js';
import { CliError } from '../client.js';
import { print, printJson, type Command } from '../command.js';

export const COMMANDS: Record<string, Command> = {
  settings: {
    options: {},
    async run(api, pos, v) {
      // A per-GPU limit (gpuMaxUtilPct.1=80) changes one entry of gpuLimits: the rest are kept.
      const perGpu = pos.some((w) => PER_GPU_KEY.test(w.split('=')[0] ?? '')) ? (await api.settings.get.query()).gpuLimits : {};
      const patch = settingsPatch(pos, perGpu);
      const now = Object.keys(patch).length > 0 ? await api.settings.update.mutate(patch) : await api.settings.get.query();
      if (v.json) return (printJson(now), 0);
      const width = Math.max(...Object.keys(now).map((k) => k.length));
      const shown = (value: unknown): string =>
        value === null
          ? 'none'
          : typeof value === 'object'
            ? Object.entries(value as Record<string, object>)
                .map(
                  ([gpu, l]) =>
                    `GPU ${gpu}: ${Object.entries(l)
                      .map(([k, x]) => `${k}=${x === null ? 'none' : String(x)}`)
                      .join(' ')}`,
                )
                .join('; ') || 'none'
            : value === ''
              ? 'off'
              : String(value);
      for (const [k, value] of Object.entries(now)) {
        const info = SETTINGS_INFO[k as keyof Settings];
        print(`${k.padEnd(width)}  ${shown(value).padEnd(6)}  ${info?.help ?? ''}`);
      }
      if (Object.keys(patch).length > 0) print('saved and applied');
      return 0;
    },
  },
  token: {
    options: { project: { type: 'string' }, label: { type: 'string' } },
    async run(api, pos, v) {
      const [verb, ...rest] = pos;
      if (verb === 'create') {
        if (typeof v.project !== 'string') throw new CliError('token create needs --project NAME: the project the token may submit to, see and change', 2);
        const made = await api.tokens.create.mutate({ project: v.project, ...(typeof v.label === 'string' ? { label: v.label } : {}) });
        if (v.json) return (printJson({ token: made.token, id: made.view.id, project: made.view.project }), 0);
        print(made.token);
        print(`token ${made.view.id} for project ${made.view.project}: shown only now; give it to the script as AGENTMGR_TOKEN (with AGENTMGR_URL)`);
        return 0;
      }
      if (verb === 'list') {
        const list = await api.tokens.list.query();
        if (v.json) return (printJson(list), 0);
        if (list.length === 0) print('no project tokens: make one with `agentmgr token create --project NAME`');
        for (const t of list) print(`${t.id}\t${t.project}\t${t.prefix}…\t${t.createdAt.toISOString()}${t.label ? `\t${t.label}` : ''}`);
        return 0;
      }
      if (verb === 'revoke') {
        if (rest.length === 0) throw new CliError('token revoke needs the token id (see `agentmgr token list`)', 2);
        for (const id of taskIds(rest, 'token revoke')) {
          await api.tokens.revoke.mutate({ id });
          if (!v.json) print(`token ${id} revoked: requests with it are refused from now on`);
        }
        if (v.json) printJson({ revoked: taskIds(rest, 'token revoke') });
        return 0;
      }
      throw new CliError('token takes create --project NAME, list, or revoke ID', 2);
    },
  },
  project: {
    options: {},
    async run(api, pos, v) {
      const [verb, name, ...words] = pos;
      if (verb === 'set') {
        if (!name) throw new CliError('project set needs a name: agentmgr project set NAME weight=2 maxRunning=4 maxVramMB=6000', 2);
        const named = ProjectNameSchema.safeParse(name);
        if (!named.success) throw new CliError(`project ${name}: ${named.error.issues[0]!.message}`, 2);
        const p = await api.projects.set.mutate({ name, patch: projectPatch(words) });
        if (v.json) return (printJson(p), 0);
        print(projectLine(p));
        return 0;
      }
      if (verb === 'list' || verb === undefined) {
        const list = await api.projects.list.query();
        if (v.json) return (printJson(list), 0);
        for (const p of list) print(projectLine(p));
        return 0;
      }
      throw new CliError('project takes set NAME KEY=VALUE... or list', 2);
    },
  },
};

const PROJECT_KEYS = ['weight', 'maxRunning', 'maxVramMB', 'maxQueued'] as const;

/** `weight=2 maxRunning=4`: a checked project change; `none` removes a quota. */
function projectPatch(words: string[]): ProjectPatch {
  if (words.length === 0) throw new CliError(`give what to set: ${PROJECT_KEYS.map((k) => `${k}=N`).join(' ')} (none removes a quota)`, 2);
  const raw: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const key = eq > 0 ? w.slice(0, eq) : w;
    if (!(PROJECT_KEYS as readonly string[]).includes(key)) throw new CliError(`unknown project setting "${key}"; they are: ${PROJECT_KEYS.join(', ')}`, 2);
    if (eq < 0) throw new CliError(`give the setting a value: ${key}=VALUE`, 2);
    const value = w.slice(eq + 1).trim();
    raw[key] = key !== 'weight' && NONE.has(value) ? null : typedNumber(key, value, key === 'weight' ? 'a number' : 'a whole number, or none');
  }
  const parsed = ProjectPatchSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new CliError(`${String(i.path[0])}=${String(raw[String(i.path[0])])}: ${i.message}`, 2);
  }
  return parsed.data;
}

function projectLine(p: ProjectView): string {
  const quotas = [
    p.maxRunning !== null ? `at most ${p.maxRunning} running` : null,
    p.maxVramMB !== null ? `${p.maxVramMB} MB VRAM` : null,
    p.maxQueued !== null ? `${p.maxQueued} queued` : null,
  ].filter(Boolean);
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  return `${p.name}: weight ${p.weight}${quotas.length ? ` (${quotas.join(', ')})` : ''}; ${p.running} running, ${p.queued} queued; ${pct(p.usageShare)} of recent use, share ${pct(p.targetShare)}`;
}

/** A typed number, or a message that echoes what was typed ("abc"), never "NaN". */
function typedNumber(key: string, value: string, what: string, help = ''): number | string {
  if (value === '') return value;
  const n = Number(value);
  if (Number.isNaN(n)) throw new CliError(`${key}=${value}: "${value}" is not a number; give ${what}. ${help}`.trim(), 2);
  return n;
}

const PER_GPU_KEY = /^gpuMax(UtilPct|TempC|PowerW)\.(\d+)$/;
const NULLABLE = new Set(['gpuMaxUtilPct', 'gpuMaxTempC', 'gpuMaxPowerW']);
const NONE = new Set(['none', 'off', 'null']);

/**
 * KEY=VALUE words into a checked settings change; an error names the key and what it takes.
 * `gpuMaxUtilPct.1=80` sets GPU 1's own limit within `perGpu` (the current per-GPU limits).
 */
function settingsPatch(words: string[], perGpu: Settings['gpuLimits']): SettingsPatch {
  const raw: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const key = eq > 0 ? w.slice(0, eq) : w;
    const one = PER_GPU_KEY.exec(key);
    if (!(key in SETTINGS_INFO) && !one) throw new CliError(`unknown setting "${key}"; settings are: ${Object.keys(SETTINGS_INFO).join(', ')}`, 2);
    if (eq < 0) throw new CliError(`give the setting a value: ${key}=VALUE`, 2);
    const value = w.slice(eq + 1).trim();
    const number = (v: string) => typedNumber(key, v, NULLABLE.has(key) || one ? 'a number, or none' : 'a number', SETTINGS_INFO[key as keyof Settings]?.help);
    if (one) {
      const field = `max${one[1]}` as keyof Settings['gpuLimits'][string];
      const gpus = (raw.gpuLimits ?? structuredClone(perGpu)) as Record<string, Record<string, unknown>>;
      const own = { ...gpus[one[2]!], [field]: NONE.has(value) ? null : number(value) };
      if (Object.values(own).every((x) => x === null)) delete gpus[one[2]!];
      else gpus[one[2]!] = own;
      raw.gpuLimits = gpus;
    } else if (key === 'gpuLimits') throw new CliError("set one GPU's limit as gpuMaxUtilPct.1=80 (or gpuMaxTempC.1, gpuMaxPowerW.1; none removes it)", 2);
    else if (key === 'desktopNotifications' || key === 'gameModeFreeVram' || key === 'residentRemoteAllowed' || key === 'slurmEnabled')
      raw[key] = value === 'true' ? true : value === 'false' ? false : value;
    else if (TEXT_SETTINGS.has(key as keyof Settings))
      raw[key] = (key.endsWith('Url') || key === 'gameModePrograms' || key.startsWith('slurm')) && NONE.has(value) ? '' : value;
    else raw[key] = NULLABLE.has(key) && NONE.has(value) ? null : number(value);
  }
  const parsed = SettingsPatchSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const key = String(i.path[0]);
    const shown = key === 'gpuLimits' ? `gpuLimits.${i.path.slice(1).join('.')}` : `${key}=${String(raw[key])}`;
    throw new CliError(`${shown}: ${i.message}. ${SETTINGS_INFO[key as keyof Settings]?.help ?? ''}`.trim(), 2);
  }
  return parsed.data;
}
