import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
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

  constructor(private readonly sources: readonly AgentSource[]) {
    this.reload();
  }

  reload(): void {
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

  validateInput(agent: AgentSpec, input: Record<string, unknown>): string | null {
    const v = this.validators.get(agent.name);
    if (!v || v(input)) return null;
    return (v.errors ?? [])
      .slice(0, 5)
      .map(
        (e) =>
          `${e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'input'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`,
      )
      .join('; ');
  }
}
