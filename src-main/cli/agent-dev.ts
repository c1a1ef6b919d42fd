import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { AGENT_NAME_PATTERN, AgentManifestSchema } from '../../contracts/agent-manifest.js';
import { AGENT_EVENT_TYPES, AgentEventSchema } from '../../contracts/agent-output.js';
import { resolveCommand } from '../adapters/process/command.js';
import { ProcessAgentRunner } from '../adapters/process/runner.js';
import { describeEnd } from '../adapters/process/result.js';
import type { RunOutcome } from '../core/lifecycle/attempt-end.js';
import type { AgentSpec, RunnerEvent } from '../core/ports.js';
import { defaultDataDir } from '../config.js';
import { layout } from '../data-layout.js';
import { nodeSdkDir, pythonSdkDir } from '../paths.js';
import { AGENT_LANGS, agentTemplate, type AgentLang } from './agent-templates.js';
import { parse } from './args.js';
import { CliError } from './client.js';
import { print, printJson } from './command.js';

/** `agentmgr agent new|check`: writing an agent, and trying one, with no Manager running. */
export async function agent(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'new') return agentNew(rest);
  if (sub === 'check') return agentCheck(rest);
  if (sub === undefined || sub === '--help' || sub === '-h') return (await import('./help.js')).help('agent');
  throw new CliError(`unknown \`agent\` command "${sub}": use \`agent new NAME --lang py|ts|sh\` or \`agent check DIR\``, 2);
}

function agentNew(argv: string[]): number {
  const { values, positionals } = parse('agent', argv, { lang: { type: 'string', short: 'l' }, dir: { type: 'string' } });
  const [name, ...extra] = positionals;
  if (!name || extra.length) throw new CliError('agent new takes one name: `agentmgr agent new NAME --lang py|ts|sh`', 2);
  if (!AGENT_NAME_PATTERN.test(name))
    throw new CliError(`"${name}" is not an agent name: use lower-case letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit`, 2);
  const lang = (values.lang ?? 'py') as string;
  if (!(AGENT_LANGS as readonly string[]).includes(lang)) throw new CliError(`--lang is one of ${AGENT_LANGS.join(', ')} (not "${lang}")`, 2);
  const parent = values.dir
    ? resolve(values.dir as string)
    : layout((values['data-dir'] as string | undefined) ?? process.env.AGENTMGR_DATA_DIR ?? defaultDataDir()).agents;
  const dir = join(parent, name);
  if (existsSync(dir)) throw new CliError(`${dir} already exists: nothing was written (choose another name, or --dir elsewhere)`, 1, 'EXISTS');
  const sdk = {
    nodeJs: readFileSync(join(nodeSdkDir(), 'agent.mjs'), 'utf8'),
    nodeTypes: readFileSync(join(nodeSdkDir(), 'agent.d.ts'), 'utf8'),
    python: readFileSync(join(pythonSdkDir(), 'agent.py'), 'utf8'),
  };
  const files = agentTemplate(name, lang as AgentLang, sdk);
  // Written under a temporary name, then renamed: a watching Manager never sees half a folder.
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${name}.new-`));
  try {
    for (const f of files) {
      const path = join(staging, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.text);
      if (f.executable) chmodSync(path, 0o755);
    }
    if (existsSync(dir)) throw new CliError(`${dir} already exists: nothing was written`, 1, 'EXISTS');
    renameSync(staging, dir);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  if (values.json) printJson({ dir, lang, files: files.map((f) => f.path) });
  else {
    print(`wrote ${dir}/: ${files.map((f) => f.path).join(', ')}`);
    print(`next: agentmgr agent check ${dir.includes(' ') ? JSON.stringify(dir) : dir}`);
    if (values.dir) print('the Manager loads agents from <data dir>/agents and each --agents-dir: put it (or its folder) there to submit to it');
  }
  return 0;
}

/** A problem `agent check` found: where, and what to fix. */
interface Problem {
  where: 'manifest' | 'input' | 'run';
  message: string;
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });

/** Every problem with the folder's manifest at once, or the agent as the Manager would load it. */
export function checkManifest(dir: string): { spec: AgentSpec | null; problems: Problem[] } {
  const file = join(dir, 'agent.json');
  const problems: Problem[] = [];
  const bad = (message: string) => problems.push({ where: 'manifest', message });
  if (!existsSync(file)) return { spec: null, problems: [{ where: 'manifest', message: `${file} does not exist: an agent is a folder with an agent.json` }] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return { spec: null, problems: [{ where: 'manifest', message: `agent.json is not valid JSON: ${(e as Error).message}` }] };
  }
  const parsed = AgentManifestSchema.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) bad(i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message);
  }
  const r = raw as { inputSchema?: unknown; command?: unknown };
  if (r && typeof r.inputSchema === 'object' && r.inputSchema !== null) {
    try {
      ajv.compile(r.inputSchema as object);
    } catch (e) {
      bad(`inputSchema is not a valid JSON Schema: ${(e as Error).message}`);
    }
  }
  if (Array.isArray(r?.command) && r.command.length > 0 && r.command.every((c) => typeof c === 'string' && c)) {
    const cmd = resolveCommand(r.command as string[], dir);
    if ('error' in cmd) bad(cmd.error);
  }
  if (problems.length || !parsed.success) return { spec: null, problems };
  const m = parsed.data;
  return { spec: { ...m, title: m.title ?? m.name, dir, source: 'extra' }, problems };
}

const sdkVersion = (file: string): number | null => {
  try {
    const m = /SDK_VERSION = (\d+)/.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
};

/** Whether the SDK copy a folder carries is older than this Manager's. */
export function sdkNotes(dir: string): string[] {
  const notes: string[] = [];
  for (const [copy, ours] of [
    [join(dir, 'agentmgr', 'agent.mjs'), join(nodeSdkDir(), 'agent.mjs')],
    [join(dir, 'agentmgr', 'agent.py'), join(pythonSdkDir(), 'agent.py')],
  ] as const) {
    const theirs = sdkVersion(copy);
    const current = sdkVersion(ours);
    if (theirs !== null && current !== null && theirs < current)
      notes.push(`the SDK copy ${copy} is version ${theirs}, this Manager's is ${current}: copy ${ours} over it for what is new`);
  }
  return notes;
}

/** What is wrong with one line an agent printed that looks like an event, in words; null: nothing. */
export function explainLine(line: string): string | null {
  const t = line.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return t.includes('"type"') ? `printed a line that is almost an event but not JSON: ${t.slice(0, 120)}` : null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const e = v as Record<string, unknown>;
  if (typeof e.type !== 'string') return null;
  const types = AGENT_EVENT_TYPES as readonly string[];
  if (!types.includes(e.type)) {
    const near = types.find((k) => k.startsWith(String(e.type).toLowerCase().slice(0, 3)) || String(e.type).toLowerCase() === k);
    return near ? `printed an event of type "${e.type}", which is no event type: did you mean "${near}"? (they are ${types.join(', ')})` : null;
  }
  const parsed = AgentEventSchema.safeParse(v);
  if (parsed.success) return null;
  if (e.type === 'progress') {
    if (typeof e.progress !== 'number') return `printed a progress of ${JSON.stringify(e.progress) ?? 'nothing'}: progress is a number from 0 to 1`;
    if (e.progress < 0 || e.progress > 1) return `printed a progress of ${e.progress}: progress is from 0 to 1`;
  }
  if (e.type === 'result' && !('data' in e)) return 'printed a result without "data": {"type": "result", "data": ...}';
  if (e.type === 'artifact' && typeof e.path !== 'string') return 'printed an artifact without a "path": {"type": "artifact", "path": "out.png"}';
  const what = parsed.error.issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('; ');
  return `printed a malformed ${e.type} event (${what}): ${t.slice(0, 120)}`;
}

const pct = (p: number) => `${Math.round(p * 1000) / 10}%`;
const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`;

async function agentCheck(argv: string[]): Promise<number> {
  const { values, positionals } = parse('agent', argv, {
    input: { type: 'string', short: 'i' },
    timeout: { type: 'string' },
    'stop-after': { type: 'string' },
    keep: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new CliError('agent check takes one folder: `agentmgr agent check DIR`', 2);
  const dir = resolve(positionals[0]!);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`${dir} is not a folder: give the agent's folder (the one with agent.json)`, 2);
  const num = (flag: string, max: number): number | null => {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) return null;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new CliError(`--${flag} is a number of seconds from 0 to ${max} (not "${raw}")`, 2);
    return n;
  };
  const stopAfter = num('stop-after', 3600);
  const timeoutFlag = num('timeout', 24 * 3600);
  const json = Boolean(values.json);
  const say = (s: string) => {
    if (!json) print(s);
  };

  const { spec, problems } = checkManifest(dir);
  // The input: --input (a file or inline JSON), else the folder's sample-input.json.
  let input: Record<string, unknown> | null = null;
  const given = values.input as string | undefined;
  const inputFrom = given === undefined ? join(dir, 'sample-input.json') : given.trim().startsWith('{') ? 'the --input JSON' : resolve(given);
  try {
    const text = given !== undefined && given.trim().startsWith('{') ? given : readFileSync(inputFrom, 'utf8');
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) problems.push({ where: 'input', message: `${inputFrom}: the input is a JSON object` });
    else input = v as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    problems.push({
      where: 'input',
      message:
        err.code === 'ENOENT'
          ? `${inputFrom} does not exist: write an input to try the agent on there (or give --input)`
          : `${inputFrom}: ${err instanceof SyntaxError ? 'not valid JSON: ' : ''}${err.message}`,
    });
  }
  if (spec && input) {
    const validate = ajv.compile(spec.inputSchema);
    input = structuredClone(input);
    if (!validate(input))
      for (const e of validate.errors ?? [])
        problems.push({
          where: 'input',
          message: `${inputFrom}: ${e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') + ' ' : ''}${e.message ?? 'is invalid'}`,
        });
  }
  say(`checking ${dir}`);
  if (problems.length > 0 || !spec || !input) return report(problems, [], null, json, dir);
  say(`  manifest ok: "${spec.name}" runs ${spec.command.join(' ')}`);
  for (const note of sdkNotes(dir)) say(`  note      ${note}`);
  say(`  input from ${inputFrom}: ${JSON.stringify(input).slice(0, 200)}`);

  const runsDir = mkdtempSync(join(tmpdir(), 'agentmgr-check-'));
  const events: RunnerEvent[] = [];
  let logTail = '';
  const runner = new ProcessAgentRunner({ runsDir, graceMs: Math.max(1, spec.preemptGraceSec) * 1000 });
  const startedAt = Date.now();
  const timeoutMs = (timeoutFlag ?? spec.timeoutSec ?? 600) * 1000;
  const outcome = await new Promise<RunOutcome>((done) => {
    const handle = runner.start({ taskId: 1, attempt: 1, agent: spec, input: input!, gpus: [], timeoutMs, preemptible: spec.preemptible }, (ev) => {
      events.push(ev);
      if (ev.type === 'exit') {
        if (stop) clearTimeout(stop);
        done(ev.outcome);
        return;
      }
      if (ev.type === 'log') {
        const text = logTail + ev.text;
        const lines = text.split('\n');
        logTail = lines.pop() ?? '';
        for (const l of lines) {
          if (l.startsWith('[agentmgr] ignored a malformed')) continue;
          say(`  log       ${l}`);
          const why = explainLine(l);
          if (why) problems.push({ where: 'run', message: why });
          const art = /^\[agentmgr\] ignored artifact: (.*)$/.exec(l);
          if (art) problems.push({ where: 'run', message: `reported an artifact that was not kept: ${art[1]}` });
        }
      } else if (ev.type === 'progress') say(`  progress  ${pct(ev.progress)}${ev.message ? ` ${ev.message}` : ''}`);
      else if (ev.type === 'artifact') say(`  artifact  ${ev.name} (${ev.path}, ${ev.sizeBytes} bytes)`);
      else if (ev.type === 'result') say(`  result    ${JSON.stringify(ev.data).slice(0, 500)}`);
    });
    const stop =
      stopAfter === null
        ? null
        : setTimeout(() => {
            say(`  stopping  SIGTERM after ${stopAfter} s, as a cancel or preemption would (grace ${spec.preemptGraceSec} s)`);
            handle.cancel({ graceMs: Math.max(1, spec.preemptGraceSec) * 1000, note: `agent check: stopped after ${stopAfter} s` });
          }, stopAfter * 1000);
  });
  const took = Date.now() - startedAt;
  say(`  ended     ${describeEnd(outcome)}${outcome.lastError && !outcome.cancelled ? `: ${outcome.lastError}` : ''} after ${secs(took)}`);
  if (outcome.startError) problems.push({ where: 'run', message: `it could not start: ${outcome.startError}` });
  else if (stopAfter !== null && outcome.cancelled) {
    if (outcome.forcefullyTerminated)
      problems.push({ where: 'run', message: `it did not exit within its grace (${spec.preemptGraceSec} s, preemptGraceSec) after SIGTERM, so it was killed` });
  } else if (outcome.timedOut) problems.push({ where: 'run', message: `it ran past ${secs(timeoutMs)} (the time limit) and was stopped` });
  else if (outcome.exitCode !== 0)
    problems.push({
      where: 'run',
      message: `it failed: ${describeEnd(outcome)}${outcome.lastError ? `: ${outcome.lastError}` : ' (say why on stderr: its last line is the reason)'}`,
    });
  else if (!events.some((e) => e.type === 'result'))
    problems.push({ where: 'run', message: 'it succeeded without a result: print {"type": "result", "data": ...} (or, on the SDK, call result())' });
  const artifactsDir = join(runsDir, '1', '1', 'artifacts');
  if (values.keep) say(`  kept      ${join(runsDir, '1')} (artifacts in ${artifactsDir}, the log in ${join(runsDir, '1', '1')})`);
  else rmSync(runsDir, { recursive: true, force: true });
  return report(problems, events, { outcome, durationMs: took, kept: values.keep ? join(runsDir, '1') : null }, json, dir);
}

function report(
  problems: Problem[],
  events: RunnerEvent[],
  run: { outcome: RunOutcome; durationMs: number; kept: string | null } | null,
  json: boolean,
  dir: string,
): number {
  if (json) {
    printJson({
      dir,
      ok: problems.length === 0,
      problems,
      events: events.filter((e) => e.type !== 'spawned' && e.type !== 'exit'),
      run: run && { end: describeEnd(run.outcome), exitCode: run.outcome.exitCode, durationMs: run.durationMs, kept: run.kept },
    });
  } else if (problems.length === 0) {
    const n = (t: RunnerEvent['type']) => events.filter((e) => e.type === t).length;
    print(`ok: ${n('progress')} progress, ${n('artifact')} artifact(s), ${n('result') ? 'a result' : 'no result'}`);
  } else {
    print(`${problems.length} problem(s):`);
    for (const p of problems) print(`  - ${p.where === 'manifest' ? 'agent.json: ' : p.where === 'input' ? 'input: ' : ''}${p.message}`);
  }
  return problems.length === 0 ? 0 : 1;
}
