import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AgentManifestSchema, type AgentProblem } from '../../../contracts/agent-manifest.js';
import { describeIssues } from '../../../contracts/errors.js';
import type { AgentCatalog, AgentSpec } from '../../core/ports.js';

export interface AgentSource {
  dir: string;
  source: AgentSpec['source'];
}

/**
 * Agents found on disk: each subfolder with an agent.json in each source folder. Later sources
 * override earlier ones by name (a user's agent replaces a bundled one of the same name). A bad
 * manifest is reported with its path and what is wrong; the others still load.
 */
export class FileAgentCatalog implements AgentCatalog {
  private agents = new Map<string, AgentSpec>();
  private validators = new Map<string, ValidateFunction>();
  private issues: AgentProblem[] = [];
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  // A property's "default" in the input schema is filled in (on a copy) before the input is stored.
  private readonly filler = new Ajv({ allErrors: true, strict: false, useDefaults: true });
  private readonly fillers = new Map<string, ValidateFunction>();

  constructor(private readonly sources: readonly AgentSource[]) {
    this.reload();
  }

  reload(): void {
    this.fillers.clear();
    const agents = new Map<string, AgentSpec>();
    const validators = new Map<string, ValidateFunction>();
    const problems: AgentProblem[] = [];
    for (const src of this.sources) {
      if (!existsSync(src.dir)) continue;
      let entries: string[];
      try {
        entries = readdirSync(src.dir).sort();
      } catch (e) {
        problems.push({ path: src.dir, message: `cannot read the folder: ${(e as Error).message}` });
        continue;
      }
      for (const entry of entries) {
        // Hidden folders are not agents: `agent new` writes into one, then renames it.
        if (entry.startsWith('.')) continue;
        const dir = join(src.dir, entry);
        const file = join(dir, 'agent.json');
        try {
          if (!statSync(dir).isDirectory() || !existsSync(file)) continue;
        } catch {
          continue;
        }
        const loaded = this.load(file, dir, src.source);
        if ('problem' in loaded) {
          problems.push({ path: file, message: loaded.problem });
          continue;
        }
        agents.set(loaded.spec.name, loaded.spec);
        validators.set(loaded.spec.name, loaded.validate);
      }
    }
    this.agents = agents;
    this.validators = validators;
    this.issues = problems;
  }

  private load(file: string, dir: string, source: AgentSpec['source']): { spec: AgentSpec; validate: ValidateFunction } | { problem: string } {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      return { problem: `not valid JSON: ${(e as Error).message}` };
    }
    const parsed = AgentManifestSchema.safeParse(raw);
    if (!parsed.success) return { problem: describeIssues(parsed.error.issues) };
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(parsed.data.inputSchema);
    } catch (e) {
      return { problem: `inputSchema is not a valid JSON Schema: ${(e as Error).message}` };
    }
    const m = parsed.data;
    return { spec: { ...m, title: m.title ?? m.name, dir, source }, validate };
  }

  get(name: string): AgentSpec | undefined {
    return this.agents.get(name);
  }

  list(): AgentSpec[] {
    return [...this.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  problems(): AgentProblem[] {
    return [...this.issues];
  }

  /** A copy of a valid input with its schema's defaults filled in, as it is stored and given to the agent. */
  withDefaults(agent: AgentSpec, input: Record<string, unknown>): Record<string, unknown> {
    let fill = this.fillers.get(agent.name);
    if (!fill) {
      try {
        fill = this.filler.compile(agent.inputSchema);
      } catch {
        return input;
      }
      this.fillers.set(agent.name, fill);
    }
    const copy = structuredClone(input);
    fill(copy);
    return copy;
  }

  validateInput(agent: AgentSpec, input: Record<string, unknown>): string | null {
    const v = this.validators.get(agent.name);
    if (!v || v(input)) return null;
    const props = Object.keys(((agent.inputSchema as { properties?: object }).properties ?? {}) as object);
    return [...new Set((v.errors ?? []).slice(0, 5).map((e) => inputProblem(e, props)))].join('; ');
  }
}

/**
 * One schema error in words that name the property and what it takes: "unknown input property
 * `secs`; this agent takes: seconds, steps", "`file` is needed", "`seconds` must be at least 0".
 */
export function inputProblem(e: ErrorObject, props: readonly string[]): string {
  const at = e.instancePath ? `\`${e.instancePath.slice(1).replace(/\//g, '.')}\`` : 'the input';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown input property \`${String(p.additionalProperty)}\`${e.instancePath ? ` in ${at}` : ''}; this agent takes: ${props.join(', ') || 'no properties'}`;
    case 'required':
      return `\`${e.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')}.` : ''}${String(p.missingProperty)}\` is needed`;
    case 'type':
      return `${at} must be ${article(String(p.type))}`;
    case 'minimum':
    case 'exclusiveMinimum':
      return `${at} must be ${e.keyword === 'minimum' ? 'at least' : 'more than'} ${String(p.limit)}`;
    case 'maximum':
    case 'exclusiveMaximum':
      return `${at} must be ${e.keyword === 'maximum' ? 'at most' : 'less than'} ${String(p.limit)}`;
    case 'minLength':
      return Number(p.limit) === 1 ? `${at} must not be empty` : `${at} must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `${at} must be at most ${String(p.limit)} characters`;
    case 'enum':
      return `${at} must be one of: ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'minItems':
      return `${at} needs at least ${String(p.limit)} item${Number(p.limit) === 1 ? '' : 's'}`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

const article = (type: string): string =>
  type
    .split(',')
    .map(
      (t) =>
        ({ integer: 'a whole number', number: 'a number', string: 'text', boolean: 'true or false', object: 'an object', array: 'a list', null: 'null' })[t] ??
        t,
    )
    .join(' or ');
