import { parse } from './args.js';
import { CliError, createClient, errorCode, explain, findEndpoint } from './client.js';
import type { Command } from './command.js';

/**
 * The `agentmgr` command line. Each command's module loads only when that command runs, so
 * `status` or `list` loads an HTTP client and a few formatters, not the Manager, SQLite or the
 * schemas (bench/cli-start.mjs measures it).
 */
type Group = () => Promise<{ COMMANDS: Record<string, Command> }>;
const tasks: Group = () => import('./commands/tasks.js');
const machine: Group = () => import('./commands/machine.js');
const config: Group = () => import('./commands/config.js');

export const GROUPS: Record<string, Group> = {
  submit: tasks,
  run: tasks,
  list: tasks,
  show: tasks,
  logs: tasks,
  cancel: tasks,
  hold: tasks,
  release: tasks,
  retry: tasks,
  top: tasks,
  bottom: tasks,
  priority: tasks,
  wait: tasks,
  remove: tasks,
  clean: tasks,
  agents: machine,
  status: machine,
  pause: machine,
  resume: machine,
  idle: machine,
  focus: machine,
  settings: config,
  token: config,
  project: config,
};

/** Commands that need no Manager to talk to. */
const LOCAL = ['serve', 'ui', 'agent', 'completion', 'help', 'version'];

/** Flags every command takes, which may also come before the command (`agentmgr --json list`). */
const GLOBAL_WITH_VALUE = new Set(['--data-dir']);
const GLOBAL_FLAGS = new Set(['--json']);

/** `agentmgr --data-dir D --json list -s x` → `list --data-dir D --json -s x`. */
export function hoistGlobals(argv: readonly string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (GLOBAL_FLAGS.has(a)) globals.push(a);
    else if (GLOBAL_WITH_VALUE.has(a)) {
      if (argv[i + 1] === undefined) throw new CliError(`${a} needs a value`, 2);
      globals.push(a, argv[++i]!);
    } else if ([...GLOBAL_WITH_VALUE].some((g) => a.startsWith(g + '='))) globals.push(a);
    else break;
  }
  if (globals.length === 0) return [...argv];
  const [cmd, ...rest] = argv.slice(i);
  if (cmd === undefined) return ['help'];
  return [cmd, ...globals, ...rest];
}

export async function main(argvIn: string[]): Promise<number> {
  const argv = hoistGlobals(argvIn);
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') return (await import('./help.js')).help(rest[0]);
  if (cmd === '--version' || cmd === 'version') return (process.stdout.write('agentmgr 0.1.0\n'), 0);
  if (cmd === 'serve') return (await import('./serve.js')).serve(rest);
  if (cmd === 'ui') return (await import('./serve.js')).ui(rest);
  if (cmd === 'completion') return (await import('./completion.js')).completion(rest);
  if (cmd === 'agent') return (await import('./agent-dev.js')).agent(rest);
  const group = GROUPS[cmd];
  if (!group) {
    const near = [...Object.keys(GROUPS), ...LOCAL].find((c) => c.startsWith(cmd.slice(0, 3)) && cmd.length >= 3);
    throw new CliError(`unknown command "${cmd}"${near ? ` (did you mean \`${near}\`?)` : ''}; run \`agentmgr help\` for the list`, 2);
  }
  const command = (await group()).COMMANDS[cmd]!;
  const { values, positionals } = parse(cmd, rest, command.options);
  if (values.help) return (await import('./help.js')).help(cmd);
  const ep = findEndpoint(values['data-dir'] as string | undefined);
  const { api, close } = createClient(ep);
  try {
    return await command.run(api, positionals, values);
  } catch (e) {
    throw explain(e, ep);
  } finally {
    close();
  }
}

export async function runCli(argv: string[]): Promise<void> {
  // A reader that stops early (`agentmgr list --json | head -1`) closes the pipe: that is not an error.
  const quietOnClosedPipe = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  };
  process.stdout.on('error', quietOnClosedPipe);
  process.stderr.on('error', quietOnClosedPipe);
  try {
    const code = await main(argv);
    process.exitCode = code;
  } catch (e) {
    const err = e instanceof CliError ? e : new CliError((e as Error).message ?? String(e));
    // With --json, errors are JSON too, so a script reads one shape.
    const dd = argv.indexOf('--');
    if ((dd < 0 ? argv : argv.slice(0, dd)).includes('--json'))
      process.stderr.write(JSON.stringify({ error: { code: errorCode(err), message: err.message } }) + '\n');
    else process.stderr.write(`agentmgr: ${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}
