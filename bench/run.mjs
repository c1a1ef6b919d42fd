// `npm run bench`: runs the benchmarks against the built code and writes bench/results/latest.json
// and docs/benchmarks.md. `--quick` shortens every measurement (a smoke run, not for figures).
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { idleCpu } from './idle-cpu.mjs';
import { uiBench } from './ui.mjs';
import { dispatchBench } from './dispatch.mjs';
import { memoryStartupBench } from './memory-startup.mjs';
import { schedulingBench } from './scheduling.mjs';
import { etaBench } from './eta.mjs';
import { traceBench, traceResults } from './trace.mjs';
import { submitBench } from './submit.mjs';
import { cliStartBench } from './cli-start.mjs';
import { ROOT } from './lib.mjs';

const quick = process.argv.includes('--quick');
// --report: only rewrite docs/benchmarks.md from bench/results/latest.json (no measuring).
const reportOnly = process.argv.includes('--report');
const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, ramMB: Math.round(totalmem() / 1048576), node: process.version };
const results = reportOnly ? JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8')).results : [];
const benches = reportOnly
  ? []
  : [
      ['dispatch', () => dispatchBench({ tasks: quick ? 300 : 2000 })],
      ['submit', () => submitBench({ tasks: quick ? 20_000 : 100_000, singles: quick ? 200 : 1000 })],
      ['scheduling', () => schedulingBench({ quick })],
      ['estimates', () => etaBench({ quick })],
      ['trace', () => traceResults(traceBench())],
      ['memory and start-up', () => memoryStartupBench({ tasks: quick ? 20_000 : 100_000, flow: quick ? 300 : 2000 })],
      ['idle-cpu', () => idleCpu({ seconds: quick ? 5 : 30 })],
      ['cli start', () => cliStartBench({ runs: quick ? 3 : 15 })],
      ['ui', () => uiBench({ tasks: quick ? 10_000 : 100_000, runs: quick ? 2 : 5 })],
    ];
for (const [name, fn] of benches) {
  process.stderr.write(`bench: ${name}…\n`);
  for (const r of [await fn()].flat()) {
    results.push(r);
    process.stderr.write(
      `  ${r.name}: ${r.value} ${r.unit} (baseline ${r.baseline.name}: ${r.baseline.value}; target ${r.target}: ${r.met ? 'met' : 'MISSED'})\n`,
    );
  }
}
const report = reportOnly
  ? JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8'))
  : { at: new Date().toISOString(), quick, machine, results };
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
if (!reportOnly) writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), JSON.stringify(report, null, 2) + '\n');
if (!report.quick) {
  const rows = results.map(
    (r) => `| ${r.name} | ${r.value} ${r.unit} | ${r.baseline.name}: ${r.baseline.value} | ${r.ratio ?? '-'} | ${r.target} | ${r.met ? 'met' : '**missed**'} |`,
  );
  const md = [
    '# Benchmarks',
    '',
    `Measured ${report.at} on ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.ramMB} MB RAM, Node ${report.machine.node}, with \`npm run bench\`.`,
    'Each figure is measured with its baseline in the same run; the ratio is figure / baseline.',
    '',
    '| benchmark | figure | baseline | ratio | target | |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '## How each is measured',
    '',
    ...results.map((r) => `- **${r.name}**: ${r.how}.`),
    '',
    ...results.filter((r) => r.table).map((r) => `<!-- trace -->\n${r.table}<!-- /trace -->\n`),
    readFileSync(join(ROOT, 'bench', 'analysis.md'), 'utf8'),
  ].join('\n');
  writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), md);
}
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
