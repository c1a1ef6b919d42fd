import { COMMON } from './args.js';
import { CliError } from './client.js';
import { GROUPS } from './main.js';
import { TASK_STATES } from '../../contracts/values.js';

/** Every command with its long flags, for the completion scripts. */
async function commandFlags(): Promise<Record<string, string[]>> {
  const table: Record<string, string[]> = {};
  const flags = (o: object): string[] => Object.keys({ ...COMMON, ...o }).map((k) => `--${k}`);
  for (const [name, group] of Object.entries(GROUPS)) table[name] = flags((await group()).COMMANDS[name]!.options);
  table.serve = flags({ port: 0, 'agents-dir': 0, 'max-concurrency': 0, quiet: 0 });
  table.ui = flags({ 'no-open': 0 });
  table.agent = ['new', 'check', ...flags({ lang: 0, dir: 0, input: 0, 'stop-after': 0, timeout: 0, keep: 0 })];
  table.help = [];
  table.completion = [];
  return table;
}

/**
 * `agentmgr completion bash|zsh`: a script that completes commands, each command's flags, states
 * after --state, agent names after `submit`, `agents` and --agent (asked of the running Manager),
 * and files after --file and --batch.
 */
export async function completion(argv: string[]): Promise<number> {
  const shell = argv[0];
  if (shell !== 'bash' && shell !== 'zsh')
    throw new CliError('completion takes bash or zsh: `source <(agentmgr completion bash)`, or add that line to ~/.bashrc (zsh: ~/.zshrc)', 2);
  const table = await commandFlags();
  const cases = Object.entries(table)
    .map(([c, f]) => `    ${c}) flags="${f.join(' ')}" ;;`)
    .join('\n');
  const bash = `# agentmgr completion for bash: source <(agentmgr completion bash)
_agentmgr() {
  local cur prev cmd flags i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --data-dir) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${Object.keys(table).join(' ')} --json --data-dir" -- "$cur"))
    return
  fi
  case "$prev" in
    --state) COMPREPLY=($(compgen -W "${TASK_STATES.join(' ')}" -- "$cur")); return ;;
    --file|--batch|--data-dir|--cwd|--agents-dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --agent) COMPREPLY=($(compgen -W "$(agentmgr agents --json 2>/dev/null | sed -n 's/^      "name": "\\(.*\\)",$/\\1/p')" -- "$cur")); return ;;
  esac
  case "$cmd" in
${cases}
    *) flags="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ "$cmd" == "submit" || "$cmd" == "agents" ]] && [[ "$prev" == "$cmd" ]]; then
    COMPREPLY=($(compgen -W "$(agentmgr agents --json 2>/dev/null | sed -n 's/^      "name": "\\(.*\\)",$/\\1/p')" -- "$cur"))
  elif [[ "$cmd" == "completion" ]]; then
    COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
  elif [[ "$cmd" == "help" ]]; then
    COMPREPLY=($(compgen -W "${Object.keys(table).join(' ')}" -- "$cur"))
  fi
}
complete -o default -F _agentmgr agentmgr
`;
  // zsh runs the bash function through its bashcompinit layer: one script, the same answers.
  const zsh = `#compdef agentmgr
# agentmgr completion for zsh: source <(agentmgr completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash.split('\n').slice(1).join('\n')}`;
  process.stdout.write(shell === 'bash' ? bash : zsh);
  return 0;
}
