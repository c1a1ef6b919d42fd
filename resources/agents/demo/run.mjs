// The demo agent: reads its input, ticks progress, reports a result.
import { agent } from 'agentmgr/agent';

const task = agent();
const { seconds = 5, steps = 10, fail = false } = task.input;
const gpu = task.gpus.join(',');

console.log(`demo: ${seconds} s in ${steps} steps, GPU "${gpu}"`);
for (let i = 1; i <= steps; i++) {
  await new Promise((r) => setTimeout(r, (seconds * 1000) / steps));
  task.progress(i / steps, `step ${i} of ${steps}`);
}
if (fail) task.fail('demo: failing on purpose (input.fail)');
task.result({ seconds, steps, gpu });
