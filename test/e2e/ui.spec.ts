import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { gpuRow, startServer, UUID, writeSmi, type E2EServer } from './server.js';

const SHOTS = process.env.SCREENSHOT_DIR ?? 'test-results/screenshots';
mkdirSync(SHOTS, { recursive: true });
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
/** Opens a view with the token in the URL, as `agentmgr ui` does (each test has a fresh browser). */
const open = (page: Page, path = '/queue') => page.goto(`${s.url}/#${path}&token=${s.token}`);

let s: E2EServer;
test.beforeAll(async () => {
  s = await startServer();
});
test.afterAll(async () => {
  await s.stop();
});

/** Drops files on the window the way a file manager does (a DataTransfer with File objects). */
async function dropFiles(page: Page, files: { name: string; content: string }[]) {
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([f.content], f.name, { type: 'application/octet-stream' }));
    for (const type of ['dragenter', 'dragover', 'drop']) window.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
}

test('without the token the page says how to get in', async ({ page }) => {
  await page.goto(s.url + '/');
  await expect(page.getByText('This page needs the API token')).toBeVisible();
  await expect(page.getByText('agentmgr ui')).toBeVisible();
});

test('a wrong token shows the sign-in page with where the token is; a new #token= signs in without a reload', async ({ page }) => {
  await page.goto(`${s.url}/#/queue&token=wrong-token`);
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('The API token is wrong or missing; it is in');
  await expect(alert).toContainText(`${s.dir}/data/api-token`);
  await expect(alert).toContainText('agentmgr ui prints a fresh URL');
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  await page.evaluate((t) => (window.location.hash = `#/queue&token=${t}`), s.token);
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Views' })).toBeVisible();
  expect(page.url()).not.toContain('token=');
  // And back: a token that stops being good (a wrong one pasted, a Manager with a new token) signs out.
  await page.evaluate(() => (window.location.hash = '#/queue&token=another-wrong-one'));
  await expect(page.getByRole('alert')).toContainText('The API token is wrong or missing');
  expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
});

test('the token is taken from the URL and removed from the address bar; an empty queue says what to do', async ({ page }) => {
  await page.goto(s.uiUrl);
  await expect(page.getByText('No tasks yet.')).toBeVisible();
  expect(page.url()).not.toContain('token=');
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
  await shot(page, 'empty-queue');
});

test('drop files, confirm, and watch the tasks run to success', async ({ page }) => {
  await page.goto(s.uiUrl);
  await expect(page.getByRole('combobox', { name: 'Filter by agent' })).toContainText('sha256'); // agents loaded
  await dropFiles(page, [
    { name: 'notes.txt', content: 'hello world\n' },
    { name: 'data.bin', content: 'x'.repeat(100_000) },
  ]);
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByRole('heading', { name: 'Run 2 files' })).toBeVisible();
  await expect(dialog.getByLabel('Agent for notes.txt')).toHaveValue('sha256');
  await dialog.getByLabel('Priority').fill('5');
  await shot(page, 'drop-dialog');
  await dialog.getByRole('button', { name: 'Create 2 tasks' }).click();
  await expect(page.getByText('Submitted 2 tasks')).toBeVisible();
  const rows = page.locator('[data-task-id]');
  await expect(rows).toHaveCount(2);
  await expect(page.locator('[data-task-id][data-state="succeeded"]')).toHaveCount(2, { timeout: 20_000 });
  await expect(page.getByText(/succeeded/).first()).toBeVisible();
  const list = JSON.parse((await s.cli(['list', '--json'])).stdout) as { name: string; priority: number; state: string; result: { sha256: string } }[];
  const notes = list.find((t) => t.name === 'notes.txt')!;
  expect(notes).toMatchObject({ priority: 5, state: 'succeeded', result: { sha256: 'a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447' } });
});

test('files no agent takes, folders and empty drops get a clear message', async ({ page }) => {
  await page.goto(s.uiUrl);
  await expect(page.getByRole('combobox', { name: 'Filter by agent' })).toContainText('sha256');
  await page.evaluate(() => {
    const dt = new DataTransfer();
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(page.getByText('Nothing was dropped.')).toBeVisible();
});

test('a waiting task says why it waits, in words', async ({ page }) => {
  writeSmi(s.smi, 'apps.csv', `${UUID}, 4321, /opt/game/game.exe, 6000\n`);
  writeSmi(s.smi, 'gpus.csv', gpuRow(6900));
  // Until the Manager has seen the game (else the task could start before it).
  const foreignMB = async () => {
    const r = await fetch(`${s.url}/trpc/resources`, { headers: { Authorization: `Bearer ${s.token}` } });
    return ((await r.json()) as { result: { data: { json: { gpus: { foreignMB: number }[] } } } }).result.data.json.gpus[0]?.foreignMB;
  };
  await expect.poll(foreignMB, { timeout: 15_000 }).toBe(6900);
  const r = JSON.parse((await s.cli(['submit', 'demo', '--input', '{"seconds":1,"vramMB":3000}', '--json'])).stdout) as { id: number };
  await page.goto(s.uiUrl);
  const row = page.locator(`[data-task-id="${r.id}"]`);
  await expect(row).toContainText(/needs 3000 MB VRAM on GPU 0, \d+ MB free of 8188 MB: 6900 MB held by other programs \(game.exe 6000 MB\)/);
  await shot(page, 'queue-waiting');
  await open(page, `/task/${r.id}`);
  await expect(page.getByRole('status').filter({ hasText: 'Waiting: needs 3000 MB VRAM' })).toBeVisible();
  // The game quits: the task starts and succeeds, live.
  writeSmi(s.smi, 'apps.csv', '');
  writeSmi(s.smi, 'gpus.csv', gpuRow(900));
  await expect(page.locator('.detail-head .badge')).toHaveText('succeeded', { timeout: 15_000 });
});

test('open a task, follow its log live, and cancel it', async ({ page }) => {
  const r = JSON.parse((await s.cli(['submit', 'slow', '--input', '{"seconds":30}', '--json'])).stdout) as { id: number };
  await open(page, `/task/${r.id}`);
  await expect(page.locator('.detail-head .badge')).toHaveText('running');
  await expect(page.getByLabel('Task log')).toContainText('attempt 1 started');
  await expect(page.locator('.detail-progress')).toContainText(/tick \d+/);
  await shot(page, 'task-detail');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.locator('.detail-head .badge')).toHaveText('cancelled', { timeout: 10_000 });
  await expect(page.getByLabel('Task log')).toContainText('cancel requested: SIGTERM to the process group');
  await expect(page.getByRole('button', { name: 'Retry' })).toBeVisible();
});

test('artifacts: inline previews of an image, text and a sound, downloads named after the file, and the gallery', async ({ page }) => {
  const r = JSON.parse((await s.cli(['submit', 'media', '--json'])).stdout) as { id: number };
  await open(page, `/task/${r.id}`);
  await expect(page.locator('.detail-head .badge')).toHaveText('succeeded', { timeout: 15_000 });
  const image = page.getByRole('img', { name: 'Preview of picture.png' });
  await expect(image).toBeVisible();
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(4); // decoded, not a broken image
  await expect(page.getByLabel('Preview of notes.txt')).toContainText('first line of the notes');
  const audio = page.getByLabel('Play tone.wav');
  await expect(audio).toBeAttached();
  await expect.poll(() => audio.evaluate((a: HTMLAudioElement) => a.readyState)).toBeGreaterThan(0); // its metadata loaded
  await expect(page.getByText('Weights')).toBeVisible(); // a binary file: listed, no preview
  await expect(page.locator('.artifacts li').nth(3).locator('img, pre, audio')).toHaveCount(0);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('.artifacts li').filter({ hasText: 'Rendered image' }).getByRole('button', { name: 'Download' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('picture.png');
  await shot(page, 'artifact-previews');

  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Gallery' }).click();
  const card = page.getByRole('listitem', { name: `Rendered image from task ${r.id}` });
  await expect(card.getByRole('img', { name: 'Preview of picture.png' })).toBeVisible();
  await expect(page.getByRole('listitem', { name: `Notes from task ${r.id}` })).toContainText('first line of the notes');
  await page.getByLabel('Show outputs of kind').selectOption('image');
  await expect(page.getByRole('listitem', { name: `Notes from task ${r.id}` })).toHaveCount(0);
  await expect(card).toBeVisible();
  await shot(page, 'gallery');
  await card.getByRole('link', { name: 'Rendered image' }).click();
  await expect(page.getByRole('region', { name: `Task ${r.id}` })).toBeVisible();
});

test('the resource charts update live', async ({ page }) => {
  await open(page, '/resources');
  const chart = page.getByRole('img', { name: 'CPU load chart' });
  await expect(chart).toBeVisible();
  const before = Number(await chart.getAttribute('data-points'));
  await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(before);
  await expect(page.getByRole('img', { name: /GPU 0 VRAM \(NVIDIA GeForce RTX 4060\) chart/ })).toBeVisible();
  // CPU and RAM, like VRAM, show ours against other programs.
  for (const title of ['CPU load', 'Memory']) await expect(page.locator('figure').filter({ hasText: title })).toContainText(/our tasks[\s\S]*other programs/);
  await shot(page, 'resources');
});

test('agents: declared resources and a form generated from the input schema', async ({ page }) => {
  await open(page, '/agents/demo');
  await expect(page.getByRole('heading', { name: 'Demo' })).toBeVisible();
  await page.getByLabel('seconds').fill('-3');
  await page.getByRole('button', { name: 'Submit task' }).click();
  await expect(page.getByText('Must be at least 0')).toBeVisible();
  await page.getByLabel('seconds').fill('0.2');
  await page.getByRole('button', { name: 'Submit task' }).click();
  await expect(page.getByText(/Submitted task #\d+/)).toBeVisible();
  await shot(page, 'agents');
});

test('settings are validated, applied live and kept', async ({ page }) => {
  await open(page, '/settings');
  const field = page.getByLabel('Max tasks at once');
  await expect(field).toHaveValue('4');
  const reserve = page.getByLabel('Keep resources for a waiting task after (s)');
  await expect(reserve).toHaveValue('60');
  await field.fill('0');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText(/Too small/)).toBeVisible();
  await field.fill('3');
  await reserve.fill('120');
  // GPU limits: blank is no limit; out of range says the range.
  const util = page.getByLabel('GPU utilisation limit (%)');
  await expect(util).toHaveValue('');
  await util.fill('101');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('maxUtilPct must be 1–100 (%)')).toBeVisible();
  await util.fill('90');
  // The Slurm cluster's settings: a relative shared folder says what to give.
  const shared = page.getByLabel('Slurm: shared folder');
  await expect(shared).toHaveValue('');
  await expect(page.getByLabel('Slurm: send tasks to the cluster')).not.toBeChecked();
  await shared.fill('shared/runs');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('slurmSharedDir must be an absolute path (or empty)')).toBeVisible();
  await shared.fill('');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('Settings saved and applied')).toBeVisible();
  const st = JSON.parse((await s.cli(['status', '--json'])).stdout) as { queue: { maxConcurrency: number } };
  expect(st.queue.maxConcurrency).toBe(3);
  expect(JSON.parse((await s.cli(['settings', '--json'])).stdout)).toMatchObject({
    maxConcurrency: 3,
    reserveAfterSec: 120,
    gpuMaxUtilPct: 90,
    slurmEnabled: false,
    slurmSharedDir: '',
  });
  // Projects: added, weight and quota set here, refused when out of range, and the same for the CLI.
  await page.getByLabel('New project').fill('batch');
  await page.getByRole('button', { name: 'Add' }).click();
  const row = page.getByRole('row', { name: 'project batch' });
  await expect(row).toBeVisible();
  await page.getByLabel('batch Weight').fill('0');
  await row.getByRole('button', { name: 'Save project batch' }).click();
  await expect(row.getByRole('alert')).toHaveText(/weight must be more than 0/);
  await page.getByLabel('batch Weight').fill('2');
  await page.getByLabel('batch Max running').fill('4');
  await row.getByRole('button', { name: 'Save project batch' }).click();
  // Adding the project said "saved" too: that toast may still be up beside this one.
  await expect(page.getByText('Project batch saved').last()).toBeVisible();
  await expect
    .poll(async () =>
      (JSON.parse((await s.cli(['project', 'list', '--json'])).stdout) as { name: string; weight: number; maxRunning: number | null }[]).find(
        (p) => p.name === 'batch',
      ),
    )
    .toMatchObject({ weight: 2, maxRunning: 4 });
  await shot(page, 'settings');
});

test('API errors are readable sentences, and pause/resume works from the header', async ({ page }) => {
  await page.goto(s.uiUrl);
  await page.getByRole('button', { name: 'Pause queue' }).click();
  await expect(page.getByRole('button', { name: 'Resume queue' })).toBeVisible();
  expect(JSON.parse((await s.cli(['status', '--json'])).stdout).queue.paused).toBe(true);
  await page.getByRole('button', { name: 'Resume queue' }).click();
  await expect(page.getByRole('button', { name: 'Pause queue' })).toBeVisible();
});

test('the UI shows a lost connection and reconnects by itself', async ({ page }) => {
  await page.goto(s.uiUrl);
  await expect(page.getByText('Connected', { exact: true })).toBeVisible();
  await s.restart(1500);
  await expect(page.getByText('Connected', { exact: true })).toBeVisible({ timeout: 15_000 });
  // Live again: a task submitted now shows up without a reload.
  const r = JSON.parse((await s.cli(['submit', 'ok', '--name', 'after-reconnect', '--json'])).stdout) as { id: number };
  await expect(page.locator(`[data-task-id="${r.id}"]`)).toBeVisible();
});

test('while the Manager is down the page says the connection is lost', async ({ page }) => {
  await page.goto(s.uiUrl);
  await expect(page.getByText('Connected', { exact: true })).toBeVisible();
  const restarting = s.restart(4000);
  await expect(page.getByText('Connection lost: reconnecting…')).toBeVisible({ timeout: 4000 });
  await shot(page, 'connection-lost');
  await restarting;
  await expect(page.getByText('Connected', { exact: true })).toBeVisible({ timeout: 15_000 });
});

test('dark theme follows the system', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(s.uiUrl);
  await expect(page.locator('[data-task-id]').first()).toBeVisible();
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe('rgb(17, 19, 23)');
  await shot(page, 'queue-dark');
});

test('an array is one group row: counts by state, combined progress, expandable to its tasks', async ({ page }) => {
  const gate = join(s.dir, 'end-array-ui');
  const made = JSON.parse((await s.cli(['submit', 'slow', '--array', '0-3%2', '--input', JSON.stringify({ untilFile: gate }), '--json'])).stdout) as {
    id: number;
    arrayId: number;
  }[];
  const arrayId = made[0]!.arrayId;
  await open(page, '/queue');
  const group = page.locator(`[data-array-id="${arrayId}"]`);
  await expect(group).toBeVisible();
  await expect(page.getByTestId(`array-${arrayId}-counts`)).toHaveText(/2 running · 2 queued|2 queued · 2 running/, { timeout: 20_000 });
  await expect(group).toContainText('at most 2 at once');
  await expect(group).toContainText('4 tasks');
  // one row for the array, not one per task
  for (const m of made) await expect(page.locator(`.row[data-task-id="${m.id}"]`)).toHaveCount(0);
  await group.getByRole('button', { name: `Expand array ${arrayId}` }).click();
  const members = page.getByRole('rowgroup', { name: `Tasks of array ${arrayId}` });
  await expect(members.locator('[data-task-id]')).toHaveCount(4);
  await expect(members).toContainText('[3]');
  await shot(page, 'array-group');
  writeFileSync(gate, '');
  await expect(page.getByTestId(`array-${arrayId}-counts`)).toHaveText('4 succeeded', { timeout: 30_000 });
  await expect(group.getByRole('progressbar', { name: `Array ${arrayId} progress` })).toHaveAttribute('aria-valuenow', '100');
  // the array's own view lists its tasks one by one
  await group.getByRole('link', { name: `Array #${arrayId}` }).click();
  await expect(page.getByText(`Array #${arrayId} ✕`)).toBeVisible();
  await expect(page.locator('.row[data-task-id]')).toHaveCount(4);
});

test('drag a queued row to reorder the queue; Move to top and bottom on the task page', async ({ page }) => {
  await s.cli(['pause']);
  try {
    const made = JSON.parse((await s.cli(['submit', '--batch', '-', '--json'], '{"agent":"ok","priority":900}\n'.repeat(3))).stdout) as { id: number }[];
    const [a, b, c] = made.map((m) => m.id) as [number, number, number];
    await open(page, '/queue');
    await page.getByRole('combobox', { name: 'Sort' }).selectOption('priority');
    const row = (id: number) => page.locator(`.row[data-task-id="${id}"]`);
    const order = async () =>
      (await page.locator('.row[data-task-id]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-task-id'))))).filter((id) =>
        made.some((m) => m.id === id),
      );
    await expect.poll(order).toEqual([a, b, c]);
    await row(c).dragTo(row(a));
    await expect(page.getByText(`Task ${c} moved before task ${a} (priority 900)`)).toBeVisible();
    await expect.poll(order).toEqual([c, a, b]);
    await shot(page, 'queue-reordered');
    // the Manager agrees: its queue order is the list's
    const listed = JSON.parse((await s.cli(['list', '--state', 'queued', '--json'])).stdout) as { id: number; seq: number }[];
    const mine = listed.filter((t) => made.some((m) => m.id === t.id)).sort((x, y) => x.seq - y.seq);
    expect(mine.map((t) => t.id)).toEqual([c, a, b]);
    await open(page, `/task/${b}`);
    await page.getByRole('button', { name: 'Move to top' }).click();
    await expect(page.getByText(`Task ${b} moved to the top of its priority`)).toBeVisible();
    await open(page, '/queue');
    await page.getByRole('combobox', { name: 'Sort' }).selectOption('priority');
    await expect.poll(order).toEqual([b, c, a]);
    for (const m of made) await s.cli(['cancel', String(m.id)]);
  } finally {
    await s.cli(['resume']);
  }
});

test('residents, game mode and focus mode: set in Settings (checked as typed), shown in Resources, the header and a banner', async ({ page }) => {
  // A fake Ollama beside the Manager, its own fake nvidia-smi folder apart (its VRAM is what it reports).
  const fakeSmi = join(s.dir, 'fake-ollama-smi');
  mkdirSync(fakeSmi, { recursive: true });
  const fake = spawn(
    process.execPath,
    [fileURLToPath(new URL('../fixtures/residents/fake-resident.mjs', import.meta.url)), 'ollama', '--smi-dir', fakeSmi, '--models', 'llama3.1:8b=5600'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const { port } = JSON.parse(await new Promise<string>((r) => fake.stdout!.once('data', (d: Buffer) => r(d.toString())))) as { port: number };
    await open(page, '/settings');
    // The form is filled from the Manager's settings once they come: type only after that.
    await expect(page.getByLabel('Game and focus mode: hold GPU tasks below priority')).not.toHaveValue('');
    const url = page.getByLabel('Ollama URL');
    await url.fill('http://10.0.0.2:11434');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByText(/ollamaUrl http:\/\/10\.0\.0\.2:11434 is not on this machine/)).toBeVisible();
    await url.fill(`http://127.0.0.1:${port}`);
    const programs = page.getByLabel('Game mode: programs');
    await programs.fill('my game');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByText(/program patterns are names with \* and \?/)).toBeVisible();
    await programs.fill('steam_app_*, *.exe');
    await page.getByLabel('Game and focus mode: hold GPU tasks below priority').fill('5');
    await page.getByLabel('Game mode: free the GPU when a game starts').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByText('Settings saved and applied')).toBeVisible();
    expect(JSON.parse((await s.cli(['settings', '--json'])).stdout)).toMatchObject({
      ollamaUrl: `http://127.0.0.1:${port}`,
      gameModePrograms: 'steam_app_*, *.exe',
      gameModeBelowPriority: 5,
      gameModeFreeVram: true,
    });
    // Resources names what Ollama holds.
    await page.getByRole('link', { name: 'Resources' }).click();
    await expect(page.getByRole('list', { name: 'AI servers beside us' })).toContainText('Ollama llama3.1:8b 5600 MB');
    // Focus mode from the header: a banner says what holds, and ends it.
    await page.getByRole('button', { name: 'Focus mode', exact: true }).click();
    const banner = page.getByRole('status').filter({ hasText: 'GPU left to you' });
    await expect(banner).toContainText('GPU left to you: focus mode (GPU tasks below priority 5 wait; agentmgr focus off ends it)');
    await expect(page.getByRole('button', { name: 'Focus mode', exact: true })).toHaveAttribute('aria-pressed', 'true');
    expect((await s.cli(['focus'])).stdout).toMatch(/^held: focus mode/);
    await shot(page, 'focus-mode');
    await banner.getByRole('button', { name: 'End focus mode' }).click();
    await expect(banner).toHaveCount(0);
    expect((await s.cli(['focus'])).stdout.trim()).toBe('nothing holds GPU work: GPU tasks start as they fit');
  } finally {
    fake.kill('SIGKILL');
    await s.cli(['settings', 'ollamaUrl=off', 'gameModePrograms=off', 'gameModeBelowPriority=10', 'gameModeFreeVram=false']);
  }
});

test('the upload button, Escape, a warning for empty files, and a fresh priority for each drop', async ({ page }) => {
  await page.goto(s.uiUrl);
  await expect(page.getByRole('combobox', { name: 'Filter by agent' })).toContainText('sha256'); // agents loaded
  await page.getByLabel('Upload files').setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') },
    { name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) },
  ]);
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByRole('heading', { name: 'Run 2 files' })).toBeVisible();
  await expect(dialog).toContainText('empty.txt is empty (0 bytes): an agent may have nothing to work on.');
  await dialog.getByLabel('Priority').fill('7');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await dropFiles(page, [{ name: 'other.txt', content: 'x' }]);
  await expect(dialog.getByRole('heading', { name: 'Run 1 file' })).toBeVisible();
  await expect(dialog.getByLabel('Priority')).toHaveValue('0'); // not the 7 of the drop before
  await dialog.getByRole('button', { name: 'Create 1 task' }).click();
  await expect(page.getByText('Submitted 1 task')).toBeVisible();
});

test('the queue: keyboard focus at load, / to search, sorting by a column header, a row menu, Clear finished, the paused reason', async ({ page }) => {
  const id = (r: { stdout: string }) => (JSON.parse(r.stdout) as { id: number }).id;
  const sub = async (agent: string, ...more: string[]) => id(await s.cli(['submit', agent, '--name', `sortme-${agent}`, ...more, '--json']));
  // Submitted Z to A, so newest first and A to Z differ.
  const others = [await sub('fail', '--retries', '0'), await sub('media')];
  const done = await sub('ok');
  for (const t of [done, ...others]) await s.cli(['wait', String(t)]);
  await page.goto(s.uiUrl);
  await expect(page.locator('[data-index="0"]')).toBeFocused();
  await page.keyboard.press('/');
  const search = page.getByRole('searchbox', { name: 'Search tasks by id or name' });
  await expect(search).toBeFocused();
  await search.fill('sortme');

  // Sorting by a header: Agent is A to Z, ID again newest first.
  const agentsShown = () => page.locator('[data-task-id] .c-agent').allTextContents();
  const aToZ = ['fail sortme-fail', 'media sortme-media', 'ok sortme-ok'];
  await expect.poll(agentsShown).toEqual([...aToZ].reverse());
  await page.getByRole('columnheader', { name: 'Agent' }).getByRole('button').click();
  await expect(page.getByRole('columnheader', { name: 'Agent' })).toHaveAttribute('aria-sort', 'ascending');
  await expect(page.getByRole('combobox', { name: 'Sort' })).toHaveValue('agent');
  await expect.poll(agentsShown).toEqual(aToZ);
  await page.getByRole('columnheader', { name: 'ID' }).getByRole('button').click();
  await expect(page.getByRole('columnheader', { name: 'ID' })).toHaveAttribute('aria-sort', 'descending');
  await expect.poll(agentsShown).toEqual([...aToZ].reverse());

  // The row menu: what can be done to this task now.
  const row = page.locator(`[data-task-id="${done}"]`);
  await row.click({ button: 'right' });
  const menu = page.getByRole('menu', { name: `Task ${done}` });
  await expect(menu.getByRole('menuitem')).toHaveText(['Open', 'Retry', 'Copy ID', 'Remove']);
  await expect(menu.getByRole('menuitem', { name: 'Open' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(menu).toHaveCount(0);
  await row.click({ button: 'right' });
  await menu.getByRole('menuitem', { name: 'Remove' }).click();
  await expect(page.getByText(`Task ${done} removed, with its log and artifacts`)).toBeVisible();
  await expect(row).toHaveCount(0);
  await search.fill('');

  // Paused: the reason a task waits keeps what else it waits for.
  await page.getByRole('button', { name: 'Pause queue' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'The queue is paused' })).toBeVisible();
  const big = id(await s.cli(['submit', 'demo', '--input', '{"seconds":1,"vramMB":7500}', '--json']));
  await expect(page.locator(`[data-task-id="${big}"]`)).toContainText(/the queue is paused; also: needs 7500 MB VRAM on GPU 0/);
  await page.getByRole('button', { name: 'Resume queue' }).click();
  await s.cli(['cancel', String(big)]);

  // Clear finished removes every ended task, after asking.
  await expect(page.locator('[data-task-id][data-state="cancelled"]').first()).toBeVisible();
  await page.getByRole('button', { name: 'Clear finished' }).click();
  await page.getByRole('group', { name: 'Clear finished' }).getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByText(/Removed \d+ ended tasks?, with their logs and artifacts/)).toBeVisible();
  for (const state of ['succeeded', 'failed', 'cancelled']) await expect(page.locator(`[data-task-id][data-state="${state}"]`)).toHaveCount(0);
  expect(JSON.parse((await s.cli(['list', '--state', 'succeeded', '--json'])).stdout)).toEqual([]);
});
