// The ollama agent: one prompt or chat to a model Ollama serves, streamed (POST /api/chat, NDJSON),
// with progress as the answer comes; the answer is the result and answer.md an artifact. The
// Manager passes Ollama's URL (Settings: ollamaUrl) in AGENT_RESIDENT_URL. Cancelled or
// preempted (SIGTERM): the request is dropped, which makes Ollama stop generating.
import { readFileSync, writeFileSync } from 'node:fs';
import { agent } from 'agentmgr/agent';

const task = agent();
const fail = (message, code = 2) => task.fail(`ollama: ${message}`, code);
const input = task.input;
const base = (task.residentUrl || 'http://127.0.0.1:11434').replace(/\/+$/, '');

const given = ['prompt', 'messages', 'file'].filter((k) => input[k] !== undefined);
if (given.length !== 1) fail(`give exactly one of "prompt", "messages" or "file" (got ${given.length ? given.join(', ') : 'none'})`);
let messages = input.messages;
if (input.prompt !== undefined) messages = [{ role: 'user', content: input.prompt }];
if (input.file !== undefined) {
  let text;
  try {
    text = readFileSync(input.file, 'utf8');
  } catch (e) {
    fail(`cannot read ${input.file}: ${e.message}`);
  }
  if (!text.trim()) fail(`${input.file} is empty: there is nothing to ask`);
  messages = [{ role: 'user', content: text }];
}
if (input.system) messages = [{ role: 'system', content: input.system }, ...messages];

// Stopped (cancel, preemption): the request is dropped, which makes Ollama stop generating.
task.onStop(() => process.stderr.write('ollama: stopped; the request to Ollama was dropped\n'));

const body = { model: input.model, messages, stream: true };
if (input.options) body.options = input.options;
if (input.keepAlive !== undefined) body.keep_alive = input.keepAlive;
const wanted = typeof input.options?.num_predict === 'number' && input.options.num_predict > 0 ? input.options.num_predict : null;

task.progress(0, `asking ${input.model} at ${base}`);
let res;
try {
  res = await fetch(`${base}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: task.signal });
} catch (e) {
  if (task.stopping) await new Promise(() => {}); // the stop handler ends the attempt
  fail(`cannot reach Ollama at ${base} (${e.cause?.code ?? e.message}): is it running? Its URL is the ollamaUrl setting`, 1);
}
if (!res.ok) {
  let why = `HTTP ${res.status}`;
  try {
    why = (await res.json()).error ?? why;
  } catch {
    // not JSON: the status says it
  }
  if (res.status === 404) fail(`${why} (pull it with \`ollama pull ${input.model}\`)`);
  fail(`Ollama refused the request: ${why}`, res.status >= 500 ? 1 : 2);
}

let answer = '';
let tokens = 0;
let last = null;
let lastSaid = 0;
let buffered = '';
const decoder = new TextDecoder();
try {
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      let part;
      try {
        part = JSON.parse(line);
      } catch {
        fail(`Ollama sent a line that is not JSON: ${line.slice(0, 200)}`, 1);
      }
      if (part.error) fail(`Ollama stopped with an error: ${part.error}`, 1);
      if (part.message?.content) {
        answer += part.message.content;
        tokens += 1;
      }
      if (part.done) last = part;
      else if (Date.now() - lastSaid > 250) {
        lastSaid = Date.now();
        const p = wanted ? Math.min(0.99, tokens / wanted) : Math.min(0.95, 0.05 + tokens / 2000);
        task.progress(p, `${tokens} tokens so far`);
      }
    }
  }
} catch (e) {
  if (task.stopping) await new Promise(() => {}); // the stop handler ends the attempt
  fail(`the answer from Ollama broke off: ${e.message}`, 1);
}
if (!last) fail('Ollama ended the answer without saying it was done', 1);

writeFileSync(task.artifactPath('answer.md'), answer.endsWith('\n') ? answer : answer + '\n');
task.artifact('answer.md', 'answer.md');
const ms = (ns) => (typeof ns === 'number' ? Math.round(ns / 1e6) : null);
task.result({
  model: last.model ?? input.model,
  answer,
  doneReason: last.done_reason ?? null,
  promptTokens: last.prompt_eval_count ?? null,
  answerTokens: last.eval_count ?? tokens,
  totalMs: ms(last.total_duration),
  loadMs: ms(last.load_duration),
});
task.progress(1, `${last.eval_count ?? tokens} tokens`);
