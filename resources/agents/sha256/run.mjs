// The sha256 agent: hashes input.file with progress, writes <name>.sha256 as an artifact.
import { createHash } from 'node:crypto';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { agent } from 'agentmgr/agent';

const task = agent();
const { file } = task.input;
let size;
try {
  size = statSync(file).size;
} catch (e) {
  task.fail(`sha256: cannot read ${file}: ${e.message}`, 2);
}
const hash = createHash('sha256');
let done = 0;
let last = 0;
for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
  hash.update(chunk);
  done += chunk.length;
  const p = size ? done / size : 1;
  if (p - last >= 0.05 || done === size) {
    task.progress(p, `${done} of ${size} bytes`);
    last = p;
  }
}
const digest = hash.digest('hex');
const out = basename(file) + '.sha256';
writeFileSync(task.artifactPath(out), `${digest}  ${basename(file)}\n`);
task.artifact(out, out);
task.result({ file, bytes: size, sha256: digest });
