// The comfyui agent: submits a workflow in ComfyUI's API format (POST /prompt), follows it over
// ComfyUI's WebSocket (/ws?clientId=...) for step progress, and takes the end from its history
// (GET /history/{prompt_id}), which it also polls in case the socket is lost. Each image a node
// saved is fetched (GET /view) into the artifacts. Cancelled or preempted (SIGTERM): a prompt
// that is running is interrupted (POST /interrupt), one still waiting is taken off ComfyUI's
// queue (POST /queue {"delete"}). The Manager passes ComfyUI's URL (comfyuiUrl) in AGENT_RESIDENT_URL.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { agent } from 'agentmgr/agent';

const task = agent();
const fail = (message, code = 2) => task.fail(`comfyui: ${message}`, code);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const input = task.input;
const base = (task.residentUrl || 'http://127.0.0.1:8188').replace(/\/+$/, '');
const EXPORT_HINT =
  'export it in the API format: in ComfyUI use Workflow → Export (API) (in older versions turn on "Enable Dev mode Options" in Settings, then use "Save (API)"), and submit that file';

let text;
try {
  text = readFileSync(input.file, 'utf8');
} catch (e) {
  fail(`cannot read ${input.file}: ${e.message}`);
}
let prompt;
try {
  prompt = JSON.parse(text);
} catch (e) {
  fail(`${input.file} is not JSON (${e.message}); a workflow is the .json file ComfyUI exports`);
}
if (prompt && typeof prompt === 'object' && Array.isArray(prompt.nodes) && Array.isArray(prompt.links))
  fail(`${input.file} is a workflow in ComfyUI's UI format (it has "nodes" and "links"), which its API does not run; ${EXPORT_HINT}`);
if (!prompt || typeof prompt !== 'object' || Array.isArray(prompt) || Object.keys(prompt).length === 0)
  fail(`${input.file} is not a ComfyUI workflow in the API format (an object of nodes, each with "class_type" and "inputs"); ${EXPORT_HINT}`);
for (const [id, node] of Object.entries(prompt)) {
  if (!node || typeof node !== 'object' || typeof node.class_type !== 'string' || typeof node.inputs !== 'object')
    fail(`${input.file}: node "${id}" has no "class_type" and "inputs", so this is not the API format; ${EXPORT_HINT}`);
}

async function call(path, init = {}) {
  const res = await fetch(`${base}/${path}`, {
    ...init,
    headers: init.body ? { 'content-type': 'application/json' } : undefined,
    signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
  });
  return res;
}
const getJson = async (path) => {
  const res = await call(path);
  if (!res.ok) throw new Error(`GET /${path}: HTTP ${res.status}`);
  return res.json();
};

const clientId = randomUUID().replace(/-/g, '');
let promptId = null;

// Stopped: interrupt our prompt where it runs, take it off the queue where it waits.
task.onStop(async () => {
  if (promptId) {
    try {
      const q = await getJson('queue');
      const runs = (q.queue_running ?? []).some((item) => item[1] === promptId);
      const waits = (q.queue_pending ?? []).some((item) => item[1] === promptId);
      if (runs) await call('interrupt', { method: 'POST', body: JSON.stringify({ prompt_id: promptId }), timeoutMs: 3000 });
      else if (waits) await call('queue', { method: 'POST', body: JSON.stringify({ delete: [promptId] }), timeoutMs: 3000 });
      process.stderr.write(`comfyui: stopped; ${runs ? 'interrupted the prompt in ComfyUI' : waits ? "took the prompt off ComfyUI's queue" : 'the prompt had ended'}\n`);
    } catch (e) {
      process.stderr.write(`comfyui: stopped, but could not tell ComfyUI (${e.message})\n`);
    }
  }
});

// Progress from the socket, where it can be opened (Node 20 needs --experimental-websocket).
let progress = { p: 0.02, message: 'submitted' };
let socketEnd = null;
function follow() {
  if (typeof WebSocket !== 'function') return;
  let ws;
  try {
    ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?clientId=${clientId}`);
  } catch {
    return;
  }
  ws.onmessage = (m) => {
    if (typeof m.data !== 'string') return; // binary: previews
    let msg;
    try {
      msg = JSON.parse(m.data);
    } catch {
      return;
    }
    const d = msg.data ?? {};
    if (d.prompt_id !== undefined && d.prompt_id !== promptId) return;
    if (msg.type === 'execution_start') progress = { p: 0.05, message: 'started in ComfyUI' };
    else if (msg.type === 'executing' && d.node) progress = { p: progress.p, message: `node ${d.node} (${prompt[d.node]?.class_type ?? '?'})` };
    else if (msg.type === 'progress' && d.max > 0) progress = { p: 0.05 + 0.9 * (d.value / d.max), message: `step ${d.value} of ${d.max} (node ${d.node})` };
    else if (msg.type === 'execution_error') socketEnd = `ComfyUI failed in node ${d.node_id} (${d.node_type}): ${d.exception_message ?? 'an error'}`;
    else if (msg.type === 'execution_interrupted') socketEnd = 'interrupted in ComfyUI';
    else return;
    task.progress(Math.min(0.99, progress.p), progress.message);
  };
  ws.onerror = () => {
    // the history polls still see the end
  };
  return ws;
}

const socket = follow();
let res;
try {
  res = await call('prompt', { method: 'POST', body: JSON.stringify({ prompt, client_id: clientId }) });
} catch (e) {
  fail(`cannot reach ComfyUI at ${base} (${e.cause?.code ?? e.message}): is it running? Its URL is the comfyuiUrl setting`, 1);
}
const answer = await res.json().catch(() => ({}));
if (!res.ok) {
  const err = typeof answer.error === 'string' ? answer.error : answer.error?.message;
  const nodes = Object.entries(answer.node_errors ?? {})
    .map(([id, e]) => `node ${id} (${e.class_type ?? '?'}): ${(e.errors ?? []).map((x) => x.details || x.message).join('; ')}`)
    .join('; ');
  fail(`ComfyUI refused the workflow: ${err ?? `HTTP ${res.status}`}${answer.error?.details ? ` (${answer.error.details})` : ''}${nodes ? `; ${nodes}` : ''}`);
}
promptId = answer.prompt_id;
if (typeof promptId !== 'string') fail(`ComfyUI answered /prompt without a prompt_id: ${JSON.stringify(answer).slice(0, 200)}`, 1);
task.progress(0.02, `queued in ComfyUI as ${promptId}`);

// The end, from the history; while it waits, where it is in ComfyUI's queue.
let entry = null;
let misses = 0;
while (!entry) {
  await sleep(socketEnd ? 50 : 500);
  if (task.stopping) await sleep(60_000);
  try {
    entry = (await getJson(`history/${encodeURIComponent(promptId)}`))[promptId] ?? null;
    misses = 0;
    if (!entry && progress.p < 0.05) {
      const q = await getJson('queue');
      const ahead = (q.queue_pending ?? []).findIndex((item) => item[1] === promptId);
      if (ahead >= 0) task.progress(0.02, `waiting in ComfyUI's queue, ${ahead + (q.queue_running?.length ?? 0)} ahead`);
    }
  } catch (e) {
    if (++misses >= 20) fail(`lost ComfyUI at ${base} while it ran the workflow (${e.message})`, 1);
  }
}
socket?.close();
const status = entry.status ?? {};
if (status.status_str !== 'success') {
  const err = (status.messages ?? []).find(([type]) => type === 'execution_error')?.[1];
  if (err) fail(`ComfyUI failed in node ${err.node_id} (${err.node_type}): ${err.exception_message ?? 'an error'}`, 1);
  fail(socketEnd ?? `ComfyUI ended the workflow without success (${status.status_str ?? 'no status'})`, 1);
}

// Its saved outputs (type "output"; "temp" ones are previews) become artifacts.
const saved = [];
for (const [node, out] of Object.entries(entry.outputs ?? {})) {
  for (const item of [...(out.images ?? []), ...(out.gifs ?? []), ...(out.videos ?? [])]) {
    if (item.type !== 'output' || typeof item.filename !== 'string') continue;
    const q = new URLSearchParams({ filename: item.filename, subfolder: item.subfolder ?? '', type: item.type });
    const r = await call(`view?${q}`, { timeoutMs: 60_000 });
    if (!r.ok) fail(`could not fetch ${item.filename} from ComfyUI: HTTP ${r.status}`, 1);
    let name = basename(item.filename);
    for (let i = 2; existsSync(task.artifactPath(name)); i++) name = `${i}-${basename(item.filename)}`;
    const path = task.artifactPath(name);
    writeFileSync(path, Buffer.from(await r.arrayBuffer()));
    task.artifact(path, name);
    saved.push({ node, name, subfolder: item.subfolder ?? '' });
  }
}
task.result({ promptId, outputs: saved });
task.progress(1, `${saved.length} output${saved.length === 1 ? '' : 's'} saved`);
process.exit(0);
