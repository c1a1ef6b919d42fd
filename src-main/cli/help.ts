import { SETTINGS_INFO } from '../../contracts/settings.js';

/** The settings and what each is: the same words as the Settings view and `agentmgr settings`. */
const SETTING_LINES = Object.entries(SETTINGS_INFO)
  .map(([key, info]) => `  ${key.padEnd(22)} ${info.help}`)
  .join('\n');

export const HELP: Record<string, string> = {
  main: `agentmgr — runs AI-agent tasks on this machine without running the GPU out of memory

Usage: agentmgr <command> [options]

Commands:
  serve                  run the Manager and its API/UI on 127.0.0.1
  submit <agent> ...     submit a task (one per --file), or --batch FILE
  run -- CMD ARGS...     run a command line as a task, here, with your PATH (--cwd, --env)
  list                   list tasks (--state, --agent, --name, --format id,name,duration)
  show <id>              one task in detail
  logs <id> [--follow]   a task's log (logs --follow: the newest running task)
  cancel <id>...         cancel tasks (--array ID: a whole array; --state/--agent/--name/--all)
  remove <id>...         remove ended tasks for good, with their files
  clean                  remove ended tasks (--state S, --older-than 7d)
  hold <id>...           keep queued tasks from starting; release <id>... lets them go
  retry <id>...          run ended tasks again (--with-dependents; --array ID [--failed])
  priority <id> <n>      change a queued task's priority
  top | bottom <id>...   move queued tasks to the front or back of their priority
  wait <id>...           wait for tasks to end (exit 0 only if all succeeded; --array ID)
  agents [NAME]          the agents there are, or one with its inputs (--reload)
  agent new NAME         write a working agent folder (--lang py|ts|sh); agent check DIR tries one
  status                 queue and machine at a glance
  pause | resume         stop or restart starting new tasks (pause --free-vram: free the GPU too)
  focus on|off|for 1h    leave the GPU to you: GPU tasks below the game-mode priority wait
  idle <seconds>         tell a headless Manager how long you have been away (idle-only work)
  settings [KEY=VALUE]   show or change the live settings
  project set|list       projects: weight (fair share) and quotas
  token create|list|revoke  tokens for scripts, each bound to one project
  ui                     open the UI in a browser (prints its URL with the token)
  completion bash|zsh    a shell completion script

Every command takes --json (machine-readable output) and --data-dir DIR, before or after it.
Run \`agentmgr help <command>\` for a command's options.`,
  serve: `agentmgr serve [--port N] [--data-dir DIR] [--agents-dir DIR]... [--max-concurrency N]

  --port N             port on 127.0.0.1 (AGENTMGR_PORT, default 7420; 0 picks a free one)
  --data-dir DIR       tasks, logs, agents and the API token (AGENTMGR_DATA_DIR)
  --agents-dir DIR     another folder of agents; repeatable (AGENTMGR_AGENTS_DIR, ':'-separated)
  --max-concurrency N  most tasks at once (AGENTMGR_MAX_CONCURRENCY, default: CPU cores)`,
  submit: `agentmgr submit <agent> [--input JSON] [--file PATH]... [--priority N] [--cpu N] [--memory MB]
                 [--vram MB] [--gpus N] [--retries N] [--timeout S] [--begin T] [--hold] [--name NAME]
                 [--dependency SPEC] [--array SPEC] [--throttle N] [--project NAME]
                 [--preemptible true|false] [--when-idle true|false] [--backend local|slurm|auto] [--force] [--wait-for-gpu] [--wait] [--json]
agentmgr submit --batch FILE|- [--wait] [--json]

  --input JSON   the task's input, a JSON object (checked against the agent's inputSchema)
  --file PATH    a task for the file (input.file); several make an array, one task per file
  --dependency SPEC  start only after other tasks (Slurm's spelling): afterok:12 (12 succeeded),
                 afternotok:12 (it did not), afterany:12 (it ended), after:12 (it started);
                 afterok:12:13,afterany:14 means all of them; afterok:12?afterok:13 any one.
                 An array's id means all of its tasks. One that can never be met ends cancelled
                 (retry the failed one with --with-dependents to run them again)
  --array SPEC   an array of tasks: 0-99, 1,3,5-7 or 0-20:5; %4 runs at most 4 at once
                 (each gets AGENT_ARRAY_INDEX and input.arrayIndex)
  --throttle N   at most N of the array's tasks at once
  --priority N   -1000..1000, higher runs first (default 0)
  --cpu N        CPU cores (may be fractional); --memory MB RAM; --vram MB VRAM per GPU
  --gpus N       number of GPUs (0: none); --vram 0 alone also means no GPU
  --retries N    retries after a failure (default: the agent's retry policy)
  --timeout S    stop the task after S seconds
  --hold         submit held: it starts once released (agentmgr release)
  --project NAME its project (default "default"): fair share and quotas are per project
  --force        submit a file the agent's accepts does not list
  --wait-for-gpu accept a GPU request where no GPU can be seen (it waits until one can)
  --backend local|slurm|auto  where it runs: this machine, the Slurm cluster (settings
                 slurmEnabled, slurmSharedDir), or auto: the cluster when it can never fit
                 here (default: the agent's backend, else local)
  --when-idle true|false  idle-only work: it starts once you have been away idleAfterMin
                 minutes (default: the agent's whenIdle)
  --preemptible true|false  whether it may be stopped (SIGTERM, then SIGKILL after the agent's
                 preemptGraceSec) and queued again for a higher-priority task (default: the agent's)
  --begin T      not before T: 2026-12-24T02:00 (local time), an ISO time with an offset, +30m, +2h, +1d
  --batch FILE   JSON lines, each like {"agent": "demo", "input": {...}, "priority": 1}; - reads stdin.
                 A line may carry "ref": "ocr" and a later one "dependsOn": [{"type": "afterok",
                 "refs": ["ocr"]}], "dependsMode": "any", "array": "0-9%2" or "each": [{...}, ...]
  --wait         then wait for the tasks, with progress`,
  list: `agentmgr list [--state S] [--agent A] [--name TEXT] [--project P] [--array ID] [--limit N] [--format COLS] [--json]

  --state S   queued, starting, running, succeeded, failed, cancelled, timed_out, interrupted
              (comma-separated for several)
  --agent A   only this agent's tasks
  --project P only this project's tasks
  --array ID  only the tasks of this array (its id is its first task's)
  --limit N   at most N tasks, newest first (default: all)
  --name TEXT only tasks whose name contains TEXT
  --format C  the columns, comma-separated: id state agent name project array pri progress
              attempts age created started starts duration ended note`,
  show: 'agentmgr show <id> [--json]',
  logs: 'agentmgr logs <id> [--attempt N] [--follow]\nagentmgr logs --follow   (the newest running task)\n\n  --follow   keep printing new output until the task ends',
  cancel: `agentmgr cancel <id>... [--json]
agentmgr cancel --array ID   (every task of the array that has not ended)
agentmgr cancel [--state S] [--agent A] [--name TEXT] [--all]   (every task the filter picks)

Every id is handled; each one that could not be is named, and the exit status is then 1.
hold, release, retry and priority take the same filters.`,
  run: `agentmgr run [--cwd DIR] [--env NAME[=VALUE]]... [--priority N] [--cpu N] [--memory MB] [--vram MB] [--gpus N] [--name S] [--wait] -- CMD ARGS...

Runs a command line as a task, in this folder (or --cwd), with PATH, HOME, LANG, LC_*, TZ,
TMPDIR, VIRTUAL_ENV, CONDA_PREFIX, PYTHONPATH and a few more from your environment. Anything else
goes only when named: --env NAME (its value here) or --env NAME=VALUE. One word is a shell line
as written ('ls | wc -l'); several are a command and its arguments.`,
  remove: 'agentmgr remove <id>... [--json]\n\nRemoves ended tasks for good, with their logs and artifacts.',
  clean: `agentmgr clean [--state S[,S]] [--agent A] [--older-than DURATION] [--json]

Removes every ended task (succeeded, failed, cancelled, timed_out, interrupted), or those in the
states given, or those that ended longer ago than --older-than (90m, 12h, 7d, 2w), with their
logs and artifacts. A task that a waiting task depends on is kept.`,
  agents:
    'agentmgr agents [NAME] [--reload] [--json]\n\nWith NAME: its inputs (type, limits, default) and a submit line to copy.\n--reload: read the agents folders again now (they are also watched).',
  agent: `agentmgr agent new NAME [--lang py|ts|sh] [--dir PARENT] [--json]
agentmgr agent check DIR [--input FILE|JSON] [--stop-after SEC] [--timeout SEC] [--keep] [--json]

new     writes a working agent folder: agent.json, the script (on the SDK, a copy of which it
        carries: py and ts), sample-input.json and a README. Into <data dir>/agents by default,
        where a running Manager picks it up as it is written; --dir PARENT puts it elsewhere.
        It never overwrites: an existing folder is refused.
check   checks agent.json (every problem at once), then runs the agent once on its sample input
        (or --input) under the real runner, no Manager needed, and prints the events it saw and
        what is wrong ("printed a progress of 1.7: progress is from 0 to 1"). --stop-after SEC
        sends SIGTERM as a cancel or preemption would, to try its stop handler; --keep keeps the
        attempt's folder (log, artifacts). Exit 0 when nothing is wrong, 1 otherwise.`,
  completion: 'agentmgr completion bash|zsh\n\nPrints a completion script: add `source <(agentmgr completion bash)` to ~/.bashrc (zsh: ~/.zshrc).',
  project: `agentmgr project set NAME [weight=N] [maxRunning=N] [maxVramMB=MB] [maxQueued=N] [--json]
agentmgr project list [--json]

  weight=N       its share against the other projects' weights (default 1; more than 0)
  maxRunning=N   at most N of its tasks running at once (none: no quota)
  maxVramMB=MB   at most MB of VRAM reserved by its running tasks at once
  maxQueued=N    at most N of its tasks queued at once; more are refused at submit
A quota lowered below what runs now stops nothing: it only holds new starts.`,
  token: `agentmgr token create --project NAME [--label TEXT] [--json]
agentmgr token list [--json]
agentmgr token revoke ID...

A token for a script: with it (AGENTMGR_TOKEN, or "Authorization: Bearer"), the script submits to,
sees and changes that project's tasks only, and cannot change settings, pause the queue, or make
tokens. The token is shown once, at creation; only a hash of it is kept.`,
  hold: 'agentmgr hold <id>... [--json]   (queued tasks: they do not start until released)',
  release: 'agentmgr release <id>... [--json]',
  retry: `agentmgr retry <id>... [--with-dependents] [--json]
agentmgr retry --array ID [--failed]

  --with-dependents  also the tasks cancelled because this one did not meet their dependency
  --array ID         the ended tasks of an array (--failed: only those that failed, timed out
                     or were interrupted)`,
  top: 'agentmgr top <id>...   (a queued task goes first among tasks of its priority)',
  bottom: 'agentmgr bottom <id>...   (a queued task goes last among tasks of its priority)',
  priority: 'agentmgr priority <id> <n> [--json]   (only while the task is queued)',
  wait: 'agentmgr wait <id>... [--array ID] [--timeout S] [--json]\n\nExit status: 0 if all succeeded, 1 if any did not, 124 on timeout.',
  status: 'agentmgr status [--json]',
  pause: `agentmgr pause [--free-vram] [--json]

Holds the queue: running tasks go on, no new ones start, nothing queued is lost.
--free-vram also frees the GPU for you (a game, work of your own): preemptible GPU tasks are
stopped and queued again (they get their grace to checkpoint), and Ollama, ComfyUI and
llama-server are asked to unload their models, except a resident whose policy is never.
Tasks that are not preemptible run to their end. \`agentmgr resume\` starts the queue again.`,
  resume: 'agentmgr resume',
  idle: `agentmgr idle <seconds> [--json]

Idle-only work (submit --when-idle true, or an agent with whenIdle) starts once you have been away
idleAfterMin minutes (default 10). The desktop app reads your idle time itself; a headless Manager
is told it: \`agentmgr idle 0\` when you are back, \`agentmgr idle 900\` after 15 minutes away
(it counts on from there). Never told, you count as away: a server has no one at it.`,
  focus: `agentmgr focus [on | off | for DURATION] [--json]

Focus mode leaves the GPU to you: while it is on, GPU tasks below the priority in
gameModeBelowPriority (default 10) wait; CPU tasks and more urgent ones go on, and what runs
is left to finish (\`agentmgr pause --free-vram\` frees the GPU now). \`focus for 1h\` (also 30m,
90s, 1h30m, 2d) ends by itself; \`focus\` alone says what holds GPU work now. Game mode holds the
same way by itself while one of gameModePrograms runs (see \`agentmgr settings\`).`,
  settings: `agentmgr settings [KEY=VALUE]... [--json]

Without arguments, shows the live settings. With KEY=VALUE, changes them at once (kept across
restarts), e.g. \`agentmgr settings maxConcurrency=4 reserveAfterSec=120\`.

${SETTING_LINES}`,
  ui: "agentmgr ui [--no-open] [--json]\n\nPrints the UI's URL, with the API token in it, and opens it in the default browser.",
};

/** Prints the help for `cmd` (the command list when none is given, or none by that name). */
export function help(cmd?: string): number {
  const text = HELP[cmd ?? 'main'] ?? HELP.main!;
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  return 0;
}
