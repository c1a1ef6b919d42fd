// Reads the shell agent's input and prints the shell lines that prepare its run: the folder,
// the added variables (never the Manager's own), and the command, each quoted for /bin/sh.
const input = JSON.parse(require('fs').readFileSync(process.env.AGENT_INPUT_PATH, 'utf8'));
const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const lines = [];
if (input.cwd) lines.push(`cd -- ${quote(input.cwd)} || exit 2`);
for (const [name, value] of Object.entries(input.env ?? {}))
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !/^(AGENT_|AGENTMGR_|CUDA_VISIBLE_DEVICES$|NVIDIA_VISIBLE_DEVICES$)/.test(name))
    lines.push(`export ${name}=${quote(value)}`);
lines.push(`AGENT_SHELL_COMMAND=${quote(input.command)}`);
process.stdout.write(lines.join('\n') + '\n');
