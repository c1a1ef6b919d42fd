// The demo agent: reads its input, ticks progress, reports a result.
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(process.env.AGENT_INPUT_PATH, 'utf8'));
const seconds = input.seconds ?? 5;
const steps = input.steps ?? 10;
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

console.log(`demo: ${seconds} s in ${steps} steps, GPU "${process.env.CUDA_VISIBLE_DEVICES ?? ''}"`);
for (let i = 1; i <= steps; i++) {
  await new Promise((r) => setTimeout(r, (seconds * 1000) / steps));
  say({ type: 'progress', progress: i / steps, message: `step ${i} of ${steps}` });
}
if (input.fail) {
  console.error('demo: failing on purpose (input.fail)');
  process.exit(1);
}
say({ type: 'result', data: { seconds, steps, gpu: process.env.CUDA_VISIBLE_DEVICES ?? '' } });
