// The sha256 agent: hashes input.file with progress, writes <name>.sha256 as an artifact.
import { createHash } from 'node:crypto';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const { file } = JSON.parse((await import('node:fs')).readFileSync(process.env.AGENT_INPUT_PATH, 'utf8'));
let size;
try {
  size = statSync(file).size;
} catch (e) {
  console.error(`sha256: cannot read ${file}: ${e.message}`);
  process.exit(2);
}
const hash = createHash('sha256');
let done = 0;
let last = 0;
for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
  hash.update(chunk);
  done += chunk.length;
  const p = size ? done / size : 1;
  if (p - last >= 0.05 || done === size) {
    say({ type: 'progress', progress: p, message: `${done} of ${size} bytes` });
    last = p;
  }
}
const digest = hash.digest('hex');
const out = join(process.env.AGENT_ARTIFACTS_DIR, basename(file) + '.sha256');
writeFileSync(out, `${digest}  ${basename(file)}\n`);
say({ type: 'artifact', path: out, name: basename(out) });
say({ type: 'result', data: { file, bytes: size, sha256: digest } });
