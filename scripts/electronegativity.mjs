// Runs Electronegativity over the Electron sources and over the build, and fails on any finding
// that docs/electronegativity.md does not explain. Explained findings are listed in
// scripts/electronegativity-explained.json as "CHECK file" keys (file: the base name).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const explained = JSON.parse(readFileSync(join(root, 'scripts', 'electronegativity-explained.json'), 'utf8'));
const bin = join(root, 'node_modules', '.bin', 'electronegativity');
const electron = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;

// The sources as one application (main, preload, renderer page), and the build.
const src = mkdtempSync(join(tmpdir(), 'electronegativity-src-'));
for (const d of ['src-main', 'src-preload']) cpSync(join(root, d), join(src, d), { recursive: true });
cpSync(join(root, 'src-renderer', 'index.html'), join(src, 'index.html'));
const targets = [
  ['sources', src],
  ['build', join(root, 'out')],
];

/**
 * The findings of a SARIF report. (Its CSV report is written by two racing asynchronous writes,
 * the header truncating the file while the rows are appended, so it is sometimes garbled.)
 */
function parseSarif(text) {
  const report = JSON.parse(text);
  return (report.runs?.[0]?.results ?? []).map((r) => {
    const loc = r.locations?.[0]?.physicalLocation;
    const uri = loc?.artifactLocation?.uri ?? 'N/A';
    return {
      check: r.ruleId,
      severity: r.level,
      file: uri === 'file:///' ? 'N/A' : uri,
      location: `${loc?.region?.startLine ?? 0}:${(loc?.region?.startColumn ?? 1) - 1}`,
      sample: r.message?.text ?? '',
    };
  });
}

let unexplained = 0;
for (const [name, dir] of targets) {
  const out = join(tmpdir(), `electronegativity-${name}-${process.pid}.sarif`);
  // Electronegativity fetches translations and Electron's release list from the internet. Where
  // possible it runs in a network namespace of its own with no network (it then uses what it
  // ships), so a test run never reaches outside this machine.
  const offline = spawnSync('unshare', ['-n', 'true']).status === 0;
  const r = offline
    ? spawnSync('unshare', ['-n', bin, '-i', dir, '-o', out, '-e', electron], { encoding: 'utf8' })
    : spawnSync(bin, ['-i', dir, '-o', out, '-e', electron], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    throw new Error(`electronegativity failed on the ${name}`);
  }
  const findings = parseSarif(readFileSync(out, 'utf8'));
  rmSync(out, { force: true });
  for (const f of findings) {
    const key = `${f.check} ${f.file === 'N/A' ? 'N/A' : basename(f.file)}`;
    if (explained[key]) console.log(`explained  ${name}: ${key} (${f.location}): ${explained[key]}`);
    else {
      unexplained++;
      console.error(`UNEXPLAINED ${name}: ${key} at ${f.location} [${f.severity}]: ${f.sample}`);
    }
  }
}
rmSync(src, { recursive: true, force: true });
if (unexplained > 0) {
  console.error(`${unexplained} Electronegativity finding(s) are not explained in docs/electronegativity.md`);
  process.exit(1);
}
console.log('Electronegativity: every finding is explained (docs/electronegativity.md)');
