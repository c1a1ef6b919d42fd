/**
 * What `agentmgr agent new NAME --lang py|ts|sh` writes: a working agent on the SDK (or, for sh,
 * on the protocol itself), its manifest, a sample input that `agent check` runs it on, and a
 * README. Each one reads its input, reports progress, checkpoints on a stop and resumes from
 * there, writes an artifact and a result: the whole protocol, in a form worth editing.
 */
export type AgentLang = 'py' | 'ts' | 'sh';
export const AGENT_LANGS: readonly AgentLang[] = ['py', 'ts', 'sh'];

export interface TemplateFile {
  path: string;
  text: string;
  executable?: boolean;
}

const COMMANDS: Record<AgentLang, { command: string[]; entry: string }> = {
  py: { command: ['python3', './agent.py'], entry: 'agent.py' },
  ts: { command: ['node', './agent.ts'], entry: 'agent.ts' },
  sh: { command: ['./agent.sh'], entry: 'agent.sh' },
};

function manifest(name: string, lang: AgentLang): string {
  return (
    JSON.stringify(
      {
        name,
        title: name,
        description: 'Upper-cases a text in a few steps: a starting point. Edit agent.json and the script.',
        command: COMMANDS[lang].command,
        accepts: [],
        inputSchema: {
          type: 'object',
          properties: {
            text: { type: 'string', minLength: 1, description: 'the text to work on' },
            steps: { type: 'integer', minimum: 1, maximum: 1000, default: 4, description: 'how many steps' },
            delayMs: { type: 'integer', minimum: 0, maximum: 60000, default: 200, description: 'how long each step takes' },
          },
          required: ['text'],
          additionalProperties: false,
        },
        resources: { cpu: 0.5, memoryMB: 128 },
        timeoutSec: 600,
        retry: { maxAttempts: 2, backoffSec: 5 },
        preemptible: true,
        preemptGraceSec: 10,
      },
      null,
      2,
    ) + '\n'
  );
}

const SAMPLE = JSON.stringify({ text: 'hello from a new agent', steps: 4, delayMs: 100 }, null, 2) + '\n';

const PY = (name: string) => `#!/usr/bin/env python3
"""${name}: an agent for Agent Manager. See README.md in this folder."""
import json
import os
import time

from agentmgr.agent import agent  # the SDK: a copy lives in ./agentmgr, standard library only

task = agent()
text = task.input["text"]
steps = task.input.get("steps", 4)
delay = task.input.get("delayMs", 200) / 1000

# Resume where a stopped attempt left off (a retry, or a preemption): state_dir outlives attempts.
checkpoint = os.path.join(task.state_dir, "checkpoint.json") if task.state_dir else None
start = 0
if checkpoint and os.path.exists(checkpoint):
    with open(checkpoint, encoding="utf-8") as f:
        start = json.load(f)["step"]
    task.log(f"resuming at step {start}")
step = start


def save():
    """Called on SIGTERM (cancel, timeout, preemption), before the agent exits."""
    if checkpoint:
        with open(checkpoint, "w", encoding="utf-8") as f:
            json.dump({"step": step}, f)
        task.log(f"checkpointed at step {step}")


task.on_stop(save)

while step < steps:
    time.sleep(delay)
    step += 1
    task.progress(step / steps, f"step {step} of {steps}")

with open(task.artifact_path("out.txt"), "w", encoding="utf-8") as f:
    f.write(text.upper() + "\\n")
task.artifact("out.txt", "Upper-cased text")
task.result({"words": len(text.split()), "chars": len(text), "resumedFrom": start})
`;

const TS = (name: string) => `// ${name}: an agent for Agent Manager. See README.md in this folder.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent } from './agentmgr/agent.mjs'; // the SDK: a copy lives in ./agentmgr, no dependencies

interface Input {
  text: string;
  steps?: number;
  delayMs?: number;
}

const task = agent<Input>();
const { text, steps = 4, delayMs = 200 } = task.input;

// Resume where a stopped attempt left off (a retry, or a preemption): stateDir outlives attempts.
const checkpoint = task.stateDir ? join(task.stateDir, 'checkpoint.json') : null;
const start: number = checkpoint && existsSync(checkpoint) ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { step: number }).step : 0;
if (start > 0) task.log(\`resuming at step \${start}\`);
let step = start;

// Called on SIGTERM (cancel, timeout, preemption), before the agent exits.
task.onStop(() => {
  if (!checkpoint) return;
  writeFileSync(checkpoint, JSON.stringify({ step }));
  task.log(\`checkpointed at step \${step}\`);
});

while (step < steps) {
  await new Promise((r) => setTimeout(r, delayMs));
  step += 1;
  task.progress(step / steps, \`step \${step} of \${steps}\`);
}

writeFileSync(task.artifactPath('out.txt'), text.toUpperCase() + '\\n');
task.artifact('out.txt', 'Upper-cased text');
task.result({ words: text.split(/\\s+/).filter(Boolean).length, chars: text.length, resumedFrom: start });
`;

const SH = (name: string) => `#!/bin/sh
# ${name}: an agent for Agent Manager. See README.md in this folder.
# The protocol by hand: one JSON object per line on stdout is an event; the last stderr line of
# a failed attempt is its reason.
set -eu

# SIGTERM (cancel, timeout, preemption): save the step, then exit. Set first, so no stop is missed.
checkpoint="$AGENT_STATE_DIR/checkpoint"
step=0
trap 'echo "$step" > "$checkpoint"; echo "{\\"type\\":\\"log\\",\\"message\\":\\"checkpointed at step $step\\"}"; exit 143' TERM

# The input is a JSON file; node (which the Manager runs on) reads one field of it.
field() { node -p 'const v = JSON.parse(require("fs").readFileSync(process.env.AGENT_INPUT_PATH, "utf8"))[process.argv[1]]; v === undefined ? "" : v' "$1"; }
text=$(field text)
steps=$(field steps); steps=\${steps:-4}
delay=$(field delayMs); delay=\${delay:-200}

# Resume where a stopped attempt left off: AGENT_STATE_DIR outlives attempts.
start=0
if [ -f "$checkpoint" ]; then start=$(cat "$checkpoint"); echo "{\\"type\\":\\"log\\",\\"message\\":\\"resuming at step $start\\"}"; fi
step=$start

# n / d with three decimals, by shell arithmetic alone: a stop's SIGTERM reaches every process of
# the group, and a helper (awk) killed in the middle of a line would leave half an event.
frac() { i=$(($1 * 1000 / $2)); f=$((i % 1000)); if [ "$f" -lt 10 ]; then f="00$f"; elif [ "$f" -lt 100 ]; then f="0$f"; fi; r="$((i / 1000)).$f"; }

while [ "$step" -lt "$steps" ]; do
  frac "$delay" 1000; sleep "$r"
  step=$((step + 1))
  frac "$step" "$steps"
  echo "{\\"type\\":\\"progress\\",\\"progress\\":$r,\\"message\\":\\"step $step of $steps\\"}"
done

printf '%s\\n' "$text" | tr '[:lower:]' '[:upper:]' > "$AGENT_ARTIFACTS_DIR/out.txt"
echo '{"type":"artifact","path":"out.txt","name":"Upper-cased text"}'
echo "{\\"type\\":\\"result\\",\\"data\\":{\\"words\\":$(printf '%s' "$text" | wc -w),\\"chars\\":$(printf '%s' "$text" | wc -m),\\"resumedFrom\\":$start}}"
`;

const README = (name: string, lang: AgentLang) => `# ${name}

An agent for Agent Manager, made by \`agentmgr agent new ${name} --lang ${lang}\`.

- \`agent.json\`: its manifest: the command, the input it takes (\`inputSchema\`), what one task
  needs (\`resources\`), its time limit, retries and whether it may be preempted. The fields are in
  the Agent Manager README, "Manifest reference".
- \`${COMMANDS[lang].entry}\`: the agent.${lang === 'sh' ? '' : " It is written on the SDK (a copy in `agentmgr/`): `progress`, `log`, `artifact`, `result`, and a stop handler that checkpoints into the task's state folder, so a preempted or retried task resumes where it was."}
- \`sample-input.json\`: an input to try it on.

Try it, without a Manager running:

    agentmgr agent check .                  # checks agent.json, runs it once on sample-input.json
    agentmgr agent check . --stop-after 0.3  # also stops it, to see the checkpoint and the exit

In the Manager's agents folder (\`<data dir>/agents\`, or one given with \`--agents-dir\`) it is
picked up as it is saved; then:

    agentmgr submit ${name} --input '{"text": "hello"}' --wait
${
  lang === 'ts'
    ? `
The Manager runs \`agent.ts\` with node directly: types are stripped, not checked. To check them,
\`npm i -D typescript @types/node\`, then \`npx tsc\` (tsconfig.json is here).
`
    : ''
}`;

const TSCONFIG =
  JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['*.ts', 'agentmgr/*.d.mts'],
    },
    null,
    2,
  ) + '\n';

const PY_INIT = `"""A copy of Agent Manager's agent SDK (agentmgr.agent), made by \`agentmgr agent new\`."""\n`;

/**
 * The files of a new agent folder. `sdk` holds the SDK's own files (read from the Manager's
 * install): agent.mjs and agent.d.ts for ts, agent.py for py.
 */
export function agentTemplate(name: string, lang: AgentLang, sdk: { nodeJs: string; nodeTypes: string; python: string }): TemplateFile[] {
  const common: TemplateFile[] = [
    { path: 'agent.json', text: manifest(name, lang) },
    { path: 'sample-input.json', text: SAMPLE },
    { path: 'README.md', text: README(name, lang) },
  ];
  if (lang === 'py')
    return [
      ...common,
      { path: 'agent.py', text: PY(name), executable: true },
      { path: 'agentmgr/__init__.py', text: PY_INIT },
      { path: 'agentmgr/agent.py', text: sdk.python },
    ];
  if (lang === 'ts')
    return [
      ...common,
      { path: 'agent.ts', text: TS(name) },
      { path: 'package.json', text: JSON.stringify({ name, private: true, type: 'module' }, null, 2) + '\n' },
      { path: 'tsconfig.json', text: TSCONFIG },
      { path: 'agentmgr/agent.mjs', text: sdk.nodeJs },
      { path: 'agentmgr/agent.d.mts', text: sdk.nodeTypes },
    ];
  return [...common, { path: 'agent.sh', text: SH(name), executable: true }];
}
